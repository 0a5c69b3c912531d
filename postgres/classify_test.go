package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"lift"
)

// TestClassify: a database that cannot be reached, or whose connection
// breaks mid-statement, is Unavailable (503), not an internal error;
// PostgreSQL's own refusals keep their kinds.
func TestClassify(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want lift.Kind
	}{
		{"connection lost mid-statement", fmt.Errorf("SaveDecision: %w", io.ErrUnexpectedEOF), lift.Unavailable},
		{"EOF", fmt.Errorf("read: %w", io.EOF), lift.Unavailable},
		{"closed connection", fmt.Errorf("write: %w", net.ErrClosed), lift.Unavailable},
		{"a connection pgx closed", fmt.Errorf("commit: %w", pgconn.ErrConnClosed), lift.Unavailable},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, lift.Unavailable},
		{"server shutting down", &pgconn.PgError{Code: "57P01"}, lift.Unavailable},
		{"NUL in text", &pgconn.PgError{Code: "22021"}, lift.Invalid},
		{"other SQL error", &pgconn.PgError{Code: "42601"}, lift.Internal},
		{"a bug", errors.New("boom"), lift.Internal},
		{"already classified", lift.Errorf(lift.NotFound, "x"), lift.NotFound},
		{"canceled by the caller", context.Canceled, lift.Internal},
		{"canceled, as pgconn wraps it", fmt.Errorf("begin: %w", &net.OpError{Op: "read", Err: context.Canceled}), lift.Internal},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), lift.Internal},
	} {
		got := classify(tt.err)
		if lift.KindOf(got) != tt.want {
			t.Errorf("%s: %v", tt.name, lift.KindOf(got))
		}
		// An unreachable database is marked as such, so that the HTTP
		// layer tells clients that much and not the driver's text.
		if _, down := errors.AsType[*lift.DatabaseDown](got); down != (tt.want == lift.Unavailable) {
			t.Errorf("%s: marked as the database being down: %v", tt.name, down)
		}
	}
}

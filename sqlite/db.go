// Package sqlite stores Lift's state in an embedded SQLite database (pure
// Go driver, WAL mode) with embedded migrations.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"lift"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is an open Lift database. Writes go through one connection (SQLite
// has one writer at a time; queuing in Go is cheaper than busy-waiting in
// SQLite), reads through a small pool that WAL lets run beside the writer.
type DB struct {
	Path string
	// Now is the clock; tests replace it.
	Now func() time.Time

	write *sql.DB
	read  *sql.DB

	writes     chan *writeReq
	closed     chan struct{}
	writerDone chan struct{}
	closeOnce  sync.Once
}

// Open opens (creating if needed) the database file at path and migrates
// it to the newest schema.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, lift.Errorf(lift.Invalid, "sqlite: empty database path")
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
	}
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	dsn := "file:" + path + "?" + q.Encode()
	w, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	db := &DB{Path: path, Now: time.Now, write: w, read: r,
		writes: make(chan *writeReq), closed: make(chan struct{}), writerDone: make(chan struct{})}
	go db.writer()
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the database; WAL content is checkpointed by SQLite.
func (db *DB) Close() error {
	db.closeOnce.Do(func() { close(db.closed) })
	<-db.writerDone
	rerr := db.read.Close()
	if err := db.write.Close(); err != nil {
		return err
	}
	return rerr
}

// Ping checks that the database answers (for /readyz).
func (db *DB) Ping(ctx context.Context) error { return db.read.PingContext(ctx) }

// Migrate applies every embedded migration not yet applied, each in its
// own transaction, in file-name order.
func (db *DB) Migrate(ctx context.Context) (err error) {
	defer lift.Wrap(&err, "sqlite.Migrate")
	if _, err := db.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		if err := db.tx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE name = ?`, base).Scan(&n); err != nil || n > 0 {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("%s: %w", base, err)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(name, applied_at) VALUES (?, ?)`, base, db.now())
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// tx runs f in a write transaction and returns once it is committed
// (or rolled back when f fails). Concurrent calls are group-committed:
// the writer goroutine runs up to maxBatch of them in one transaction,
// each inside its own savepoint so that one failing call rolls back
// alone. One commit then makes a whole batch durable, which is what lets
// decisions, rewards and predictions be written at thousands per second.
func (db *DB) tx(ctx context.Context, f func(*sql.Tx) error) error {
	req := &writeReq{ctx: ctx, f: f, done: make(chan error, 1)}
	select {
	case db.writes <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-db.closed:
		return lift.Errorf(lift.Unavailable, "sqlite: database is closed")
	}
	return <-req.done
}

type writeReq struct {
	ctx  context.Context
	f    func(*sql.Tx) error
	done chan error
}

// maxBatch bounds a group commit.
const maxBatch = 256

// writer owns the write connection.
func (db *DB) writer() {
	defer close(db.writerDone)
	for {
		var batch []*writeReq
		select {
		case req := <-db.writes:
			batch = append(batch, req)
		case <-db.closed:
			return
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case req := <-db.writes:
				batch = append(batch, req)
			default:
				break drain
			}
		}
		db.commit(batch)
	}
}

func (db *DB) commit(batch []*writeReq) {
	errs := make([]error, len(batch))
	tx, err := db.write.BeginTx(context.Background(), nil)
	if err != nil {
		for _, r := range batch {
			r.done <- err
		}
		return
	}
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if _, err := tx.Exec(`SAVEPOINT op`); err != nil {
			errs[i] = err
			continue
		}
		if errs[i] = r.f(tx); errs[i] != nil {
			if _, err := tx.Exec(`ROLLBACK TO op`); err != nil {
				errs[i] = errors.Join(errs[i], err)
			}
		}
		if _, err := tx.Exec(`RELEASE op`); err != nil && errs[i] == nil {
			errs[i] = err
		}
	}
	if err := tx.Commit(); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	for i, r := range batch {
		r.done <- errs[i]
	}
}

func (db *DB) now() string { return formatTime(db.Now()) }

const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(timeLayout, s)
	return t
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"lift"
	"lift/postgres"
	"lift/sqlite"
)

// defaultDB is where state lives when neither --db nor LIFT_DB says.
const defaultDB = "sqlite:lift.db"

// dbFlag returns the --db default: LIFT_DB, else defaultDB.
func (m *Main) dbFlag() string {
	if v := m.Getenv("LIFT_DB"); v != "" {
		return v
	}
	return defaultDB
}

// Store is everything the commands keep in a database; the sqlite and
// postgres packages both implement it.
type Store interface {
	lift.ClipStore
	lift.PredictionStore
	lift.ModelStore
	lift.Locker
	// Ping checks that the database answers (for /readyz).
	Ping(ctx context.Context) error
	Close() error
}

var (
	_ Store = (*sqlite.DB)(nil)
	_ Store = (*postgres.DB)(nil)
)

// openDB opens the database named by a --db value ("sqlite:PATH", a bare
// path, or "postgres://...") and closes it at m.Close.
func (m *Main) openDB(ctx context.Context, dsn string) (Store, error) {
	switch {
	case isPostgres(dsn):
		db, err := postgres.Open(ctx, dsn)
		if err != nil {
			return nil, fmt.Errorf("--db %s: %w", redact(dsn), err)
		}
		m.onClose(db.Close)
		return db, nil
	}
	path, ok := sqlitePath(dsn)
	if !ok {
		// A typo such as postgress:// would otherwise become a SQLite
		// file named after it.
		return nil, usagef("--db %s: unknown database scheme (use sqlite:PATH, a file path, or postgres://...)", redact(dsn))
	}
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	m.onClose(db.Close)
	return db, nil
}

// openExistingDB is openDB for a database that must exist already: when
// dsn names a SQLite file that is not there, it returns a nil Store and
// creates nothing. (Opening a PostgreSQL database never creates one.)
func (m *Main) openExistingDB(ctx context.Context, dsn string) (Store, error) {
	if path, ok := sqlitePath(dsn); ok && path != "" {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
	}
	return m.openDB(ctx, dsn)
}

// sqlitePath returns the file a --db value names ("sqlite:PATH" or a
// bare path), or false for a URL of another scheme.
func sqlitePath(dsn string) (string, bool) {
	path, isSQLite := strings.CutPrefix(dsn, "sqlite:")
	if !isSQLite && strings.Contains(dsn, "://") {
		return "", false
	}
	return strings.TrimPrefix(path, "//"), true
}

// isPostgres reports whether a --db value names a PostgreSQL database.
func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// redact hides a password in a connection URL for messages.
func redact(dsn string) string {
	at := strings.LastIndex(dsn, "@")
	scheme := strings.Index(dsn, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return dsn
	}
	userinfo := dsn[scheme+3 : at]
	if user, _, ok := strings.Cut(userinfo, ":"); ok {
		return dsn[:scheme+3] + user + ":xxxxx" + dsn[at:]
	}
	return dsn
}

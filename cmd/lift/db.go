package main

import (
	"context"
	"fmt"
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
	path, isSQLite := strings.CutPrefix(dsn, "sqlite:")
	if !isSQLite && strings.Contains(dsn, "://") {
		// A typo such as postgress:// would otherwise become a SQLite
		// file named after it.
		return nil, usagef("--db %s: unknown database scheme (use sqlite:PATH, a file path, or postgres://...)", redact(dsn))
	}
	path = strings.TrimPrefix(path, "//")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	m.onClose(db.Close)
	return db, nil
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

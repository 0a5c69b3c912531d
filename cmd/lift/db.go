package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
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
	lift.PredictionPruner
	lift.ExperimentStore
	lift.ExperimentLogPruner
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
// path, or "postgres://...") and closes it at m.Close. A SQLite file is
// created (and every database migrated) if need be; its directory must
// exist.
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
	if err := checkDBScheme(dsn); err != nil {
		return nil, err
	}
	path, _ := sqlitePath(dsn)
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("--db %s: %w", dsn, err)
	}
	m.onClose(db.Close)
	return db, nil
}

// checkDBScheme is the usage error for a --db value that names neither a
// PostgreSQL database nor a SQLite file: a typo such as postgress:// or
// sqlite3:lift.db would otherwise become a SQLite file named after it.
func checkDBScheme(dsn string) error {
	if _, ok := sqlitePath(dsn); ok || isPostgres(dsn) {
		return nil
	}
	return usagef("--db %s: unknown database scheme %q (use sqlite:PATH, a file path, postgres://..., postgresql://... or host=... dbname=...)",
		redact(dsn), dsn[:strings.IndexByte(dsn, ':')+1])
}

// errNoDatabase is openExistingDB's error for a SQLite file that is not
// there, or a PostgreSQL database without Lift's schema.
var errNoDatabase = errors.New("the database does not exist")

// openExistingDB is openDB for a database that must exist already (the
// commands that only read or change what is stored): when dsn names a
// SQLite file that is not there, it creates nothing and returns an error
// that wraps errNoDatabase. (Opening a PostgreSQL database never creates
// one.)
func (m *Main) openExistingDB(ctx context.Context, dsn string) (Store, error) {
	if isPostgres(dsn) {
		has, err := postgres.HasSchema(ctx, dsn)
		if err != nil {
			return nil, err
		}
		if !has {
			return nil, fmt.Errorf("--db %s: %w: no Lift schema where its search_path looks (check the database name and search_path; 'lift migrate' or 'lift serve' creates one)", redact(dsn), errNoDatabase)
		}
		return m.openDB(ctx, dsn)
	}
	if path, ok := sqlitePath(dsn); ok && path != "" {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("--db %s: %w: no file %s (check the path; 'lift migrate' or 'lift demo' creates one)", redact(dsn), errNoDatabase, path)
		}
	}
	return m.openDB(ctx, dsn)
}

// sqlitePath returns the file a --db value names ("sqlite:PATH" or a
// bare path), or false for a value that starts with another scheme: a
// bare path cannot start with NAME: (a letter, then letters, digits, +
// or -; two or more in all), so that "bogus:x" is a mistake and not a
// file. A one-letter prefix is a drive (C:\lift.db).
func sqlitePath(dsn string) (string, bool) {
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		return strings.TrimPrefix(path, "//"), true
	}
	if hasScheme(dsn) {
		return "", false
	}
	return dsn, true
}

// hasScheme reports whether s starts with a URL scheme of two or more
// characters and a colon.
func hasScheme(s string) bool {
	i := strings.IndexByte(s, ':')
	if i < 2 {
		return false
	}
	for j, c := range s[:i] {
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (j == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-')) {
			return false
		}
	}
	return true
}

// isPostgres reports whether a --db value names a PostgreSQL database.
// It may be a URL (postgres://, postgresql://) or libpq's keyword/value
// form ("host=db1 dbname=lift user=lift"), which would otherwise be read
// as the name of a SQLite file.
func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") || libpqKeywords.MatchString(dsn)
}

// libpqKeywords matches a connection string in libpq's keyword/value form:
// it starts with a keyword and '=' (host=, dbname=, pool_max_conns=, ...).
// A SQLite file whose name starts so is written ./NAME or sqlite:NAME.
var libpqKeywords = regexp.MustCompile(`^\s*[A-Za-z_][A-Za-z0-9_]*\s*=`)

// passwords matches a password given as a URL query parameter or a
// keyword/value pair (password=... up to '&' or a space, or quoted).
var passwords = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|(?:\\.|[^&\s\\])*)`)

// redact hides the passwords in a connection string for messages and
// logs: the URL's user:password@, a password= query parameter, and
// libpq's password=... pair.
func redact(dsn string) string {
	dsn = passwords.ReplaceAllString(dsn, "${1}xxxxx")
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

package sqlite

import (
	"context"
	"testing"
)

// MustOpenAt opens (creating if needed) the database at path for a test
// and closes it when the test ends. Exported for the package's external
// tests too (sqlite_test.MustOpen).
func MustOpenAt(tb testing.TB, path string) *DB {
	tb.Helper()
	db, err := Open(context.Background(), path)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

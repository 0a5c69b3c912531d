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

// mustOpenIndexEvery is MustOpenAt with a merge window of indexEvery
// predictions for the per-clip index, so that tests reach merges without
// recording defaultIndexEvery predictions one by one.
func mustOpenIndexEvery(tb testing.TB, path string, indexEvery int64) *DB {
	tb.Helper()
	db, err := open(context.Background(), path, indexEvery)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

package sqlite

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"lift"
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

// TestCloseLeavesTheFileWhole: after a clean close, the database file
// alone holds every commit (the WAL is checkpointed into it and removed),
// so that an operator who stops the server and copies or moves lift.db
// loses nothing. Before, the writer's prepared statements kept its
// connection open past Close, and the last commits stayed in lift.db-wal.
func TestCloseLeavesTheFileWhole(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, filepath.Join(dir, "lift.db"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	if err := db.PutClips(ctx, []*lift.Clip{{ID: "c1", Duration: 12, CreatedAt: at, UpdatedAt: at}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetClip(ctx, "c1"); err != nil { // a read through the readers' statements too
		t.Fatal(err)
	}
	p := &lift.Prediction{ClipID: new(string), PredictedCTR: 0.03, Band: lift.Medium, Source: "heuristic", CreatedAt: at}
	*p.ClipID = "c1"
	if err := db.RecordPrediction(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(filepath.Join(dir, "lift.db"+suffix)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("lift.db%s after Close: %v, want it removed", suffix, err)
		}
	}
	// The file on its own, moved where no WAL can follow it.
	moved := filepath.Join(t.TempDir(), "moved.db")
	if err := os.Rename(filepath.Join(dir, "lift.db"), moved); err != nil {
		t.Fatal(err)
	}
	db2 := MustOpenAt(t, moved)
	if _, err := db2.GetClip(ctx, "c1"); err != nil {
		t.Errorf("the clip in the moved file: %v", err)
	}
	if ps, err := db2.ClipPredictions(ctx, "c1", 10); err != nil || len(ps) != 1 {
		t.Errorf("the prediction in the moved file: %v %v", ps, err)
	}
}

// TestCloseTwiceAtOnce: Close may be called again, and at the same time
// from several goroutines; each waits for the one teardown.
func TestCloseTwiceAtOnce(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "lift.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetClip(context.Background(), "none"); lift.KindOf(err) != lift.NotFound {
		t.Fatal(err) // a reader statement to finalize
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := db.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := db.Close(); err != nil {
		t.Error(err)
	}
}

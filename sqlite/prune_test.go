package sqlite

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"lift"
	"lift/storetest"
)

// TestPruneInChunks: a prune of more predictions than one chunk deletes
// every indexed one older than the cut and keeps the newest, while
// predictions are recorded meanwhile; a clip's predictions and count read
// the same from the index and the table afterwards.
func TestPruneInChunks(t *testing.T) {
	ctx := context.Background()
	db := mustOpenIndexEvery(t, filepath.Join(t.TempDir(), "p.db"), 512)
	storetest.MustPutClip(t, db, storetest.NewClip("c", 10))
	clip := "c"
	cut := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	n := 2*lift.PruneChunk + 100
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				p := storetest.NewPrediction(&clip)
				p.CreatedAt = cut.Add(-time.Hour)
				if err := db.RecordPrediction(ctx, p); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	time.Sleep(2500 * time.Millisecond) // an idle second merges the rest into the index

	done := make(chan struct{})
	var during []*lift.Prediction
	go func() { // recording goes on while the prune takes the writer in chunks
		defer close(done)
		for range 50 {
			during = append(during, storetest.MustRecordPrediction(t, db, &clip))
		}
	}()
	deleted, err := db.PrunePredictions(ctx, cut)
	<-done
	// All but the newest old one, which holds the largest id until the
	// ones recorded during the prune come after it.
	if err != nil || deleted < int64(n-1) || deleted > int64(n) {
		t.Fatalf("PrunePredictions = %d, %v; want %d or %d", deleted, err, n-1, n)
	}
	ps, err := db.ClipPredictions(ctx, clip, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if want := 50 + n - int(deleted); len(ps) != want {
		t.Errorf("%d predictions left for the clip, want %d", len(ps), want)
	}
	if ps[0].ID != during[len(during)-1].ID {
		t.Errorf("newest prediction %d, want %d", ps[0].ID, during[len(during)-1].ID)
	}
	var rows, entries int
	if err := db.read.pool.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM predictions), (SELECT count(*) FROM prediction_clip_index)`).Scan(&rows, &entries); err != nil {
		t.Fatal(err)
	}
	var indexed int64
	db.read.pool.QueryRowContext(ctx, `SELECT indexed_upto FROM prediction_index_state`).Scan(&indexed)
	var tableIndexed int
	db.read.pool.QueryRowContext(ctx, `SELECT count(*) FROM predictions WHERE id <= ? AND clip_id IS NOT NULL`, indexed).Scan(&tableIndexed)
	if rows != len(ps) || entries != tableIndexed {
		t.Errorf("after the prune: %d rows (want %d), %d index entries for %d indexed rows", rows, len(ps), entries, tableIndexed)
	}
}

// TestIdleMergeAfterReopen: predictions a server recorded but did not
// merge into the per-clip index before it stopped are merged by the next
// one within an idle second, with no new prediction to set it off (and
// can then be pruned). The writer used to forget the table's last id at
// start-up until the next prediction.
func TestIdleMergeAfterReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "r.db")
	first, err := open(ctx, path, 1<<20) // no merge while recording
	if err != nil {
		t.Fatal(err)
	}
	storetest.MustPutClip(t, first, storetest.NewClip("c", 10))
	clip := "c"
	var last int64
	for range 20 {
		last = storetest.MustRecordPrediction(t, first, &clip).ID
	}
	first.Close()

	db := mustOpenIndexEvery(t, path, 1<<20)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var indexed int64
		if err := db.read.pool.QueryRowContext(ctx, `SELECT indexed_upto FROM prediction_index_state`).Scan(&indexed); err != nil {
			t.Fatal(err)
		}
		if indexed == last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("indexed_upto is %d after 10 idle seconds, want %d", indexed, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

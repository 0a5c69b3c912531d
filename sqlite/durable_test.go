package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"lift"
	"lift/storetest"
)

// TestPredictionHiddenUntilSynced holds a committed batch of predictions
// back from the syncer: the row is in the table, but neither the
// caller's RecordPrediction nor any read of predictions may see it
// until the WAL has been synced; then both do.
func TestPredictionHiddenUntilSynced(t *testing.T) {
	ctx := context.Background()
	db := MustOpenAt(t, filepath.Join(t.TempDir(), "d.db"))
	if !db.pipelined {
		t.Fatal("a new database in WAL mode should sync predictions after their commit")
	}
	clip := "c1"
	if _, err := db.PutClip(ctx, &lift.Clip{ID: clip, Duration: 5}); err != nil {
		t.Fatal(err)
	}
	forward := holdSyncer(db)

	done := make(chan error, 1)
	p := storetest.NewPrediction(&clip)
	go func() { done <- db.RecordPrediction(ctx, p) }()
	var committed int
	for deadline := time.Now().Add(10 * time.Second); committed == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		// A raw read of the table: the commit is there...
		if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM predictions`).Scan(&committed); err != nil {
			t.Fatal(err)
		}
	}
	if committed != 1 {
		t.Fatalf("the prediction was not committed (%d rows)", committed)
	}
	// ...but it is neither acknowledged nor shown.
	select {
	case err := <-done:
		t.Fatalf("RecordPrediction returned (%v) before the WAL was synced", err)
	default:
	}
	if ps, err := db.ClipPredictions(ctx, clip, 10); err != nil || len(ps) != 0 {
		t.Errorf("ClipPredictions before the sync = %d, %v; want none", len(ps), err)
	}
	if counts, err := db.PredictionCounts(ctx); err != nil || len(counts) != 0 {
		t.Errorf("PredictionCounts before the sync = %v, %v; want none", counts, err)
	}
	if n, err := db.CountPredictionsWithActual(ctx, clip); err != nil || n != 0 {
		t.Errorf("CountPredictionsWithActual before the sync = %d, %v; want 0", n, err)
	}
	// A write that changes nothing commits with synchronous=FULL but
	// writes nothing to the WAL, so it syncs nothing either: the
	// prediction must stay hidden.
	if err := db.tx(ctx, func(*wtx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if ps, err := db.ClipPredictions(ctx, clip, 10); err != nil || len(ps) != 0 {
		t.Errorf("ClipPredictions after an empty commit = %d, %v; want none", len(ps), err)
	}

	forward()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ps, err := db.ClipPredictions(ctx, clip, 10)
	if err != nil || len(ps) != 1 || ps[0].ID != p.ID {
		t.Fatalf("ClipPredictions after the sync = %v, %v; want prediction %d", ps, err, p.ID)
	}
	// A write that is not only predictions commits with synchronous=FULL
	// and is acknowledged by the writer itself.
	if _, err := db.PutClip(ctx, &lift.Clip{ID: "c2", Duration: 5}); err != nil {
		t.Fatal(err)
	}
}

// holdSyncer interposes on db's syncer queue: the batches the writer
// hands to the syncer wait until the returned func is called. The writer
// reads db.syncq after it receives its next request, so call it between
// writes.
func holdSyncer(db *DB) (forward func()) {
	toSyncer := db.syncq
	held := make(chan pendingSync, maxBatch)
	db.syncq = held
	gate := make(chan struct{})
	go func() {
		<-gate
		for p := range held {
			toSyncer <- p
		}
		close(toSyncer)
	}()
	return func() { close(gate) }
}

// TestFailureInHeldPredictions makes the syncer busy, so that the writer
// holds the next predictions in an open transaction, and sends one for a
// clip that does not exist with them: it alone fails, the others rerun on
// their own (with synchronous=FULL, so they are acknowledged before the
// busy sync ends), and the prediction the syncer held is answered once
// its sync is done.
func TestFailureInHeldPredictions(t *testing.T) {
	ctx := context.Background()
	db := MustOpenAt(t, filepath.Join(t.TempDir(), "h.db"))
	clip, missing := "c", "missing"
	if _, err := db.PutClip(ctx, &lift.Clip{ID: clip, Duration: 5}); err != nil {
		t.Fatal(err)
	}
	forward := holdSyncer(db)
	record := func(p *lift.Prediction) <-chan error {
		done := make(chan error, 1)
		go func() { done <- db.RecordPrediction(ctx, p) }()
		return done
	}
	first := storetest.NewPrediction(&clip)
	firstDone := record(first)
	for deadline := time.Now().Add(10 * time.Second); db.unsynced.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first prediction never reached the syncer")
		}
	}
	good := []*lift.Prediction{storetest.NewPrediction(&clip), storetest.NewPrediction(&clip)}
	goodDone := []<-chan error{record(good[0]), record(good[1])}
	if err := <-record(storetest.NewPrediction(&missing)); lift.KindOf(err) != lift.NotFound {
		t.Fatalf("a prediction for a missing clip = %v, want NotFound", err)
	}
	if db.reruns.Load() == 0 {
		t.Error("the failure did not rerun the held predictions")
	}
	select {
	case err := <-firstDone:
		t.Fatalf("the first prediction was answered (%v) before its sync", err)
	default:
	}
	forward()
	for _, done := range append(goodDone, firstDone) {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	ps, err := db.ClipPredictions(ctx, clip, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{first.ID, good[0].ID, good[1].ID}
	slices.Sort(want)
	slices.Reverse(want)
	if got := ids(ps); !slices.Equal(got, want) {
		t.Errorf("stored predictions %v, want %v", got, want)
	}
	if n, err := db.CountPredictionsWithActual(ctx, missing); err != nil || n != 0 {
		t.Errorf("the missing clip has %d predictions (%v)", n, err)
	}
}

// TestAcknowledgedPredictionsAreShown records from many goroutines and
// checks each caller sees its own prediction as soon as RecordPrediction
// returns.
func TestAcknowledgedPredictionsAreShown(t *testing.T) {
	ctx := context.Background()
	db := MustOpenAt(t, filepath.Join(t.TempDir(), "a.db"))
	clip := "c"
	if _, err := db.PutClip(ctx, &lift.Clip{ID: clip, Duration: 5}); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 16)
	for range 16 {
		go func() {
			for range 40 {
				p := storetest.NewPrediction(&clip)
				if err := db.RecordPrediction(ctx, p); err != nil {
					errs <- err
					return
				}
				if ps, err := db.ClipPredictions(ctx, clip, 1); err != nil || len(ps) != 1 || ps[0].ID < p.ID {
					errs <- lift.Errorf(lift.Internal, "prediction %d acknowledged but the newest shown is %v (%v)", p.ID, ps, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := db.durablePred.Load(); got != 16*40 {
		t.Errorf("durable prediction id = %d, want %d", got, 16*40)
	}
}

// TestPredictionsOfAnotherProcessAreShown opens the file twice, as two
// processes would: what one records, the other shows once its writer
// has noticed the other's commits (within externalCheckInterval).
func TestPredictionsOfAnotherProcessAreShown(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "two.db")
	a := MustOpenAt(t, path)
	b := MustOpenAt(t, path)
	clip := "c"
	if _, err := a.PutClip(ctx, &lift.Clip{ID: clip, Duration: 5}); err != nil {
		t.Fatal(err)
	}
	record := func(db *DB) int64 {
		p := storetest.NewPrediction(&clip)
		if err := db.RecordPrediction(ctx, p); err != nil {
			t.Fatal(err)
		}
		return p.ID
	}
	// Both record, in turns, so each must notice the other's ids too.
	var want []int64
	for i := range 6 {
		if i%2 == 0 {
			want = append(want, record(a))
		} else {
			want = append(want, record(b))
		}
	}
	for _, db := range []*DB{a, b} {
		var got []*lift.Prediction
		for deadline := time.Now().Add(5 * externalCheckInterval); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			var err error
			if got, err = db.ClipPredictions(ctx, clip, 100); err != nil {
				t.Fatal(err)
			}
			if len(got) == len(want) {
				break
			}
		}
		if len(got) != len(want) {
			t.Errorf("a handle shows %d of the %d predictions recorded through both", len(got), len(want))
		}
	}
}

// TestPredictionSyncFailure makes the WAL file unreachable by its name,
// so the syncer cannot sync it: the caller gets an error instead of an
// acknowledgement, the watermark stays below it, and every later write is
// refused, since the disk may have dropped what the failed sync was to
// write. A restart shows the committed row (a write whose answer was
// lost) once it has synced it.
func TestPredictionSyncFailure(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "f.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	clip := "c"
	if _, err := db.PutClip(ctx, &lift.Clip{ID: clip, Duration: 5}); err != nil {
		t.Fatal(err)
	}
	newPred := func() *lift.Prediction {
		return storetest.NewPrediction(&clip)
	}
	if err := db.RecordPrediction(ctx, newPred()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+"-wal", path+"-wal.away"); err != nil {
		t.Fatal(err)
	}
	failed := newPred()
	if err := db.RecordPrediction(ctx, failed); err == nil || lift.KindOf(err) != lift.Internal {
		t.Fatalf("RecordPrediction with the WAL unreachable = %v, want an internal error", err)
	}
	if got := db.durablePred.Load(); got >= failed.ID {
		t.Errorf("the watermark (%d) covers the prediction whose sync failed (%d)", got, failed.ID)
	}
	if err := os.Rename(path+"-wal.away", path+"-wal"); err != nil {
		t.Fatal(err)
	}
	if err := db.RecordPrediction(ctx, newPred()); lift.KindOf(err) != lift.Unavailable {
		t.Errorf("RecordPrediction after a failed sync = %v, want Unavailable", err)
	}
	if _, err := db.PutClip(ctx, &lift.Clip{ID: "other", Duration: 5}); lift.KindOf(err) != lift.Unavailable {
		t.Errorf("PutClip after a failed sync = %v, want Unavailable", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if ps, err := db.ClipPredictions(ctx, clip, 10); err != nil || len(ps) != 2 || ps[0].ID != failed.ID {
		t.Fatalf("after a restart ClipPredictions = %v (%v), want 2, newest %d", ids(ps), err, failed.ID)
	}
	if err := db.RecordPrediction(ctx, newPred()); err != nil {
		t.Errorf("RecordPrediction after a restart = %v", err)
	}
}

// TestPipelineThroughSymlink opens the database through a symbolic link:
// SQLite names the WAL after the file it resolved, and the syncer must
// sync that one.
func TestPipelineThroughSymlink(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "disk"), 0o755); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "disk", "s.db")
	if err := os.WriteFile(target, nil, 0o644); err != nil { // an empty file is a new database
		t.Fatal(err)
	}
	link := filepath.Join(dir, "s.db")
	if err := os.Symlink(target, link); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	db := MustOpenAt(t, link)
	if !db.pipelined {
		t.Fatal("the syncer is off for a database opened through a link")
	}
	clip := "c"
	if _, err := db.PutClip(ctx, &lift.Clip{ID: clip, Duration: 5}); err != nil {
		t.Fatal(err)
	}
	p := storetest.NewPrediction(&clip)
	if err := db.RecordPrediction(ctx, p); err != nil {
		t.Fatalf("RecordPrediction through a link = %v", err)
	}
}

// TestIsFileAt is the syncer's check that the WAL it holds open is still
// the file at the WAL's path: true for the same file, false once the path
// names another file or none.
func TestIsFileAt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w")
	if err := os.WriteFile(path, []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !isFileAt(f, path) {
		t.Error("isFileAt(the file opened from path) = false")
	}
	other := filepath.Join(dir, "other")
	if err := os.WriteFile(other, []byte("b"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, path); err != nil {
		t.Fatal(err)
	}
	if isFileAt(f, path) {
		t.Error("isFileAt = true after another file replaced it at path")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if isFileAt(f, path) {
		t.Error("isFileAt = true with no file at path")
	}
}

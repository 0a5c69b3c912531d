package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"lift"
)

// TestGroupCommitIsolatesFailures writes from many goroutines at once so
// that calls share transactions, half of them failing: every successful
// call's write is kept and every failing call writes nothing.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	ctx := context.Background()
	db := MustOpenAt(t, filepath.Join(t.TempDir(), "g.db"))
	if _, err := db.PutClip(ctx, &lift.Clip{ID: "base", Duration: 1}); err != nil {
		t.Fatal(err)
	}
	const n = 200
	// Batching depends on timing, so bursts repeat (a few at most in
	// practice) until one has mixed a failing call with others.
	stored := 1
	for round := 0; round < 20 && (round == 0 || db.reruns.Load() == 0); round++ {
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i%2 == 0 {
					_, errs[i] = db.PutClip(ctx, &lift.Clip{ID: fmt.Sprintf("c%02d-%03d", round, i), Duration: float64(i)})
					return
				}
				// Two outcomes, the second for a missing clip: all or nothing.
				errs[i] = db.AddOutcomes(ctx, []*lift.Outcome{
					{ClipID: "base", Impressions: 10, Clicks: 1},
					{ClipID: fmt.Sprintf("missing%d", i), Impressions: 10, Clicks: 1},
				})
			}()
		}
		wg.Wait()
		stored += n / 2
		for i, err := range errs {
			if (err == nil) != (i%2 == 0) || (err != nil && lift.KindOf(err) != lift.NotFound) {
				t.Errorf("round %d call %d: %v", round, i, err)
			}
		}
	}
	if db.reruns.Load() == 0 {
		t.Fatal("no batch mixed a failing call with others: the rerun path was not exercised")
	}
	cs, _, err := db.ListClips(ctx, "", 1000*1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != stored {
		t.Errorf("%d clips stored, want %d", len(cs), stored)
	}
	base, err := db.GetClip(ctx, "base")
	if err != nil || base.Impressions != 0 {
		t.Errorf("failed outcome batches left %d impressions on base (%v)", base.Impressions, err)
	}
}

// TestPanicInWriteFailsOnlyThatWrite: a write that panics (a bug) fails
// with an internal error and writes nothing; the writer goroutine lives
// on for the next write.
func TestPanicInWriteFailsOnlyThatWrite(t *testing.T) {
	ctx := context.Background()
	db := MustOpenAt(t, filepath.Join(t.TempDir(), "p.db"))
	err := db.tx(ctx, func(tx *wtx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO clips(id, duration, created_at, updated_at) VALUES ('ghost', 1, '', '')`); err != nil {
			return err
		}
		panic("boom")
	})
	if lift.KindOf(err) != lift.Internal {
		t.Fatalf("a panicking write = %v, want an internal error", err)
	}
	if _, err := db.GetClip(ctx, "ghost"); lift.KindOf(err) != lift.NotFound {
		t.Errorf("the panicking write's row: GetClip = %v, want NotFound", err)
	}
	if _, err := db.PutClip(ctx, &lift.Clip{ID: "after", Duration: 1}); err != nil {
		t.Fatalf("the write after the panic = %v", err)
	}
}

// TestRerunStartsFromTheCallersOutcome: a batch that fails is run again
// without the calls that left; an outcome's call must then start from
// what its caller gave, not from what the failed run made of it. B, the
// same keyed outcome as A, was a repeat of A's in the first run; rerun
// without A it stores the outcome, and must say so (it said "repeated").
func TestRerunStartsFromTheCallersOutcome(t *testing.T) {
	ctx := context.Background()
	db := MustOpenAt(t, filepath.Join(t.TempDir(), "r.db"))
	if _, err := db.PutClip(ctx, &lift.Clip{ID: "c", Duration: 1}); err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	go db.tx(ctx, func(*wtx) error { close(started); <-release; return nil })
	<-started // the writer is busy: what follows queues, in order
	actx, cancelA := context.WithCancel(ctx)
	a := &lift.Outcome{ClipID: "c", Key: "k", Impressions: 10, Clicks: 1}
	b := &lift.Outcome{ClipID: "c", Key: "k", Impressions: 10, Clicks: 1}
	errs := make(chan error, 3)
	// Callers blocked on the writer's channel are served in the order
	// they came; the pauses give that order. (Another order makes the
	// test pass whatever the code does, never fail.)
	pause := func() { time.Sleep(50 * time.Millisecond) }
	go func() { errs <- db.AddOutcomes(actx, []*lift.Outcome{a}) }()
	pause()
	go func() { errs <- db.AddOutcomes(ctx, []*lift.Outcome{b}) }()
	pause()
	go func() {
		errs <- db.tx(ctx, func(*wtx) error { cancelA(); return lift.Errorf(lift.Invalid, "fails its batch") })
	}()
	pause()
	close(release)
	for range 3 {
		<-errs
	}
	if b.Repeated || b.ID == 0 {
		t.Errorf("b: repeated %v, id %d; want the outcome stored by b", b.Repeated, b.ID)
	}
	c, err := db.GetClip(ctx, "c")
	if err != nil || c.Impressions != 10 {
		t.Errorf("clip c: %+v, %v; want 10 impressions, counted once", c, err)
	}
}

package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"lift"
	"lift/postgres"
	"lift/storetest"
)

// TestDecisionBatchesDeadlock: two replicas' decision batches share event
// ids in opposite orders. ON CONFLICT waits for the other's uncommitted
// row, so batches inserted in their callers' order deadlocked; they are
// inserted in key order. A third transaction holding event "c" makes the
// interleaving certain.
func TestDecisionBatchesDeadlock(t *testing.T) {
	dsn := storetest.MustPostgresDSN(t)
	a, b := MustOpenDSN(t, dsn), MustOpenDSN(t, dsn)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	mustCreateExperiment(t, a, "x", t0)
	dec := func(ev string) *lift.Decision { return evenDecision("x", ev, t0) }
	conn := mustConnect(t, dsn)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO decisions(experiment_id, event_id, context, variants, pmf, chosen, probability,
		policy_version, created_at, deadline) VALUES ('x', 'c', '{}', '[]', '[]', 0, 0.5, 0, now(), now())`); err != nil {
		t.Fatal(err)
	}
	waiting := lockWaits(t, dsn)
	errA, errB := make(chan error, 1), make(chan error, 1)
	go func() { _, err := a.InsertDecisions(ctx, []*lift.Decision{dec("a"), dec("c"), dec("b")}); errA <- err }()
	waiting(1) // A inserted a and waits for c
	go func() { _, err := b.InsertDecisions(ctx, []*lift.Decision{dec("b"), dec("a")}); errB <- err }()
	waiting(2) // B inserted b and waits for a
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	// A now inserts c, then waits for b: B's.
	for _, ch := range []chan error{errA, errB} {
		if err := <-ch; err != nil {
			t.Errorf("a decision batch failed whole: %v", err)
		}
	}
}

// TestRewardBatchPruneDeadlock: a batch of rewards locks its decisions in
// key order; `lift experiments prune`, which deleted them in the rewards'
// seq order, deadlocked with a batch holding second rewards of two old
// events, and now locks them in key order too. Event b was rewarded
// before a (seq order b, a; key order a, b). A third transaction holding
// b makes the interleaving certain.
func TestRewardBatchPruneDeadlock(t *testing.T) {
	dsn := storetest.MustPostgresDSN(t)
	db := MustOpenDSN(t, dsn)
	ctx := context.Background()
	t0 := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Millisecond)
	mustCreateExperiment(t, db, "x", t0)
	var last int64
	for _, ev := range []string{"b", "a"} {
		if err := db.SaveDecision(ctx, evenDecision("x", ev, t0)); err != nil {
			t.Fatal(err)
		}
		r := &lift.Reward{ExperimentID: "x", EventID: ev, Value: 1, CreatedAt: t0}
		if _, err := db.SaveReward(ctx, r); err != nil {
			t.Fatal(err)
		}
		last = r.Seq
	}
	if err := db.SaveSnapshot(ctx, "x", lift.PolicySnapshot{State: []byte("{}"), Seq: last,
		Totals: map[string]lift.VariantTotals{"a": {Trials: 2, RewardSum: 2}}}); err != nil {
		t.Fatal(err)
	}
	conn := mustConnect(t, dsn)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM decisions WHERE experiment_id = 'x' AND event_id = 'b' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	waiting := lockWaits(t, dsn)
	pruneErr, batchErr := make(chan error, 1), make(chan error, 1)
	go func() { _, err := db.PruneExperimentLog(ctx, "x", time.Now().Add(-time.Hour)); pruneErr <- err }()
	waiting(1) // the prune waits for b
	go func() {
		_, _, err := db.InsertRewards(ctx, []*lift.Reward{{ExperimentID: "x", EventID: "a", Value: 1, CreatedAt: t0},
			{ExperimentID: "x", EventID: "b", Value: 1, CreatedAt: t0}})
		batchErr <- err
	}()
	waiting(2) // the batch locked a and waits for b
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-pruneErr; err != nil {
		t.Errorf("prune: %v", err)
	}
	if err := <-batchErr; err != nil {
		t.Errorf("the batch of rewards failed whole: %v", err)
	}
}

// TestLargeDecisionAlone: a decision too large to batch is stored alone,
// whole, and answered like any other.
func TestLargeDecisionAlone(t *testing.T) {
	db := MustOpen(t)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	mustCreateExperiment(t, db, "x", t0)
	big := map[string]float64{}
	for i := range 10000 {
		big[fmt.Sprintf("feature_%05d", i)] = float64(i)
	}
	d := &lift.Decision{ExperimentID: "x", EventID: "big", Context: big, Variants: []string{"a", "b"},
		PMF: []float64{0.5, 0.5}, Probability: 0.5, CreatedAt: t0, Deadline: t0.Add(time.Hour)}
	if err := db.SaveDecision(ctx, d); err != nil || d.Seq <= 0 {
		t.Fatalf("SaveDecision of %d features: %v, seq %d", len(big), err, d.Seq)
	}
	j, err := db.GetDecision(ctx, "x", "big")
	if err != nil || len(j.Context) != len(big) || j.Context["feature_09999"] != 9999 || j.Seq != d.Seq {
		t.Fatalf("stored %d features, %v", len(j.Context), err)
	}
	again := *d
	if err := db.SaveDecision(ctx, &again); lift.KindOf(err) != lift.Conflict {
		t.Errorf("the same large decision again: %v, want a conflict", err)
	}
}

// TestBatchHonoursCallersDeadlines: while the tables are locked, batched
// decides and rewards end at their callers' deadlines, as a statement of
// their own would (the HTTP layer then answers 503 after
// --request-timeout), not at the batch's 30 s; the statements are
// cancelled, so nothing of them is stored.
func TestBatchHonoursCallersDeadlines(t *testing.T) {
	dsn := storetest.MustPostgresDSN(t)
	db := MustOpenDSN(t, dsn)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	mustCreateExperiment(t, db, "x", t0)
	decision := func(ev string) *lift.Decision { return evenDecision("x", ev, t0) }
	if err := db.SaveDecision(ctx, decision("decided")); err != nil {
		t.Fatal(err)
	}
	tx, err := mustConnect(t, dsn).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE decisions, rewards IN EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, time.Duration(300+100*i)*time.Millisecond)
			defer cancel()
			if i%2 == 0 {
				errs[i] = db.SaveDecision(cctx, decision(fmt.Sprintf("late%d", i)))
			} else {
				_, errs[i] = db.SaveReward(cctx, &lift.Reward{ExperimentID: "x", EventID: "decided", Value: 1})
			}
		})
	}
	wg.Wait()
	// The batch's own limit is 30 s: well before it, every caller has
	// its answer.
	if waited := time.Since(start); waited > 15*time.Second {
		t.Fatalf("callers with deadlines under a second waited %v", waited)
	}
	for i, err := range errs {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("call %d against locked tables: %v, want its context's deadline", i, err)
		}
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i += 2 {
		if _, err := db.GetDecision(ctx, "x", fmt.Sprintf("late%d", i)); lift.KindOf(err) != lift.NotFound {
			t.Errorf("decision late%d, whose caller timed out, is stored (%v)", i, err)
		}
	}
	if j, err := db.GetDecision(ctx, "x", "decided"); err != nil || j.Reward != nil {
		t.Errorf("the reward whose callers timed out: %+v, %v; want none stored", j, err)
	}
	if err := db.SaveDecision(ctx, decision("after")); err != nil {
		t.Errorf("a decision after the lock: %v", err)
	}
}

// TestBatchOneBadDecision: a decision whose probability
// breaks the CHECK fails only its caller; the others are stored, each
// with its own seq, and nothing of the bad one.
func TestBatchOneBadDecision(t *testing.T) {
	db := MustOpen(t)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	mustCreateExperiment(t, db, "x", t0)
	for round := range 5 {
		const n = 40
		ds := make([]*lift.Decision, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			p := 0.5
			if i == 7 {
				p = 1.5
			}
			ds[i] = &lift.Decision{ExperimentID: "x", EventID: fmt.Sprintf("r%d-e%d", round, i), Context: map[string]float64{"i": float64(i)},
				Variants: []string{"a", "b"}, PMF: []float64{0.5, 0.5}, Probability: p, CreatedAt: t0, Deadline: t0.Add(time.Hour)}
			wg.Go(func() { <-start; errs[i] = db.SaveDecision(ctx, ds[i]) })
		}
		close(start)
		wg.Wait()
		for i, d := range ds {
			j, gerr := db.GetDecision(ctx, "x", d.EventID)
			if i == 7 {
				if errs[i] == nil || gerr == nil {
					t.Fatalf("bad decision: %v, stored %v", errs[i], gerr)
				}
				continue
			}
			if errs[i] != nil || gerr != nil || j.Seq != d.Seq || j.Context["i"] != float64(i) {
				t.Fatalf("decision %d: %v, %v, %+v", i, errs[i], gerr, j)
			}
		}
	}
}

// TestCloseWhileQueued: Close while decisions and
// rewards are queued: every call returns, and each one answered nil is
// stored.
func TestCloseWhileQueued(t *testing.T) {
	dsn := storetest.MustPostgresDSN(t)
	db, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	mustCreateExperiment(t, db, "x", t0)
	const n = 200
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			d := &lift.Decision{ExperimentID: "x", EventID: fmt.Sprint(i), Context: map[string]float64{},
				Variants: []string{"a", "b"}, PMF: []float64{0.5, 0.5}, Probability: 0.5, CreatedAt: t0, Deadline: t0.Add(time.Hour)}
			if errs[i] = db.SaveDecision(ctx, d); errs[i] == nil {
				_, errs[i] = db.SaveReward(ctx, &lift.Reward{ExperimentID: "x", EventID: fmt.Sprint(i), Value: 1})
			}
		})
	}
	time.Sleep(40 * time.Millisecond)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	db.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("calls still waiting 10 s after Close")
	}
	db2 := MustOpenDSN(t, dsn)
	ok := 0
	for i, err := range errs {
		if err != nil {
			continue
		}
		ok++
		j, gerr := db2.GetDecision(ctx, "x", fmt.Sprint(i))
		if gerr != nil || j.Reward == nil {
			t.Errorf("call %d acknowledged but %+v, %v", i, j, gerr)
		}
	}
	t.Logf("%d of %d acknowledged before Close", ok, n)
}

// lockWaits returns a function that waits (up to 2 s) until at least n
// statements of the test database wait for a lock, read on a connection
// of its own (pg_stat_activity is read once per transaction).
func lockWaits(t *testing.T, dsn string) func(n int) {
	mon := mustConnect(t, dsn)
	return func(n int) {
		t.Helper()
		for range 100 {
			var w int
			if err := mon.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
				WHERE wait_event_type = 'Lock' AND datname = current_database()`).Scan(&w); err != nil {
				t.Fatal(err)
			}
			if w >= n {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("fewer than %d statements waiting for a lock", n)
	}
}

// mustCreateExperiment creates id, a Thompson-sampling experiment between
// variants a and b.
func mustCreateExperiment(t *testing.T, db *postgres.DB, id string, at time.Time) {
	t.Helper()
	if err := db.CreateExperiment(context.Background(), &lift.Experiment{ID: id, Variants: []lift.Variant{{ID: "a"}, {ID: "b"}},
		Policy: lift.PolicySpec{Name: "thompson"}, RewardRange: [2]float64{0, 1}, CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
}

// evenDecision is a decision of event ev in experiment exp between a and
// b at even odds, made at t0, its reward due within the hour.
func evenDecision(exp, ev string, t0 time.Time) *lift.Decision {
	return &lift.Decision{ExperimentID: exp, EventID: ev, Context: map[string]float64{}, Variants: []string{"a", "b"},
		PMF: []float64{0.5, 0.5}, Probability: 0.5, CreatedAt: t0, Deadline: t0.Add(time.Hour)}
}

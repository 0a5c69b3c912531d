package postgres_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"lift"
	"lift/postgres"
	"lift/storetest"
)

// MustOpen opens a store on a fresh schema of the test database (see
// storetest.MustPostgresDSN: skipped without one, failed under CI=true).
func MustOpen(tb testing.TB) *postgres.DB {
	tb.Helper()
	return MustOpenDSN(tb, storetest.MustPostgresDSN(tb))
}

// MustOpenDSN opens another store (another replica) on dsn.
func MustOpenDSN(tb testing.TB, dsn string) *postgres.DB {
	tb.Helper()
	db, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return MustOpen(t) })
}

// BenchmarkRecordPrediction needs LIFT_TEST_POSTGRES; the test clusters
// run with fsync off unless PG_DURABLE=1.
func BenchmarkRecordPrediction(b *testing.B) {
	db := MustOpen(b)
	storetest.BenchRecordPrediction(b, db, db)
}

// TestLockExpiresWithClock moves the store's clock past a lease's TTL: a
// crashed holder blocks others for at most the TTL.
func TestLockExpiresWithClock(t *testing.T) {
	db := MustOpen(t)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { return now }
	ctx := context.Background()
	steps := []struct {
		advance time.Duration
		holder  string
		want    bool
	}{
		{0, "a", true},
		{59 * time.Second, "b", false},
		{2 * time.Second, "b", true},
		{0, "a", false},
	}
	for i, st := range steps {
		now = now.Add(st.advance)
		ok, err := db.TryLock(ctx, "train", st.holder, time.Minute)
		if err != nil || ok != st.want {
			t.Fatalf("step %d: TryLock(%s) = %v, %v; want %v", i, st.holder, ok, err, st.want)
		}
	}
}

// TestConcurrentReplicas starts several stores on one schema at once (the
// migrations must run once, under the advisory lock), then has them race
// for the training lease and activate models concurrently: exactly one
// lease holder, exactly one active model, no errors.
func TestConcurrentReplicas(t *testing.T) {
	dsn := storetest.MustPostgresDSN(t)
	const n = 6
	dbs := make([]*postgres.DB, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range dbs {
		wg.Go(func() {
			dbs[i], errs[i] = postgres.Open(context.Background(), dsn)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: Open: %v", i, err)
		}
		t.Cleanup(func() { dbs[i].Close() })
	}
	ctx := context.Background()

	for round := range 5 {
		name := fmt.Sprintf("train-%d", round)
		won := make([]bool, n)
		for i, db := range dbs {
			wg.Go(func() {
				won[i], errs[i] = db.TryLock(ctx, name, fmt.Sprintf("replica-%d", i), time.Minute)
			})
		}
		wg.Wait()
		winners := 0
		for i := range dbs {
			if errs[i] != nil {
				t.Fatalf("round %d replica %d: TryLock: %v", round, i, errs[i])
			}
			if won[i] {
				winners++
			}
		}
		if winners != 1 {
			t.Fatalf("round %d: %d replicas hold the lease, want 1", round, winners)
		}
	}

	var versions []int64
	for i := range n {
		versions = append(versions, storetest.MustCreateModel(t, dbs[0], fmt.Sprintf(`{"m":%d}`, i), false).Version)
	}
	for round := range 10 {
		for i, db := range dbs {
			wg.Go(func() { errs[i] = db.ActivateModel(ctx, versions[(i+round)%n]) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d replica %d: ActivateModel: %v", round, i, err)
			}
		}
		ms, err := dbs[1].ListModels(ctx)
		if err != nil {
			t.Fatal(err)
		}
		active := 0
		for _, m := range ms {
			if m.Active {
				active++
			}
		}
		if active != 1 {
			t.Fatalf("round %d: %d active models, want 1", round, active)
		}
	}
}

// TestConcurrentOutcomes adds outcome batches naming the same clips in
// opposite orders from two replicas: no deadlock, every count kept.
func TestConcurrentOutcomes(t *testing.T) {
	dsn := storetest.MustPostgresDSN(t)
	a, b := MustOpenDSN(t, dsn), MustOpenDSN(t, dsn)
	storetest.MustPutClip(t, a, storetest.NewClip("x", 1))
	storetest.MustPutClip(t, a, storetest.NewClip("y", 1))
	const rounds = 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*rounds)
	for range rounds {
		wg.Go(func() {
			errs <- a.AddOutcomes(context.Background(), []*lift.Outcome{{ClipID: "x", Impressions: 1, Clicks: 1}, {ClipID: "y", Impressions: 1}})
		})
		wg.Go(func() {
			errs <- b.AddOutcomes(context.Background(), []*lift.Outcome{{ClipID: "y", Impressions: 1, Clicks: 1}, {ClipID: "x", Impressions: 1}})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("AddOutcomes: %v", err)
		}
	}
	for _, id := range []string{"x", "y"} {
		c := storetest.MustGetClip(t, b, id)
		if c.Impressions != 2*rounds || c.Clicks != rounds {
			t.Errorf("%s: impressions/clicks = %d/%d, want %d/%d", id, c.Impressions, c.Clicks, 2*rounds, rounds)
		}
	}
}

// TestTextPostgresCannotStore: a NUL character inside a JSON string is
// valid JSON that jsonb refuses; that is the caller's bad input, not an
// internal error, and nothing is written.
func TestTextPostgresCannotStore(t *testing.T) {
	db := MustOpen(t)
	c := storetest.NewClip("nul", 1)
	c.HookStrength = map[string]any{"strength": 0.5, "text": "a\x00b"}
	_, err := db.PutClip(context.Background(), c)
	if lift.KindOf(err) != lift.Invalid {
		t.Fatalf("PutClip with a NUL in a JSON string: %v, want Invalid", err)
	}
	if _, err := db.GetClip(context.Background(), "nul"); lift.KindOf(err) != lift.NotFound {
		t.Fatalf("GetClip after the rejected put: %v, want NotFound", err)
	}
}

func TestOpenBadDSN(t *testing.T) {
	// A server that takes the connection and never answers: the attempt
	// ends with connect_timeout.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	tests := []struct {
		dsn  string
		kind lift.Kind
	}{
		{"postgres://u:secret@127.0.0.1:bad-port/db", lift.Invalid},
		{"postgres://u:secret@127.0.0.1:1/db?sslmode=disable&connect_timeout=2", lift.Unavailable},
		// sslmode=prefer tries TLS, then plain: the one cause is told once.
		{"host=127.0.0.1 port=1 user=u password=secret dbname=db connect_timeout=2", lift.Unavailable},
		{"host=nonexistent.invalid user=u password=secret dbname=db connect_timeout=2", lift.Unavailable},
		{"postgres://u:secret@" + silent.Addr().String() + "/db?connect_timeout=1", lift.Unavailable},
	}
	for _, tt := range tests {
		_, err := postgres.Open(context.Background(), tt.dsn)
		if lift.KindOf(err) != tt.kind {
			t.Errorf("Open(%q) = %v, want kind %s", tt.dsn, err, tt.kind)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q) error shows the password: %v", tt.dsn, err)
		}
		if tt.kind != lift.Unavailable || err == nil {
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") {
			t.Errorf("Open(%q) error is not one line: %q", tt.dsn, msg)
		}
		_, causes, _ := strings.Cut(msg, "`: ")
		seen := map[string]bool{}
		for _, c := range strings.Split(causes, "; ") {
			if seen[c] {
				t.Errorf("Open(%q) = %v: %q told twice", tt.dsn, err, c)
			}
			seen[c] = true
		}
	}
}

// TestClipFeaturesAcrossReplicas: a clip rewritten through one replica
// reaches the cached features of another within moments (the clips
// trigger notifies every listener), also after the listening session was
// killed and came back.
func TestClipFeaturesAcrossReplicas(t *testing.T) {
	dsn := storetest.MustPostgresDSN(t)
	ctx := context.Background()
	a, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c := storetest.NewClip("x", 10)
	storetest.MustPutClip(t, b, c)

	waitFor := func(want float64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			f, err := a.ClipFeatures(ctx, "x")
			if err != nil {
				t.Fatal(err)
			}
			if f.Duration == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica a still serves duration %v, want %v written through replica b", f.Duration, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	for i, d := range []float64{20, 30, 40} {
		if i == 2 {
			// End every other session (a's LISTEN among them): a must not
			// serve what it cached before, whatever it missed meanwhile.
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
				WHERE pid <> pg_backend_pid() AND query LIKE 'LISTEN %' || current_schema() || '%'`); err != nil {
				t.Fatal(err)
			}
			conn.Close(ctx)
		}
		waitFor(c.Duration) // cached now
		c.Duration = d
		storetest.MustPutClip(t, b, c)
		waitFor(d)
	}
}

// TestRewardsCommittedOutOfOrder holds one replica's reward statement open
// after it has drawn its seq while another replica's later reward commits:
// a policy catching up must not learn the later reward first (it would
// never look below it again), whatever the clocks say. Once the open
// statement commits, both come back in seq order; a rolled-back
// statement's gap holds nothing back; with nothing in flight a reward is
// readable at once.
//
// A replica stores a reward alone (saveRewardSQL) or in a batch
// (saveRewardsSQL): both are tried, the batch with a reward of another
// experiment whose lock comes first.
func TestRewardsCommittedOutOfOrder(t *testing.T) {
	t.Run("alone", func(t *testing.T) {
		rewardsCommittedOutOfOrder(t, func(ctx context.Context, tx pgx.Tx, ev string, at time.Time) (*int64, error) {
			var (
				found int
				seq   *int64
			)
			err := tx.QueryRow(ctx, postgres.SaveRewardSQL, "exp", ev, 1.0, false, at).Scan(&found, &seq)
			return seq, err
		})
	})
	t.Run("batch", func(t *testing.T) {
		rewardsCommittedOutOfOrder(t, func(ctx context.Context, tx pgx.Tx, ev string, at time.Time) (*int64, error) {
			rows, err := tx.Query(ctx, postgres.SaveRewardsSQL, []string{"aaa", "exp"}, []string{ev, ev}, []float64{1, 1},
				[]bool{false, false}, []time.Time{at, at}, []int32{0, 1})
			if err != nil {
				return nil, err
			}
			var (
				ord   int32
				found bool
				seq   *int64
				mine  *int64
			)
			_, err = pgx.ForEachRow(rows, []any{&ord, &found, &seq}, func() error {
				if !found || seq == nil {
					return fmt.Errorf("reward %d of the batch: found %v, seq %v", ord, found, seq)
				}
				if ord == 1 {
					mine = seq
				}
				return nil
			})
			return mine, err
		})
	})
}

func rewardsCommittedOutOfOrder(t *testing.T, store func(ctx context.Context, tx pgx.Tx, ev string, at time.Time) (*int64, error)) {
	dsn := storetest.MustPostgresDSN(t)
	db := MustOpenDSN(t, dsn)
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	for _, id := range []string{"exp", "aaa"} {
		exp := &lift.Experiment{ID: id, Variants: []lift.Variant{{ID: "a"}, {ID: "b"}},
			Policy: lift.PolicySpec{Name: "thompson"}, RewardWait: lift.Duration{Duration: time.Hour},
			RewardRange: [2]float64{0, 1}, CreatedAt: t0}
		if err := db.CreateExperiment(ctx, exp); err != nil {
			t.Fatal(err)
		}
		for _, ev := range []string{"ev1", "ev2", "ev3", "ev4", "ev5"} {
			if err := db.SaveDecision(ctx, evenDecision(id, ev, t0)); err != nil {
				t.Fatal(err)
			}
		}
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	// openReward runs the reward statement for ev in a transaction left open.
	openReward := func(ev string) (pgx.Tx, int64) {
		t.Helper()
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seq, err := store(ctx, tx, ev, t0)
		if err != nil || seq == nil {
			t.Fatalf("reward %s in an open transaction: seq %v, %v", ev, seq, err)
		}
		return tx, *seq
	}
	// reward stores ev's reward through the store (committed at once).
	reward := func(ev string) int64 {
		t.Helper()
		r := &lift.Reward{ExperimentID: "exp", EventID: ev, Value: 0, CreatedAt: t0}
		if _, err := db.SaveReward(ctx, r); err != nil {
			t.Fatal(err)
		}
		return r.Seq
	}
	// since returns the rewards RewardedSince gives after seq, as ev@seq.
	since := func(after int64) string {
		t.Helper()
		js, err := db.RewardedSince(ctx, "exp", after, 10)
		if err != nil {
			t.Fatalf("RewardedSince: %v", err)
		}
		var evs []string
		for _, j := range js {
			evs = append(evs, fmt.Sprintf("%s@%d", j.EventID, j.Reward.Seq))
		}
		return fmt.Sprint(evs)
	}
	// eventually reads twice: the first read after the holders finished
	// may be the one that notices.
	eventually := func(after int64, want string) {
		t.Helper()
		got := since(after)
		if got == "[]" {
			got = since(after)
		}
		if got != want {
			t.Fatalf("RewardedSince(%d) = %s, want %s", after, got, want)
		}
	}

	tx, seq1 := openReward("ev1")
	seq2 := reward("ev2")
	if seq2 <= seq1 {
		t.Fatalf("seqs %d then %d: want the committed reward after the open one", seq1, seq2)
	}
	for range 2 {
		if got := since(0); got != "[]" {
			t.Fatalf("RewardedSince = %s while a reward with a lower seq was not committed", got)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(0, fmt.Sprintf("[ev1@%d ev2@%d]", seq1, seq2))

	tx, _ = openReward("ev3")
	seq4 := reward("ev4")
	if got := since(seq2); got != "[]" {
		t.Fatalf("RewardedSince = %s while a reward with a lower seq was in flight", got)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(seq2, fmt.Sprintf("[ev4@%d]", seq4))

	seq5 := reward("ev5")
	if got, want := since(seq4), fmt.Sprintf("[ev5@%d]", seq5); got != want {
		t.Fatalf("with nothing in flight RewardedSince = %s, want %s at once", got, want)
	}
}

// TestInsertPredictionAlone runs the insert a failed batch falls back to:
// a known clip's prediction is stored with every field, an unknown
// clip's is NotFound and not stored, one without a clip is stored.
func TestInsertPredictionAlone(t *testing.T) {
	db := MustOpen(t)
	ctx := context.Background()
	if _, err := db.PutClip(ctx, &lift.Clip{ID: "alone", Duration: 3}); err != nil {
		t.Fatal(err)
	}
	clip, unknown, version := "alone", "nowhere", int64(7)
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	p := &lift.Prediction{ClipID: &clip, ModelVersion: &version, Source: "model", PredictedCTR: 0.04, Band: lift.Medium,
		Confidence: 0.6, Interval: [2]float64{0.03, 0.05}, CreatedAt: at}
	if err := db.InsertPrediction(ctx, p); err != nil || p.ID == 0 {
		t.Fatalf("InsertPrediction = %v, id %d", err, p.ID)
	}
	ps, err := db.ClipPredictions(ctx, clip, 10)
	if err != nil || len(ps) != 1 {
		t.Fatalf("ClipPredictions = %v, %v", ps, err)
	}
	if got := ps[0]; got.ID != p.ID || *got.ModelVersion != version || got.PredictedCTR != 0.04 || got.Band != lift.Medium ||
		got.Interval != p.Interval || !got.CreatedAt.Equal(at) {
		t.Errorf("stored %+v, want %+v", got, p)
	}
	q := &lift.Prediction{ClipID: &unknown, Source: "heuristic", PredictedCTR: 0.01, Band: lift.Low, Confidence: 0.25, Interval: [2]float64{0, 1}, CreatedAt: at}
	if err := db.InsertPrediction(ctx, q); lift.KindOf(err) != lift.NotFound {
		t.Errorf("InsertPrediction for an unknown clip = %v, want NotFound", err)
	}
	r := &lift.Prediction{Source: "heuristic", PredictedCTR: 0.01, Band: lift.Low, Confidence: 0.25, Interval: [2]float64{0, 1}, CreatedAt: at}
	if err := db.InsertPrediction(ctx, r); err != nil || r.ID <= p.ID {
		t.Errorf("InsertPrediction without a clip = %v, id %d", err, r.ID)
	}
}

// TestInsertDecisionsBatch: one statement inserts a batch of decisions;
// an event decided before, or twice in the batch, is a conflict for its
// caller only, and the first of the batch is the one stored. A batch
// naming a missing experiment fails whole (its callers are then retried
// one by one) and writes nothing.
func TestInsertDecisionsBatch(t *testing.T) {
	db := MustOpen(t)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	mustCreateExperiment(t, db, "x", t0)
	decision := func(exp, event string, caller int) *lift.Decision {
		return &lift.Decision{ExperimentID: exp, EventID: event, Context: map[string]float64{"caller": float64(caller)},
			Variants: []string{"a", "b"}, PMF: []float64{0.5, 0.5}, Chosen: caller % 2, Probability: 0.5,
			CreatedAt: t0, Deadline: t0.Add(time.Hour)}
	}
	if err := db.SaveDecision(ctx, decision("x", "before", 0)); err != nil {
		t.Fatal(err)
	}
	batch := []*lift.Decision{decision("x", "e1", 1), decision("x", "before", 2), decision("x", "e2", 3),
		decision("x", "e1", 4), decision("x", "e3", 5)}
	errs, err := db.InsertDecisions(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	seqs := map[int64]bool{}
	for i, d := range batch {
		conflict := i == 1 || i == 3
		if conflict {
			if lift.KindOf(errs[i]) != lift.Conflict {
				t.Errorf("decision %d (%s): %v, want a conflict", i, d.EventID, errs[i])
			}
			continue
		}
		if errs[i] != nil || d.Seq <= 0 || seqs[d.Seq] {
			t.Fatalf("decision %d (%s): %v, seq %d", i, d.EventID, errs[i], d.Seq)
		}
		seqs[d.Seq] = true
		j, err := db.GetDecision(ctx, "x", d.EventID)
		if err != nil || j.Seq != d.Seq || j.Context["caller"] != float64(i+1) || j.Chosen != d.Chosen {
			t.Errorf("stored %s: %+v, %v; want the batch's decision %d, seq %d", d.EventID, j, err, i, d.Seq)
		}
	}
	if j, err := db.GetDecision(ctx, "x", "before"); err != nil || j.Context["caller"] != 0 {
		t.Errorf("the decision made before the batch: %+v, %v", j, err)
	}
	if _, err := db.InsertDecisions(ctx, []*lift.Decision{decision("x", "e4", 6), decision("missing", "e5", 7)}); err == nil {
		t.Fatal("a batch naming a missing experiment succeeded")
	}
	if _, err := db.GetDecision(ctx, "x", "e4"); lift.KindOf(err) != lift.NotFound {
		t.Errorf("a failed batch stored its other decision: %v", err)
	}
}

// TestInsertRewardsBatch: one statement stores a batch of rewards; a
// reward for an event rewarded before, or earlier in the batch, gets the
// stored one back, and one for a missing event or experiment is not
// found, without failing the others. A stored reward marks its decision
// rewarded.
func TestInsertRewardsBatch(t *testing.T) {
	db := MustOpen(t)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, id := range []string{"x", "y"} {
		mustCreateExperiment(t, db, id, t0)
		for _, ev := range []string{"e1", "e2", "e3"} {
			if err := db.SaveDecision(ctx, evenDecision(id, ev, t0)); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := &lift.Reward{ExperimentID: "x", EventID: "e2", Value: 0.5, CreatedAt: t0}
	if _, err := db.SaveReward(ctx, before); err != nil {
		t.Fatal(err)
	}
	reward := func(exp, ev string, v float64) *lift.Reward {
		return &lift.Reward{ExperimentID: exp, EventID: ev, Value: v, CreatedAt: t0.Add(time.Minute)}
	}
	batch := []*lift.Reward{reward("x", "e1", 1), reward("x", "e2", 0.25), reward("x", "nope", 1), reward("y", "e1", 0),
		reward("x", "e1", 0.75), reward("gone", "e1", 1), reward("y", "e3", 1)}
	errs, existing, err := db.InsertRewards(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	seqs := map[int64]bool{}
	for i, r := range batch {
		switch i {
		case 1: // rewarded before the batch
			if errs[i] != nil || existing[i] == nil || existing[i].Seq != before.Seq || existing[i].Value != 0.5 {
				t.Errorf("x/e2 again: %v, existing %+v; want the reward stored before (seq %d)", errs[i], existing[i], before.Seq)
			}
		case 4: // rewarded earlier in the batch
			if errs[i] != nil || existing[i] == nil || existing[i].Seq != batch[0].Seq || existing[i].Value != 1 {
				t.Errorf("x/e1 twice in the batch: %v, existing %+v; want the first (seq %d)", errs[i], existing[i], batch[0].Seq)
			}
		case 2, 5:
			if lift.KindOf(errs[i]) != lift.NotFound {
				t.Errorf("reward %s/%s: %v, want not found", r.ExperimentID, r.EventID, errs[i])
			}
		default:
			if errs[i] != nil || existing[i] != nil || r.Seq <= before.Seq || seqs[r.Seq] {
				t.Fatalf("reward %s/%s: %v, existing %+v, seq %d", r.ExperimentID, r.EventID, errs[i], existing[i], r.Seq)
			}
			seqs[r.Seq] = true
			j, err := db.GetDecision(ctx, r.ExperimentID, r.EventID)
			if err != nil || j.Reward == nil || j.Reward.Seq != r.Seq || j.Reward.Value != r.Value {
				t.Errorf("stored %s/%s: %+v, %v; want seq %d value %v", r.ExperimentID, r.EventID, j, err, r.Seq, r.Value)
			}
		}
	}
	// Only x/e3 and y/e2 are left unrewarded: every stored reward marked
	// its decision.
	ds, err := db.ExpiredDecisions(ctx, t0.Add(2*time.Hour), 10)
	var left []string
	for _, d := range ds {
		left = append(left, d.ExperimentID+"/"+d.EventID)
	}
	slices.Sort(left)
	if err != nil || fmt.Sprint(left) != "[x/e3 y/e2]" {
		t.Errorf("ExpiredDecisions = %v, %v; want [x/e3 y/e2]", left, err)
	}
}

// TestPredictionCountsReplicas: two replicas record at once while both
// fold the counts' deltas over and over, and a third reads the sum: each
// delta is folded once, and a read between folds sees it once.
func TestPredictionCountsReplicas(t *testing.T) {
	ctx := context.Background()
	dsn, a := countsStore(t)
	b := MustOpenDSN(t, dsn)
	reader := MustOpenDSN(t, dsn)
	bands := []lift.Band{lift.Viral, lift.High, lift.Medium, lift.Low}
	var recording, folding sync.WaitGroup
	for i, db := range []*postgres.DB{a, b, a, b} {
		recording.Go(func() {
			for j := range 100 {
				clip := "c"
				p := storetest.NewPrediction(&clip)
				p.Band = bands[(i+j)%len(bands)]
				if err := db.RecordPrediction(ctx, p); err != nil {
					t.Errorf("RecordPrediction: %v", err)
					return
				}
			}
		})
	}
	done := make(chan struct{})
	for _, db := range []*postgres.DB{a, b} {
		folding.Go(func() {
			for {
				if err := db.FoldPredictionCounts(ctx); err != nil {
					t.Errorf("FoldPredictionCounts: %v", err)
					return
				}
				select {
				case <-done:
					return
				default:
				}
			}
		})
	}
	want := "map[high:map[0:100] low:map[0:100] medium:map[0:100] viral:map[0:100]]"
	recording.Wait()
	if counts, err := reader.PredictionCounts(ctx); err != nil || fmt.Sprint(counts) != want {
		t.Errorf("PredictionCounts while folding = %v, %v; want %s", counts, err, want)
	}
	close(done)
	folding.Wait()
	if err := reader.FoldPredictionCounts(ctx); err != nil {
		t.Fatal(err)
	}
	conn := mustConnect(t, dsn)
	var deltas int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM prediction_count_deltas`).Scan(&deltas); err != nil || deltas != 0 {
		t.Errorf("%d deltas (%v) left after a fold", deltas, err)
	}
	if counts, err := reader.PredictionCounts(ctx); err != nil || fmt.Sprint(counts) != want {
		t.Errorf("PredictionCounts after the fold = %v, %v; want %s", counts, err, want)
	}
	// An operator's DELETE counts too, and a TRUNCATE counts again.
	var deleted int64
	if err := conn.QueryRow(ctx, `WITH d AS (DELETE FROM prediction_batches WHERE first_id = (SELECT max(first_id) FROM prediction_batches)
		RETURNING cardinality(clip_ids) AS k) SELECT k FROM d`).Scan(&deleted); err != nil {
		t.Fatal(err)
	}
	if counts, err := reader.PredictionCounts(ctx); err != nil || sum(counts) != 400-deleted {
		t.Errorf("after a DELETE of %d: PredictionCounts = %v, %v; want %d in all", deleted, counts, err, 400-deleted)
	}
	if _, err := conn.Exec(ctx, `TRUNCATE prediction_batches`); err != nil {
		t.Fatal(err)
	}
	if counts, err := reader.PredictionCounts(ctx); err != nil || len(counts) != 0 {
		t.Errorf("after a TRUNCATE: PredictionCounts = %v, %v; want none", counts, err)
	}
}

// TestPredictionCountsOtherSession: the triggers count in the schema of
// the table a statement changes, not in its session's: an operator's
// DELETE from a session on the database's default search_path, where
// Lift's tables are not, is counted in Lift's schema.
func TestPredictionCountsOtherSession(t *testing.T) {
	ctx := context.Background()
	dsn, db := countsStore(t)
	for range 3 {
		clip := "c"
		if err := db.RecordPrediction(ctx, storetest.NewPrediction(&clip)); err != nil {
			t.Fatal(err)
		}
	}
	var schema string
	if err := mustConnect(t, dsn).QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	conn := mustConnect(t, os.Getenv(storetest.PostgresEnv)) // no search_path
	tag, err := conn.Exec(ctx, `DELETE FROM `+pgx.Identifier{schema, "prediction_batches"}.Sanitize()+
		` WHERE first_id = (SELECT min(first_id) FROM `+pgx.Identifier{schema, "prediction_batches"}.Sanitize()+`)`)
	if err != nil {
		t.Fatalf("DELETE from another session: %v", err)
	}
	if tag.RowsAffected() != 1 {
		t.Fatalf("deleted %d batches, want 1", tag.RowsAffected())
	}
	if counts, err := db.PredictionCounts(ctx); err != nil || counts[lift.Medium][0] != 2 {
		t.Errorf("PredictionCounts after another session's DELETE = %v, %v; want 2 medium", counts, err)
	}
	// An UPDATE moves what it changes.
	if _, err := conn.Exec(ctx, `UPDATE `+pgx.Identifier{schema, "prediction_batches"}.Sanitize()+
		` SET bands = array_fill('viral'::text, ARRAY[cardinality(bands)]) WHERE first_id = (SELECT max(first_id) FROM `+
		pgx.Identifier{schema, "prediction_batches"}.Sanitize()+`)`); err != nil {
		t.Fatalf("UPDATE from another session: %v", err)
	}
	if counts, err := db.PredictionCounts(ctx); err != nil || fmt.Sprint(counts) != "map[medium:map[0:1] viral:map[0:1]]" {
		t.Errorf("PredictionCounts after another session's UPDATE = %v, %v; want 1 medium, 1 viral", counts, err)
	}
}

// TestPredictionCountsSchemaRenamed: a server started on a schema renamed
// since its migration records and counts (the trigger functions follow
// the tables' schema).
func TestPredictionCountsSchemaRenamed(t *testing.T) {
	ctx := context.Background()
	dsn, db := countsStore(t)
	var schema string
	if err := mustConnect(t, dsn).QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	record := func(db *postgres.DB, n int) {
		t.Helper()
		for range n {
			clip := "c"
			if err := db.RecordPrediction(ctx, storetest.NewPrediction(&clip)); err != nil {
				t.Fatalf("RecordPrediction: %v", err)
			}
		}
	}
	record(db, 2)
	db.Close()
	base := os.Getenv(storetest.PostgresEnv)
	admin := mustConnect(t, base)
	renamed := schema + "_renamed"
	rename := func(from, to string) error {
		_, err := admin.Exec(context.Background(), `ALTER SCHEMA `+pgx.Identifier{from}.Sanitize()+` RENAME TO `+pgx.Identifier{to}.Sanitize())
		return err
	}
	if err := rename(schema, renamed); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // before the test schema is dropped by its name
		if err := rename(renamed, schema); err != nil {
			t.Error(err)
		}
	})
	moved := MustOpenDSN(t, storetest.WithSearchPath(t, base, renamed))
	record(moved, 3)
	if counts, err := moved.PredictionCounts(ctx); err != nil || counts[lift.Medium][0] != 5 {
		t.Errorf("PredictionCounts in the renamed schema = %v, %v; want 5 medium", counts, err)
	}
}

// TestPredictionCountsTruncate: a TRUNCATE counts again from scratch
// without waiting for the writers in flight, and a batch whose
// transaction was open meanwhile, or that was recorded during the
// recount, is counted once.
func TestPredictionCountsTruncate(t *testing.T) {
	ctx := context.Background()
	dsn, db := countsStore(t)
	insert := func(c *pgx.Conn, band string) error {
		_, err := c.Exec(ctx, `INSERT INTO prediction_batches(first_id, clip_ids, model_versions, sources, bands,
			predicted_ctrs, confidences, ctr_los, ctr_his, created_ats)
			VALUES (nextval('predictions_id_seq'), '{c}', '{NULL}', '{heuristic}', ARRAY[$1], '{0.1}', '{0.5}', '{0}', '{1}', ARRAY[now()])`, band)
		return err
	}
	w1, w2, truncater := mustConnect(t, dsn), mustConnect(t, dsn), mustConnect(t, dsn)
	if err := insert(w1, "medium"); err != nil {
		t.Fatal(err)
	}
	if _, err := w1.Exec(ctx, `BEGIN`); err != nil {
		t.Fatal(err)
	}
	if err := insert(w1, "medium"); err != nil { // in flight through the TRUNCATE
		t.Fatal(err)
	}
	truncated := make(chan error, 1)
	go func() { _, err := truncater.Exec(ctx, `TRUNCATE predictions`); truncated <- err }()
	select {
	case err := <-truncated:
		if err != nil {
			t.Fatalf("TRUNCATE: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the TRUNCATE's recount waited for a writer")
	}
	if err := insert(w2, "viral"); err != nil {
		t.Fatal(err)
	}
	if _, err := w1.Exec(ctx, `COMMIT`); err != nil {
		t.Fatal(err)
	}
	const want = "map[medium:map[0:2] viral:map[0:1]]"
	if counts, err := db.PredictionCounts(ctx); err != nil || fmt.Sprint(counts) != want {
		t.Errorf("PredictionCounts = %v, %v; want %s", counts, err, want)
	}
	if err := db.FoldPredictionCounts(ctx); err != nil {
		t.Fatal(err)
	}
	if counts, err := db.PredictionCounts(ctx); err != nil || fmt.Sprint(counts) != want {
		t.Errorf("PredictionCounts after a fold = %v, %v; want %s", counts, err, want)
	}
}

// countsStore opens a store on a fresh schema holding the clip "c", and
// returns the schema's DSN with it.
func countsStore(t *testing.T) (string, *postgres.DB) {
	t.Helper()
	dsn := storetest.MustPostgresDSN(t)
	db := MustOpenDSN(t, dsn)
	storetest.MustPutClip(t, db, storetest.NewClip("c", 5))
	return dsn, db
}

// mustConnect opens a connection of its own to dsn, closed when the test
// ends.
func mustConnect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// sum is how many predictions counts counts.
func sum(counts map[lift.Band]map[int64]int64) (n int64) {
	for _, byVersion := range counts {
		for _, k := range byVersion {
			n += k
		}
	}
	return n
}

// TestPredictionCountsFoldBacklog: a backlog of deltas larger than one
// fold statement takes (left while only older servers ran) is folded
// whole, and the counts are the same before and after.
func TestPredictionCountsFoldBacklog(t *testing.T) {
	ctx := context.Background()
	dsn, db := countsStore(t)
	conn := mustConnect(t, dsn)
	if _, err := conn.Exec(ctx, `INSERT INTO prediction_count_deltas (model_version, band, n)
		SELECT i % 3, (ARRAY['viral', 'high', 'medium', 'low'])[i % 4 + 1], 1 FROM generate_series(1, 250000) i`); err != nil {
		t.Fatal(err)
	}
	before, err := db.PredictionCounts(ctx)
	if err != nil || sum(before) != 250000 {
		t.Fatalf("PredictionCounts before the fold = %v, %v; want 250000 in all", before, err)
	}
	if err := db.FoldPredictionCounts(ctx); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM prediction_count_deltas`).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d deltas (%v) left after the fold", left, err)
	}
	if after, err := db.PredictionCounts(ctx); err != nil || fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("PredictionCounts after the fold = %v, %v; before it %v", after, err, before)
	}
}

package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lift"
	"lift/bandit"
	"lift/sqlite"
)

func MustService(tb testing.TB) (*Service, *sqlite.DB) {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "lift.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return &Service{Store: db, Seed: 42}, db
}

func abn(id string, n int) *lift.Experiment {
	e := &lift.Experiment{ID: id}
	for i := range n {
		e.Variants = append(e.Variants, lift.Variant{ID: fmt.Sprintf("v%d", i)})
	}
	return e
}

// TestBetterVariantWins runs simulated traffic: variant v2 converts at
// 6%, the others at 2%. Thompson sampling must send it most of the
// traffic and become sure it is best.
func TestBetterVariantWins(t *testing.T) {
	ctx := context.Background()
	svc, _ := MustService(t)
	if _, err := svc.Create(ctx, abn("ab", 3)); err != nil {
		t.Fatal(err)
	}
	// Before any reward nothing tells the variants apart: no leader.
	if st, err := svc.Stats(ctx, "ab"); err != nil {
		t.Fatal(err)
	} else if st.BestVariant != nil {
		t.Fatalf("stats before any reward: best %q, want none", *st.BestVariant)
	}
	truth := map[string]float64{"v0": 0.02, "v1": 0.02, "v2": 0.06}
	rng := rand.New(rand.NewPCG(7, 7))
	served := map[string]int{}
	const n = 8000
	for i := range n {
		d, err := svc.Decide(ctx, "ab", DecideRequest{EventID: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		served[d.Variant]++
		r := 0.0
		if rng.Float64() < truth[d.Variant] {
			r = 1
		}
		if _, err := svc.Reward(ctx, "ab", d.EventID, r); err != nil {
			t.Fatal(err)
		}
	}
	st, err := svc.Stats(ctx, "ab")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("served %v; p_best %v %v %v", served, st.Variants[0].PBest, st.Variants[1].PBest, st.Variants[2].PBest)
	// Tolerances: with these rates a correct Thompson sampler gives the
	// best arm well over half of 8,000 visitors and p_best > 0.95; a
	// uniform one would give it a third and p_best near 0.9 at best.
	if served["v2"] < n/2 {
		t.Errorf("the best variant got %d of %d visitors", served["v2"], n)
	}
	if best := deref(st.BestVariant); best != "v2" || st.Variants[2].PBest < 0.95 {
		t.Errorf("best %q with p_best %v, want v2 > 0.95", best, st.Variants[2].PBest)
	}
	if st.OffPolicy == nil || st.OffPolicy.Events != n {
		t.Errorf("off-policy estimate: %+v", st.OffPolicy)
	}
	var sum float64
	for _, v := range st.Variants {
		sum += v.PBest
		if !(0 <= v.CI95[0] && v.CI95[0] < v.CI95[1] && v.CI95[1] <= 1) {
			t.Errorf("%s: ci95 %v is not an interval in [0,1]", v.ID, v.CI95)
		}
	}
	if sum < 0.999 || sum > 1.001 {
		t.Errorf("p_best sums to %v", sum)
	}
}

func TestRewardRulesAndDefaultReward(t *testing.T) {
	ctx := context.Background()
	svc, _ := MustService(t)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	svc.Now = func() time.Time { return now }
	e := abn("rules", 2)
	e.RewardWait = lift.Duration{Duration: time.Hour}
	e.DefaultReward = 0
	if _, err := svc.Create(ctx, e); err != nil {
		t.Fatal(err)
	}
	d1, _ := svc.Decide(ctx, "rules", DecideRequest{EventID: "e1"})
	d2, _ := svc.Decide(ctx, "rules", DecideRequest{EventID: "e2"})
	again, _ := svc.Decide(ctx, "rules", DecideRequest{EventID: "e1"})
	if again.Variant != d1.Variant || again.Probability != d1.Probability {
		t.Errorf("repeating an event id gave a new decision: %+v vs %+v", again, d1)
	}
	// A request that cannot be a retry of e1's is refused, not answered
	// with e1's decision: it excludes e1's variant, or has another context.
	for _, req := range []DecideRequest{
		{EventID: "e1", Exclude: []string{d1.Variant}},
		{EventID: "e1", Context: map[string]float64{"x": 1}},
	} {
		if got, err := svc.Decide(ctx, "rules", req); lift.KindOf(err) != lift.Conflict {
			t.Errorf("decide %+v after e1 = %+v, %v; want a conflict", req, got, err)
		}
	}
	other := "v0"
	if d1.Variant == other {
		other = "v1"
	}
	if again, err := svc.Decide(ctx, "rules", DecideRequest{EventID: "e1", Exclude: []string{other}, Context: map[string]float64{}}); err != nil || again.Variant != d1.Variant {
		t.Errorf("a retry excluding only the other variant = %+v, %v; want e1's decision", again, err)
	}
	if _, err := svc.Reward(ctx, "rules", "e1", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Reward(ctx, "rules", "e1", 1); err != nil {
		t.Errorf("same reward again = %v, want accepted", err)
	}
	if _, err := svc.Reward(ctx, "rules", "e1", 0); lift.KindOf(err) != lift.Conflict {
		t.Errorf("different reward = %v, want conflict", err)
	}
	// -0 is stored as 0 (the databases keep a zero's sign differently),
	// and is the same reward as 0; so are an experiment's default reward
	// and reward range.
	negZero := math.Copysign(0, -1)
	z := abn("zeros", 2)
	z.DefaultReward, z.RewardRange = negZero, [2]float64{negZero, 1}
	if got, err := svc.Create(ctx, z); err != nil || math.Signbit(got.DefaultReward) || math.Signbit(got.RewardRange[0]) {
		t.Errorf("create with -0 = %+v, %v; want 0s", got, err)
	}
	d3, _ := svc.Decide(ctx, "rules", DecideRequest{EventID: "e3"})
	if r, err := svc.Reward(ctx, "rules", d3.EventID, math.Copysign(0, -1)); err != nil || math.Signbit(r.Value) {
		t.Errorf("reward -0 = %+v, %v; want stored as 0", r, err)
	}
	if _, err := svc.Reward(ctx, "rules", d3.EventID, 0); err != nil {
		t.Errorf("reward 0 after -0 = %v, want the same reward", err)
	}
	if _, err := svc.Reward(ctx, "rules", "nope", 1); lift.KindOf(err) != lift.NotFound {
		t.Errorf("unknown event = %v, want not found", err)
	}
	if _, err := svc.Reward(ctx, "rules", "e2", 1.5); lift.KindOf(err) != lift.Invalid {
		t.Errorf("reward 1.5 = %v, want invalid", err)
	}
	if _, err := svc.Decide(ctx, "rules", DecideRequest{Exclude: []string{"v0", "v1"}}); lift.KindOf(err) != lift.Invalid {
		t.Errorf("excluding everything = %v, want invalid", err)
	}
	for range 20 {
		d, err := svc.Decide(ctx, "rules", DecideRequest{Exclude: []string{"v0"}})
		if err != nil || d.Variant != "v1" || d.Probability != 1 {
			t.Fatalf("exclude v0 gave %+v %v", d, err)
		}
	}
	// e2 never gets a reward: after reward_wait the default is applied once.
	now = now.Add(2 * time.Hour)
	n, err := svc.Sweep(ctx)
	if err != nil || n != 21 {
		t.Fatalf("sweep applied %d defaults (%v), want 21", n, err)
	}
	if n, _ := svc.Sweep(ctx); n != 0 {
		t.Errorf("second sweep applied %d", n)
	}
	if _, err := svc.Reward(ctx, "rules", "e2", 1); lift.KindOf(err) != lift.Conflict {
		t.Errorf("late reward = %v, want conflict", err)
	}
	st, err := svc.Stats(ctx, "rules")
	if err != nil {
		t.Fatal(err)
	}
	if st.Decisions != 23 {
		t.Errorf("%d rewarded decisions, want 23 (2 real + 21 defaults)", st.Decisions)
	}
	_ = d2
}

// TestRestartResumesPolicy checks snapshot + replay: a new Service on the
// same database decides exactly as the old one would have.
func TestRestartResumesPolicy(t *testing.T) {
	ctx := context.Background()
	svc, db := MustService(t)
	e := abn("resume", 3)
	e.Policy = lift.PolicySpec{Name: "epsilon-greedy", Params: map[string]float64{"epsilon": 0.2}}
	e.Variants[1].Features = map[string]float64{"bright": 1}
	if _, err := svc.Create(ctx, e); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	step := func(s *Service, i int) {
		d, err := s.Decide(ctx, "resume", DecideRequest{EventID: fmt.Sprint("ev", i), Context: map[string]float64{"x": float64(i % 3)}})
		if err != nil {
			t.Fatal(err)
		}
		r := 0.0
		if d.Variant == "v1" && rng.Float64() < 0.5 {
			r = 1
		}
		if _, err := s.Reward(ctx, "resume", d.EventID, r); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 700 { // crosses one snapshot (every 500) and leaves 200 to replay
		step(svc, i)
	}
	fresh := &Service{Store: db, Seed: 42}
	for i := 700; i < 720; i++ {
		a, err := svc.Decide(ctx, "resume", DecideRequest{EventID: fmt.Sprint("probe", i), Context: map[string]float64{"x": 1}})
		if err != nil {
			t.Fatal(err)
		}
		b, err := fresh.Decide(ctx, "resume", DecideRequest{EventID: fmt.Sprint("probe-fresh", i), Context: map[string]float64{"x": 1}})
		if err != nil {
			t.Fatal(err)
		}
		for k := range a.Ranking {
			if a.Ranking[k] != b.Ranking[k] {
				t.Fatalf("restored policy's PMF differs: %v vs %v", a.Ranking, b.Ranking)
			}
		}
	}
}

func TestAddAndRetireVariantKeepLearning(t *testing.T) {
	ctx := context.Background()
	svc, _ := MustService(t)
	if _, err := svc.Create(ctx, abn("grow", 2)); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		d, _ := svc.Decide(ctx, "grow", DecideRequest{EventID: fmt.Sprint(i)})
		svc.Reward(ctx, "grow", d.EventID, 1)
	}
	before, _ := svc.Stats(ctx, "grow")
	if _, err := svc.AddVariant(ctx, "grow", lift.Variant{ID: "v9"}); err != nil {
		t.Fatal(err)
	}

	if _, err := svc.RetireVariant(ctx, "grow", "v0"); err != nil {
		t.Fatal(err)
	}
	after, _ := svc.Stats(ctx, "grow")
	for i := range 2 {
		if after.Variants[i].Trials != before.Variants[i].Trials {
			t.Errorf("%s lost its trials: %d -> %d", after.Variants[i].ID, before.Variants[i].Trials, after.Variants[i].Trials)
		}
	}
	for i := range 30 {
		d, err := svc.Decide(ctx, "grow", DecideRequest{EventID: fmt.Sprint("after", i)})
		if err != nil || d.Variant == "v0" {
			t.Fatalf("decision after retiring v0: %+v %v", d, err)
		}
	}
	if _, err := svc.RetireVariant(ctx, "grow", "zz"); lift.KindOf(err) != lift.NotFound {
		t.Errorf("retire unknown = %v", err)
	}
	// An id in use, active or retired, and retiring the last active
	// variant conflict with the experiment's state: 409, not 400.
	for _, id := range []string{"v1", "v0"} {
		if _, err := svc.AddVariant(ctx, "grow", lift.Variant{ID: id}); lift.KindOf(err) != lift.Conflict {
			t.Errorf("adding variant %s again = %v, want a conflict", id, err)
		}
	}
	if _, err := svc.RetireVariant(ctx, "grow", "v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RetireVariant(ctx, "grow", "v9"); lift.KindOf(err) != lift.Conflict {
		t.Errorf("retiring the last active variant = %v, want a conflict", err)
	}
}

func TestCreateValidation(t *testing.T) {
	ctx := context.Background()
	svc, _ := MustService(t)
	bad := []*lift.Experiment{
		{ID: "one", Variants: []lift.Variant{{ID: "a"}}},
		{ID: "", Variants: []lift.Variant{{ID: "a"}, {ID: "b"}}},
		{ID: "dup", Variants: []lift.Variant{{ID: "a"}, {ID: "a"}}},
		{ID: "pol", Variants: []lift.Variant{{ID: "a"}, {ID: "b"}}, Policy: lift.PolicySpec{Name: "magic"}},
		{ID: "def", Variants: []lift.Variant{{ID: "a"}, {ID: "b"}}, DefaultReward: 2},
	}
	for _, e := range bad {
		if _, err := svc.Create(ctx, e); lift.KindOf(err) != lift.Invalid {
			t.Errorf("Create(%+v) = %v, want invalid", e, err)
		}
	}
	if _, err := svc.Create(ctx, abn("x", 2)); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Create(ctx, abn("x", 2)); lift.KindOf(err) != lift.Conflict {
		t.Errorf("duplicate id = %v, want conflict", err)
	}
	if _, err := svc.Decide(ctx, "missing", DecideRequest{}); lift.KindOf(err) != lift.NotFound {
		t.Errorf("decide on unknown experiment = %v", err)
	}
}

// TestConcurrentRewardsAndSnapshots drives decide and reward from many
// goroutines across several snapshots, then restores the policy in a
// fresh Service: snapshot + replay must have every reward exactly once.
func TestConcurrentRewardsAndSnapshots(t *testing.T) {
	ctx := context.Background()
	svc, db := MustService(t)
	if _, err := svc.Create(ctx, abn("conc", 3)); err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 160 // 1,280 rewards: two snapshots and a tail
	errc := make(chan error, workers)
	for w := range workers {
		go func() {
			for i := range each {
				d, err := svc.Decide(ctx, "conc", DecideRequest{EventID: fmt.Sprintf("w%d-%d", w, i)})
				if err == nil {
					_, err = svc.Reward(ctx, "conc", d.EventID, float64((w+i)%2))
				}
				if err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	for range workers {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	fresh := &Service{Store: db, Seed: 42}
	want, _ := svc.get(ctx, "conc")
	got, err := fresh.get(ctx, "conc")
	if err != nil {
		t.Fatal(err)
	}
	ws, gs := want.policy.(interface {
		Stats() map[string]bandit.BetaStats
	}).Stats(), got.policy.(interface {
		Stats() map[string]bandit.BetaStats
	}).Stats()
	var trials float64
	for id, s := range ws {
		trials += s.Trials
		if gs[id] != s {
			t.Errorf("variant %s: live %+v, restored %+v", id, s, gs[id])
		}
	}
	if trials != workers*each {
		t.Errorf("the live policy learnt %v rewards, want %d", trials, workers*each)
	}
}

// TestReplicasLearnTheSameLog runs two replicas (two Services) on one
// database, each deciding and taking rewards for its own share of the
// traffic: after catching up from the shared log both policies hold
// every reward, in the same state.
func TestReplicasLearnTheSameLog(t *testing.T) {
	ctx := context.Background()
	a, db := MustService(t)
	b := &Service{Store: db, Seed: 42}
	if _, err := a.Create(ctx, abn("shared", 3)); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	for i := range 400 {
		s := a
		if i%3 == 0 {
			s = b
		}
		d, err := s.Decide(ctx, "shared", DecideRequest{EventID: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		r := 0.0
		if d.Variant == "v1" && rng.Float64() < 0.3 {
			r = 1
		}
		if _, err := s.Reward(ctx, "shared", d.EventID, r); err != nil {
			t.Fatal(err)
		}
	}
	stats := func(s *Service) map[string]bandit.BetaStats {
		l, err := s.get(ctx, "shared")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.catchUp(ctx, l); err != nil {
			t.Fatal(err)
		}
		return l.policy.(*bandit.Thompson).Stats()
	}
	sa, sb := stats(a), stats(b)
	var n float64
	for id, st := range sa {
		n += st.Trials
		if sb[id] != st {
			t.Errorf("variant %s: replica a %+v, replica b %+v", id, st, sb[id])
		}
	}
	if n != 400 {
		t.Errorf("replica a learnt %v rewards, want all 400", n)
	}
}

// TestRunLearnsStoredRewards: with CatchUpEvery set, a reward request
// only stores the reward, and Run's catch-up teaches it to the policy.
func TestRunLearnsStoredRewards(t *testing.T) {
	ctx := context.Background()
	s, _ := MustService(t)
	s.CatchUpEvery = 5 * time.Millisecond
	if _, err := s.Create(ctx, abn("bg", 2)); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		d, err := s.Decide(ctx, "bg", DecideRequest{EventID: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Reward(ctx, "bg", d.EventID, 1); err != nil {
			t.Fatal(err)
		}
	}
	l, err := s.get(ctx, "bg")
	if err != nil {
		t.Fatal(err)
	}
	trials := func() float64 {
		var n float64
		for _, st := range l.policy.(*bandit.Thompson).Stats() {
			n += st.Trials
		}
		return n
	}
	base := trials() // the variants' priors count as trials too
	if l.stored.Load() == 0 {
		t.Fatal("the rewards were not marked for Run to learn")
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { s.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		l.learnMu.Lock()
		n := trials()
		l.learnMu.Unlock()
		if n == base+20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Run learnt %v of 20 rewards", n-base)
		}
	}
}

func TestEventIDsSortByTime(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s := &Service{Now: func() time.Time { return now }}
	seen := map[string]bool{}
	prev := ""
	for i := range 100 {
		now = now.Add(time.Duration(i) * time.Microsecond)
		id := s.newEventID()
		if len(id) != 32 || seen[id] || id <= prev {
			t.Fatalf("id %d = %q after %q: want 32 hex digits, unique, increasing", i, id, prev)
		}
		seen[id], prev = true, id
	}
}

// TestReplicaFollowsVariantChanges: a variant retired or added on one
// replica is retired or offered on the other after its refresh.
func TestReplicaFollowsVariantChanges(t *testing.T) {
	ctx := context.Background()
	a, db := MustService(t)
	b := &Service{Store: db, Seed: 42}
	if _, err := a.Create(ctx, abn("follow", 2)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Decide(ctx, "follow", DecideRequest{EventID: "warm"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.RetireVariant(ctx, "follow", "v0"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddVariant(ctx, "follow", lift.Variant{ID: "v2"}); err != nil {
		t.Fatal(err)
	}
	lb, _ := b.get(ctx, "follow")
	if err := b.refresh(ctx, lb); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		d, err := b.Decide(ctx, "follow", DecideRequest{EventID: fmt.Sprint("f", i)})
		if err != nil {
			t.Fatal(err)
		}
		if d.Variant == "v0" || len(d.Ranking) != 2 {
			t.Fatalf("replica b decided %+v after v0 was retired and v2 added", d)
		}
	}
}

// TestContextsCannotGrowThePolicyUnbounded: a linear policy learns from
// clients' contexts, whose feature names they choose; each request brings
// 200 new names, and no ridge model grows past MaxPolicyDim.
func TestContextsCannotGrowThePolicyUnbounded(t *testing.T) {
	ctx := context.Background()
	svc, _ := MustService(t)
	e := abn("wide", 3)
	e.Policy = lift.PolicySpec{Name: "linucb"}
	e.Variants[0].Features = map[string]float64{"bright": 1}
	if _, err := svc.Create(ctx, e); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		c := map[string]float64{}
		for k := range 200 {
			c[fmt.Sprintf("r%d_k%d", i, k)] = float64(k + 1)
		}
		d, err := svc.Decide(ctx, "wide", DecideRequest{EventID: fmt.Sprint("ev", i), Context: c})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Reward(ctx, "wide", d.EventID, 1); err != nil {
			t.Fatal(err)
		}
	}
	l, err := svc.get(ctx, "wide")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := l.policy.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		State struct {
			Models map[string]struct{ D int } `json:"models"`
			Shared *struct{ D int }           `json:"shared"`
		} `json:"state"`
	}
	if err := json.Unmarshal(snap, &s); err != nil {
		t.Fatal(err)
	}
	dims := []int{}
	for _, m := range s.State.Models {
		dims = append(dims, m.D)
	}
	if s.State.Shared != nil {
		dims = append(dims, s.State.Shared.D)
	}
	if len(dims) == 0 {
		t.Fatal("the policy learnt nothing")
	}
	for _, d := range dims {
		if d > MaxPolicyDim {
			t.Errorf("a model has %d dimensions, more than MaxPolicyDim (%d)", d, MaxPolicyDim)
		}
	}
}

// TestPolicyDimKeepsAllModelsWithinBudget: with many variants (each its
// own ridge model) the bound shrinks so that all of them together stay
// within policyBudget; with few it is MaxPolicyDim.
func TestPolicyDimKeepsAllModelsWithinBudget(t *testing.T) {
	if d := policyDim(3); d != MaxPolicyDim {
		t.Errorf("policyDim(3) = %d, want %d", d, MaxPolicyDim)
	}
	for _, k := range []int{100, 1000} {
		d := policyDim(k)
		if bytes := k * 2 * d * d * 8; bytes > policyBudget || d < 16 {
			t.Errorf("policyDim(%d) = %d: %d bytes of models, budget %d", k, d, bytes, policyBudget)
		}
	}
}

// TestStoredPolicyWithIgnoredOptions: an experiment stored by an earlier
// version with an option its policy never took (then silently ignored,
// now refused at creation) still loads, decides and takes variants.
func TestStoredPolicyWithIgnoredOptions(t *testing.T) {
	ctx := context.Background()
	svc, db := MustService(t)
	old := abn("old", 2)
	old.Policy = lift.PolicySpec{Name: "thompson", Params: map[string]float64{"epsilon": 0.1}}
	if _, err := svc.Create(ctx, old); lift.KindOf(err) != lift.Invalid {
		t.Fatalf("creating it today = %v, want invalid", err)
	}
	old.RewardRange = [2]float64{0, 1}
	old.RewardWait = lift.Duration{Duration: 24 * time.Hour}
	old.CreatedAt = time.Now().UTC()
	if err := db.CreateExperiment(ctx, old); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Decide(ctx, "old", DecideRequest{EventID: "e1"}); err != nil {
		t.Fatalf("deciding in the stored experiment: %v", err)
	}
	if _, err := svc.AddVariant(ctx, "old", lift.Variant{ID: "v9"}); err != nil {
		t.Fatalf("adding a variant to it: %v", err)
	}
}

// TestPolicyParamsInFull: whole-number params of a million or more reach
// the policy parser as whole numbers (not 1e+06), and the policy's own
// parameter keeps its place after the colon.
func TestPolicyParamsInFull(t *testing.T) {
	for _, tt := range []struct {
		spec lift.PolicySpec
		want string
	}{
		{lift.PolicySpec{Name: "thompson", Params: map[string]float64{"seed": 20240101, "draws": 1000000}}, "thompson,draws=1000000,seed=20240101"},
		{lift.PolicySpec{Name: "epsilon-greedy", Params: map[string]float64{"epsilon": 0.1, "ridge": 2}}, "epsilon-greedy:0.1,ridge=2"},
	} {
		spec := policySpecString(tt.spec)
		if spec != tt.want {
			t.Errorf("policySpecString(%+v) = %q, want %q", tt.spec, spec, tt.want)
		}
		if _, err := newPolicy(&lift.Experiment{Policy: tt.spec, Variants: []lift.Variant{{ID: "a"}, {ID: "b"}}}); err != nil {
			t.Errorf("%s: %v", spec, err)
		}
	}
}

// TestEventIDsDrawIndependentlyPerExperiment: one event id decided in two
// experiments (a page view's id, say) gets independent draws, not the
// same position in both PMFs.
func TestEventIDsDrawIndependentlyPerExperiment(t *testing.T) {
	ctx := context.Background()
	svc, _ := MustService(t)
	for _, id := range []string{"colour", "size"} {
		e := abn(id, 2)
		e.Policy = lift.PolicySpec{Name: "epsilon-greedy", Params: map[string]float64{"epsilon": 1}} // uniform
		if _, err := svc.Create(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	same := 0
	const n = 400
	for i := range n {
		a, err := svc.Decide(ctx, "colour", DecideRequest{EventID: fmt.Sprint("view-", i)})
		if err != nil {
			t.Fatal(err)
		}
		b, err := svc.Decide(ctx, "size", DecideRequest{EventID: fmt.Sprint("view-", i)})
		if err != nil {
			t.Fatal(err)
		}
		if a.Variant == b.Variant { // both v0 or both v1
			same++
		}
	}
	// Independent fair draws agree n/2 = 200 times (sd 10); the same draw
	// in both would agree 400 times.
	if same < 150 || same > 250 {
		t.Errorf("the two experiments agreed on %d of %d events: their draws are not independent", same, n)
	}
}

// staleReads returns the definition as it was before hook ran: a read
// that raced with a change made on this replica.
type staleReads struct {
	*sqlite.DB
	hook func()
}

func (s *staleReads) GetExperiment(ctx context.Context, id string) (*lift.Experiment, error) {
	e, err := s.DB.GetExperiment(ctx, id)
	if h := s.hook; h != nil {
		s.hook = nil
		h()
	}
	return e, err
}

// TestRefreshKeepsNewerLocalChange: a variant retired here while refresh
// was reading the definition stays retired (the read is older).
func TestRefreshKeepsNewerLocalChange(t *testing.T) {
	ctx := context.Background()
	_, db := MustService(t)
	store := &staleReads{DB: db}
	svc := &Service{Store: store, Seed: 42}
	if _, err := svc.Create(ctx, abn("race", 3)); err != nil {
		t.Fatal(err)
	}
	l, err := svc.get(ctx, "race")
	if err != nil {
		t.Fatal(err)
	}
	store.hook = func() {
		if _, err := svc.RetireVariant(ctx, "race", "v0"); err != nil {
			t.Error(err)
		}
	}
	if err := svc.refresh(ctx, l); err != nil {
		t.Fatal(err)
	}
	if !l.experiment().Variants[0].Retired {
		t.Fatal("refresh put back the definition from before the retirement")
	}
	for i := range 30 {
		if d, err := svc.Decide(ctx, "race", DecideRequest{EventID: fmt.Sprint(i)}); err != nil || d.Variant == "v0" {
			t.Fatalf("decision %d: %+v %v", i, d, err)
		}
	}
}

// deref is *s, or "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TestBestVariantNeedsEvidence: equal results leave no leader, nor do two
// variants tied on top, and the one variant left active is the leader
// whatever its data.
func TestBestVariantNeedsEvidence(t *testing.T) {
	ctx := context.Background()
	svc, _ := MustService(t)
	if _, err := svc.Create(ctx, abn("even", 2)); err != nil {
		t.Fatal(err)
	}
	// The same trials and rewards for both variants: still no leader.
	got := map[string]int{}
	for i := 0; got["v0"] < 3 || got["v1"] < 3; i++ {
		d, err := svc.Decide(ctx, "even", DecideRequest{EventID: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		if got[d.Variant] >= 3 {
			continue // left unrewarded
		}
		got[d.Variant]++
		if _, err := svc.Reward(ctx, "even", d.EventID, float64(got[d.Variant]%2)); err != nil {
			t.Fatal(err)
		}
	}
	st, err := svc.Stats(ctx, "even")
	if err != nil {
		t.Fatal(err)
	}
	if st.BestVariant != nil {
		t.Errorf("equal results: best %q, want none", *st.BestVariant)
	}
	if _, err := svc.RetireVariant(ctx, "even", "v0"); err != nil {
		t.Fatal(err)
	}
	if st, err = svc.Stats(ctx, "even"); err != nil {
		t.Fatal(err)
	}
	if best := deref(st.BestVariant); best != "v1" {
		t.Errorf("one active variant: best %q, want v1", best)
	}
	// p_best is over the active variants: the retired one has none left.
	if p0, p1 := st.Variants[0].PBest, st.Variants[1].PBest; p0 != 0 || p1 != 1 {
		t.Errorf("p_best retired v0 %v, active v1 %v; want 0 and 1", p0, p1)
	}

	// Three variants, one rewarded 0 once: the other two share the top
	// posterior, so neither is named.
	if _, err := svc.Create(ctx, abn("tie", 3)); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		d, err := svc.Decide(ctx, "tie", DecideRequest{EventID: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		if d.Variant == "v0" {
			if _, err := svc.Reward(ctx, "tie", d.EventID, 0); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if st, err = svc.Stats(ctx, "tie"); err != nil {
		t.Fatal(err)
	}
	if st.BestVariant != nil {
		t.Errorf("v1 and v2 tie on top: best %q, want none", *st.BestVariant)
	}

	// v0 tried twice (one success), v1 never: the same chance of being
	// best, and v1 has no mean to show.
	if _, err := svc.Create(ctx, abn("untried", 2)); err != nil {
		t.Fatal(err)
	}
	rewarded := 0
	for i := 0; rewarded < 2; i++ {
		d, err := svc.Decide(ctx, "untried", DecideRequest{EventID: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		if d.Variant == "v0" {
			if _, err := svc.Reward(ctx, "untried", d.EventID, float64(rewarded)); err != nil {
				t.Fatal(err)
			}
			rewarded++
		}
	}
	if st, err = svc.Stats(ctx, "untried"); err != nil {
		t.Fatal(err)
	}
	if st.BestVariant != nil || st.Variants[1].Trials != 0 || st.Variants[1].Mean != 0 || st.Variants[0].Mean != 0.5 {
		t.Errorf("v0 tried twice, v1 never: best %v, means %v and %v; want no leader, 0.5 and 0",
			deref(st.BestVariant), st.Variants[0].Mean, st.Variants[1].Mean)
	}
}

// TestClearLeader: the leader is named only when its p_best stands out
// from every active runner-up's by more than the draws' noise, and it has
// been tried; a single active variant is the leader.
func TestClearLeader(t *testing.T) {
	d := map[string]bandit.BetaStats{"a": {Trials: 50, RewardSum: 20}, "b": {Trials: 50, RewardSum: 10}, "c": {Trials: 0}}
	for _, c := range []struct {
		name string
		vs   []VariantStats
		want bool
	}{
		{"clear", []VariantStats{{ID: "a", Trials: 50, PBest: 0.9}, {ID: "b", Trials: 50, PBest: 0.1}}, true},
		{"within the noise", []VariantStats{{ID: "a", Trials: 50, PBest: 0.51}, {ID: "b", Trials: 50, PBest: 0.49}}, false},
		{"the runner-up retired", []VariantStats{{ID: "a", Trials: 50, PBest: 1}, {ID: "b", Trials: 50, PBest: 0.5, Retired: true}}, true},
		{"untried leader", []VariantStats{{ID: "c", PBest: 0.9}, {ID: "b", Trials: 50, PBest: 0.1}}, false},
		{"alone and untried", []VariantStats{{ID: "c", PBest: 1}}, true},
	} {
		if got := clearLeader(c.vs, 0, d); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestQuietReplicasAgreeOnThePMF: a context-free policy reuses its PMF for
// a few rewards, but not for long: in a quiet experiment, two replicas
// that learnt the same rewards decide with the same PMF and version once
// a second has passed, not after the next sixteen rewards.
func TestQuietReplicasAgreeOnThePMF(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	a, db := MustService(t)
	a.Now = clock
	b := &Service{Store: db, Seed: 42, Now: clock}
	if _, err := a.Create(ctx, abn("quiet", 2)); err != nil {
		t.Fatal(err)
	}
	// Both replicas decide (and cache a PMF) before any reward.
	da, err := a.Decide(ctx, "quiet", DecideRequest{EventID: "e0"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Decide(ctx, "quiet", DecideRequest{EventID: "e1"}); err != nil {
		t.Fatal(err)
	}
	rw, err := a.Reward(ctx, "quiet", da.EventID, 1)
	if err != nil {
		t.Fatal(err)
	}
	learnt := func(s *Service) {
		l, err := s.get(ctx, "quiet")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.catchUp(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	learnt(a)
	learnt(b)
	now = now.Add(pmfMaxAge)
	for i, s := range []*Service{a, b} {
		d, err := s.Decide(ctx, "quiet", DecideRequest{EventID: fmt.Sprint("late", i)})
		if err != nil {
			t.Fatal(err)
		}
		if d.PolicyVersion != rw.Seq {
			t.Errorf("replica %d decides with policy_version %d a second after learning reward %d", i, d.PolicyVersion, rw.Seq)
		}
	}
}

// TestAddVariantStoresNegativeZeroAsZero: a -0 among a new variant's
// features is stored as 0, as at creation (the two databases keep a
// zero's sign differently).
func TestAddVariantStoresNegativeZeroAsZero(t *testing.T) {
	ctx := context.Background()
	svc, _ := MustService(t)
	if _, err := svc.Create(ctx, abn("zero", 2)); err != nil {
		t.Fatal(err)
	}
	e, err := svc.AddVariant(ctx, "zero", lift.Variant{ID: "v9", Features: lift.FeatureMap{"x": math.Copysign(0, -1)}})
	if err != nil {
		t.Fatal(err)
	}
	if x := e.Variants[len(e.Variants)-1].Features["x"]; math.Signbit(x) {
		t.Errorf("a new variant's -0 feature was stored as %v", x)
	}
}

// countTotals counts the calls that sum an experiment's log from its
// start, and can make snapshots fail.
type countTotals struct {
	*sqlite.DB
	calls        int
	failSnapshot bool
}

func (c *countTotals) Totals(ctx context.Context, id string, after, upTo int64) (map[string]lift.VariantTotals, error) {
	if after == 0 {
		c.calls++
	}
	return c.DB.Totals(ctx, id, after, upTo)
}

func (c *countTotals) SaveSnapshot(ctx context.Context, id string, snap lift.PolicySnapshot) error {
	if c.failSnapshot {
		return errors.New("the disk is full")
	}
	return c.DB.SaveSnapshot(ctx, id, snap)
}

// TestStatsTotalsFromLearntState: stats' trials and reward sums are the
// learnt rewards' totals, kept in memory and saved with each snapshot,
// the same as summing the log, without summing it on every call; a
// replica or a restart takes them from the snapshot, and a snapshot saved
// without them (by an earlier version) has them summed once.
func TestStatsTotalsFromLearntState(t *testing.T) {
	ctx := context.Background()
	_, db := MustService(t)
	store := &countTotals{DB: db}
	a := &Service{Store: store, Seed: 42}
	if _, err := a.Create(ctx, abn("sums", 3)); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 8))
	values := []float64{0, 0.1, 0.7, 1}
	for i := range 1300 { // two snapshots, 300 rewards after the last
		d, err := a.Decide(ctx, "sums", DecideRequest{EventID: fmt.Sprint("e", i)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Reward(ctx, "sums", d.EventID, values[rng.IntN(len(values))]); err != nil {
			t.Fatal(err)
		}
	}
	want, err := db.Totals(ctx, "sums", 0, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, s *Service) {
		t.Helper()
		st, err := s.Stats(ctx, "sums")
		if err != nil {
			t.Fatalf("%s: Stats: %v", name, err)
		}
		var n int64
		for _, v := range st.Variants {
			w := want[v.ID]
			n += v.Trials
			if v.Trials != w.Trials || math.Abs(v.RewardSum-w.RewardSum) > 1e-9*max(1, w.RewardSum) {
				t.Errorf("%s: variant %s: %d trials, sum %v; the log has %d, %v", name, v.ID, v.Trials, v.RewardSum, w.Trials, w.RewardSum)
			}
		}
		if n != 1300 || st.Decisions != 1300 {
			t.Errorf("%s: %d trials (%d decisions), want 1300", name, n, st.Decisions)
		}
	}
	check("the replica that learnt them", a)
	check("a replica restored from the snapshot", &Service{Store: store, Seed: 42})
	if store.calls != 0 {
		t.Fatalf("stats summed the whole log %d times", store.calls)
	}

	// A snapshot as an earlier version saved it: no totals.
	snap, err := db.Snapshot(ctx, "sums")
	if err != nil || snap.Totals == nil || snap.Seq == 0 {
		t.Fatalf("Snapshot = seq %d, totals %v, %v; want both", snap.Seq, snap.Totals, err)
	}
	if err := db.SaveSnapshot(ctx, "sums", lift.PolicySnapshot{State: snap.State, Seq: snap.Seq}); err != nil {
		t.Fatal(err)
	}
	old := &Service{Store: store, Seed: 42}
	check("a replica restored from a snapshot without totals", old)
	check("the same, again", old)
	if store.calls != 1 {
		t.Fatalf("the log was summed %d times for a snapshot without totals, want once", store.calls)
	}
}

// TestStatsCountRewardsNotYetLearnt: with CatchUpEvery set a reward is
// only stored, and learnt at Run's next catch-up; stats count it at once,
// and do not depend on the policy's snapshots being writable.
func TestStatsCountRewardsNotYetLearnt(t *testing.T) {
	ctx := context.Background()
	_, db := MustService(t)
	store := &countTotals{DB: db}
	svc := &Service{Store: store, Seed: 42, CatchUpEvery: time.Hour}
	if _, err := svc.Create(ctx, abn("late", 2)); err != nil {
		t.Fatal(err)
	}
	store.failSnapshot = true
	var sum float64
	for i := range 600 { // past a snapshot's worth of rewards
		d, err := svc.Decide(ctx, "late", DecideRequest{EventID: fmt.Sprint("e", i)})
		if err != nil {
			t.Fatal(err)
		}
		r := float64(i%4) / 4
		if _, err := svc.Reward(ctx, "late", d.EventID, r); err != nil {
			t.Fatal(err)
		}
		sum += r
	}
	st, err := svc.Stats(ctx, "late")
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	var got float64
	for _, v := range st.Variants {
		got += v.RewardSum
	}
	if st.Decisions != 600 || got != sum {
		t.Fatalf("Stats counted %d rewards summing %v before they were learnt, want 600 summing %v", st.Decisions, got, sum)
	}
}

// TestPrunedLogKeepsWhatWasLearnt: pruning the decisions a snapshot
// covers changes neither a restored replica's stats and PMF, nor those
// of a replica that had not learnt them when they were pruned: it reloads
// the policy from the snapshot.
func TestPrunedLogKeepsWhatWasLearnt(t *testing.T) {
	ctx := context.Background()
	a, db := MustService(t)
	if _, err := a.Create(ctx, abn("pruned", 3)); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	reward := func(i int) {
		d, err := a.Decide(ctx, "pruned", DecideRequest{EventID: fmt.Sprint("e", i)})
		if err != nil {
			t.Fatal(err)
		}
		r := 0.0
		if d.Variant == "v2" && rng.Float64() < 0.4 {
			r = 1
		}
		if _, err := a.Reward(ctx, "pruned", d.EventID, r); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 100 {
		reward(i)
	}
	lagging := &Service{Store: db, Seed: 42}
	lb, err := lagging.get(ctx, "pruned") // learns the first 100, then stays behind
	if err != nil {
		t.Fatal(err)
	}
	for i := 100; i < 1300; i++ {
		reward(i)
	}
	if err := a.SnapshotAll(ctx); err != nil {
		t.Fatal(err)
	}
	before, err := a.Stats(ctx, "pruned")
	if err != nil {
		t.Fatal(err)
	}
	n, err := db.PruneExperimentLog(ctx, "pruned", time.Now().Add(time.Hour))
	if err != nil || n < 1290 {
		t.Fatalf("PruneExperimentLog = %d, %v; want (nearly) all 1300", n, err)
	}
	if err := lagging.refresh(ctx, lb); err != nil {
		t.Fatal(err)
	}
	pmf := func(s *Service) []lift.Ranked {
		d, err := s.Decide(ctx, "pruned", DecideRequest{EventID: fmt.Sprintf("probe-%p", s)})
		if err != nil {
			t.Fatal(err)
		}
		return d.Ranking
	}
	want := pmf(a)
	for name, s := range map[string]*Service{"restored": {Store: db, Seed: 42}, "lagging": lagging} {
		st, err := s.Stats(ctx, "pruned")
		if err != nil {
			t.Fatalf("%s: Stats: %v", name, err)
		}
		for i, v := range st.Variants {
			w := before.Variants[i]
			if v.Trials != w.Trials || math.Abs(v.RewardSum-w.RewardSum) > 1e-9 {
				t.Errorf("%s: variant %s: %d trials, sum %v after the prune; %d, %v before", name, v.ID, v.Trials, v.RewardSum, w.Trials, w.RewardSum)
			}
		}
		if got := pmf(s); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: PMF %v after the prune, the learning replica's %v", name, got, want)
		}
	}
}

// snapshotHook runs hook once, right after the first snapshot read.
type snapshotHook struct {
	*sqlite.DB
	hook func()
}

func (s *snapshotHook) Snapshot(ctx context.Context, id string) (lift.PolicySnapshot, error) {
	snap, err := s.DB.Snapshot(ctx, id)
	if h := s.hook; h != nil {
		s.hook = nil
		h()
	}
	return snap, err
}

// TestRestoreRacingAPrune: a replica restoring from a snapshot while
// another saves a newer one and the log is pruned up to it would miss the
// rewards in between; it starts again from the newer snapshot.
func TestRestoreRacingAPrune(t *testing.T) {
	ctx := context.Background()
	a, db := MustService(t)
	if _, err := a.Create(ctx, abn("race", 2)); err != nil {
		t.Fatal(err)
	}
	i := 0
	rewards := func(n int) {
		for ; n > 0; n-- {
			d, err := a.Decide(ctx, "race", DecideRequest{EventID: fmt.Sprint("e", i)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Reward(ctx, "race", d.EventID, float64(i%3)/2); err != nil {
				t.Fatal(err)
			}
			i++
		}
	}
	rewards(300)
	if err := a.SnapshotAll(ctx); err != nil {
		t.Fatal(err)
	}
	b := &Service{Store: &snapshotHook{DB: db, hook: func() {
		rewards(300)
		if err := a.SnapshotAll(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.PruneExperimentLog(ctx, "race", time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}}, Seed: 42}
	got, err := b.Stats(ctx, "race")
	if err != nil {
		t.Fatal(err)
	}
	want, err := a.Stats(ctx, "race")
	if err != nil {
		t.Fatal(err)
	}
	if got.Decisions != 600 || fmt.Sprint(got.Variants) != fmt.Sprint(want.Variants) {
		t.Fatalf("the replica restored across a prune counts %d rewards: %v; want 600: %v", got.Decisions, got.Variants, want.Variants)
	}
}

// TestReplicaBehindAPruneNeverLearnsPastIt: a replica behind a prune
// (paused, say) that then learns from the log (a reward it stores comes
// before its next refresh) would skip the pruned rewards, and its next
// snapshot would replace the good one; it finds the prune mark past what
// it learnt, learns nothing, and the refresh reloads it.
func TestReplicaBehindAPruneNeverLearnsPastIt(t *testing.T) {
	ctx := context.Background()
	a, db := MustService(t)
	if _, err := a.Create(ctx, abn("gap", 2)); err != nil {
		t.Fatal(err)
	}
	i := 0
	rewards := func(s *Service, n int) {
		for ; n > 0; n-- {
			d, err := s.Decide(ctx, "gap", DecideRequest{EventID: fmt.Sprint("e", i)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Reward(ctx, "gap", d.EventID, float64(i%2)); err != nil {
				t.Fatal(err)
			}
			i++
		}
	}
	rewards(a, 10)
	b := &Service{Store: db, Seed: 42}
	lb, err := b.get(ctx, "gap") // learns 10, then is paused
	if err != nil {
		t.Fatal(err)
	}
	rewards(a, 300)
	if err := a.SnapshotAll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PruneExperimentLog(ctx, "gap", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	rewards(b, 1) // before any refresh
	if !lb.stale.Load() {
		t.Fatal("the state behind the prune learnt from the log without noticing it")
	}
	if err := b.refresh(ctx, lb); err != nil {
		t.Fatal(err)
	}
	if err := a.refresh(ctx, a.loaded()[0]); err != nil {
		t.Fatal(err)
	}
	want, err := a.Stats(ctx, "gap")
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.Stats(ctx, "gap")
	if err != nil || got.Decisions != 311 || fmt.Sprint(got.Variants) != fmt.Sprint(want.Variants) {
		t.Fatalf("the replica behind the prune: %d rewards (%v), %v; want 311 as the other's %v", got.Decisions, got.Variants, err, want.Variants)
	}
	// Its snapshot at shutdown is a good one.
	if err := b.SnapshotAll(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := (&Service{Store: db, Seed: 42}).Stats(ctx, "gap"); err != nil || st.Decisions != 311 {
		t.Errorf("a replica restored after that snapshot counts %d rewards, %v; want 311", st.Decisions, err)
	}
}

// TestVariantAddedDuringAReloadIsKept: a variant added through the state
// being replaced while the reload restores is kept in the new one.
func TestVariantAddedDuringAReloadIsKept(t *testing.T) {
	ctx := context.Background()
	a, db := MustService(t)
	if _, err := a.Create(ctx, abn("add", 2)); err != nil {
		t.Fatal(err)
	}
	for i := range 105 {
		d, err := a.Decide(ctx, "add", DecideRequest{EventID: fmt.Sprint("e", i)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Reward(ctx, "add", d.EventID, 1); err != nil {
			t.Fatal(err)
		}
	}
	hooked := &snapshotHook{DB: db}
	b := &Service{Store: hooked, Seed: 42}
	lb, err := b.get(ctx, "add")
	if err != nil {
		t.Fatal(err)
	}
	// b is behind a prune it has not seen: the snapshot covers more.
	lb.mu.Lock()
	lb.seq = 1
	lb.mu.Unlock()
	if err := a.SnapshotAll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PruneExperimentLog(ctx, "add", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	hooked.hook = func() { // during the reload's restore
		if _, err := b.AddVariant(ctx, "add", lift.Variant{ID: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.refresh(ctx, lb); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AddVariant(ctx, "add", lift.Variant{ID: "y"}); err != nil {
		t.Fatal(err)
	}
	e, err := db.GetExperiment(ctx, "add")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, v := range e.Variants {
		ids = append(ids, v.ID)
	}
	if fmt.Sprint(ids) != "[v0 v1 x y]" {
		t.Errorf("stored variants %v, want [v0 v1 x y]", ids)
	}
}

// TestReplicasChangingVariantsKeepEachOthers: a replica that has not yet
// read another's change to the variants keeps it when it makes its own.
func TestReplicasChangingVariantsKeepEachOthers(t *testing.T) {
	ctx := context.Background()
	a, db := MustService(t)
	b := &Service{Store: db, Seed: 42}
	if _, err := a.Create(ctx, abn("both", 3)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, "both"); err != nil { // b has the definition in memory
		t.Fatal(err)
	}
	if _, err := a.AddVariant(ctx, "both", lift.Variant{ID: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AddVariant(ctx, "both", lift.Variant{ID: "y"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.RetireVariant(ctx, "both", "v0"); err != nil {
		t.Fatal(err)
	}
	got, err := b.RetireVariant(ctx, "both", "x")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := db.GetExperiment(ctx, "both")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, v := range stored.Variants {
		ids = append(ids, fmt.Sprintf("%s:%v", v.ID, v.Retired))
	}
	if want := "[v0:true v1:false v2:false x:true y:false]"; fmt.Sprint(ids) != want {
		t.Errorf("stored variants %v, want %s", ids, want)
	}
	if len(got.Variants) != 5 {
		t.Errorf("b answered %d variants, want the stored 5", len(got.Variants))
	}
	// b decides among what is stored, without waiting for a refresh.
	d, err := b.Decide(ctx, "both", DecideRequest{EventID: "after"})
	if err != nil || len(d.Ranking) != 3 {
		t.Fatalf("b decided among %v, %v; want the 3 active variants", d.Ranking, err)
	}
}

// TestRewardFromASlowClockPrunedAtOnce: a reward's age is the storing
// replica's clock's, so one stored by a replica whose clock is behind can
// be pruned as soon as another has learnt and snapshotted it; a third
// replica, caught up just before, must not learn past it.
func TestRewardFromASlowClockPrunedAtOnce(t *testing.T) {
	ctx := context.Background()
	a, db := MustService(t)
	if _, err := a.Create(ctx, abn("skew", 2)); err != nil {
		t.Fatal(err)
	}
	slow := &Service{Store: db, Seed: 42, Now: func() time.Time { return time.Now().Add(-90 * time.Minute) }}
	b := &Service{Store: db, Seed: 42}
	i := 0
	reward := func(s *Service) {
		d, err := s.Decide(ctx, "skew", DecideRequest{EventID: fmt.Sprint("e", i)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Reward(ctx, "skew", d.EventID, float64(i%2)); err != nil {
			t.Fatal(err)
		}
		i++
	}
	for range 10 {
		reward(a)
	}
	if _, err := b.Stats(ctx, "skew"); err != nil { // b loads, caught up
		t.Fatal(err)
	}
	reward(slow) // made and rewarded "90 minutes ago"
	reward(a)    // (a store may keep its newest reward whatever its age)
	if err := a.refresh(ctx, a.loaded()[0]); err != nil {
		t.Fatal(err)
	}
	if err := a.SnapshotAll(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := db.PruneExperimentLog(ctx, "skew", time.Now().Add(-lift.MinLogPruneAge)); err != nil || n != 1 {
		t.Fatalf("the prune with the command's cut deleted %d, %v; want the slow replica's one reward", n, err)
	}
	reward(b)
	for _, l := range b.loaded() {
		if err := b.refresh(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.SnapshotAll(ctx); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*Service{"b": b, "a replica restored after b's snapshot": {Store: db, Seed: 42}} {
		if st, err := s.Stats(ctx, "skew"); err != nil || st.Decisions != 13 {
			t.Errorf("%s counts %d rewards, %v; want 13", name, st.Decisions, err)
		}
	}
}

// TestStaleStateLearnsAndSavesNothing: a state found behind a prune
// neither learns from the log nor saves a snapshot, and concurrent reloads
// of it restore once.
func TestStaleStateLearnsAndSavesNothing(t *testing.T) {
	ctx := context.Background()
	a, db := MustService(t)
	if _, err := a.Create(ctx, abn("stale", 2)); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		d, err := a.Decide(ctx, "stale", DecideRequest{EventID: fmt.Sprint("e", i)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Reward(ctx, "stale", d.EventID, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.SnapshotAll(ctx); err != nil {
		t.Fatal(err)
	}
	counting := &snapshotHook{DB: db}
	b := &Service{Store: counting, Seed: 42}
	lb, err := b.get(ctx, "stale")
	if err != nil {
		t.Fatal(err)
	}
	before, err := db.Snapshot(ctx, "stale")
	if err != nil {
		t.Fatal(err)
	}
	lb.stale.Store(true)
	lb.mu.Lock()
	lb.seq = before.Seq + 1000 // as if it had learnt past a gap: its snapshot would replace the good one
	lb.pending = snapshotEvery
	learnt := lb.learnt
	lb.mu.Unlock()
	// A reward the stale state could learn.
	d, err := a.Decide(ctx, "stale", DecideRequest{EventID: "more"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Reward(ctx, "stale", d.EventID, 1); err != nil {
		t.Fatal(err)
	}
	lb.mu.Lock()
	lb.seq = 0 // so that it would read it
	lb.mu.Unlock()
	if err := b.catchUp(ctx, lb); !errors.Is(err, errPrunedPast) {
		t.Errorf("catchUp of a stale state = %v, want errPrunedPast", err)
	}
	if lb.learnt != learnt {
		t.Errorf("the stale state learnt %d rewards more", lb.learnt-learnt)
	}
	lb.mu.Lock()
	lb.seq = before.Seq + 1000
	lb.mu.Unlock()
	if err := b.SnapshotAll(ctx); err != nil {
		t.Fatal(err)
	}
	lb.learnMu.Lock()
	err = b.saveSnapshot(ctx, lb)
	lb.learnMu.Unlock()
	if after, _ := db.Snapshot(ctx, "stale"); err != nil || after.Seq != before.Seq || string(after.State) != string(before.State) {
		t.Errorf("a stale state's snapshot was saved (seq %d, was %d), %v", after.Seq, before.Seq, err)
	}
	// Two reloads at once: one restores, the other finds it replaced.
	var restores atomic.Int32
	var count func()
	count = func() { restores.Add(1); counting.hook = count }
	counting.hook = count
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if err := b.reload(ctx, lb); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := restores.Load(); n != 1 || b.loaded()[0] == lb {
		t.Errorf("two reloads restored %d times (replaced: %v), want once", n, b.loaded()[0] != lb)
	}
}

// TestPriorOfAVariantAddedElsewhere: a replica that learns rewards of a
// variant another replica added, before its refresh has read the
// definition, still gives it its prior first, as every replica does.
func TestPriorOfAVariantAddedElsewhere(t *testing.T) {
	ctx := context.Background()
	a, db := MustService(t)
	b := &Service{Store: db, Seed: 42}
	if _, err := a.Create(ctx, abn("pri", 2)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, "pri"); err != nil {
		t.Fatal(err)
	}
	ctr := 0.5
	if _, err := a.AddVariant(ctx, "pri", lift.Variant{ID: "x", PriorCTR: &ctr, Features: map[string]float64{"new": 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Decide(ctx, "pri", DecideRequest{EventID: "e1", Exclude: []string{"v0", "v1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Reward(ctx, "pri", "e1", 1); err != nil {
		t.Fatal(err)
	}
	lb, err := b.get(ctx, "pri")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.catchUp(ctx, lb); err != nil { // before any refresh
		t.Fatal(err)
	}
	la, err := a.get(ctx, "pri")
	if err != nil {
		t.Fatal(err)
	}
	if sa, sb := la.policy.(*bandit.Thompson).Stats()["x"], lb.policy.(*bandit.Thompson).Stats()["x"]; sa != sb {
		t.Errorf("variant x: replica a %+v, replica b %+v", sa, sb)
	}
	if got := len(lb.experiment().Variants); got != 3 {
		t.Errorf("replica b knows %d variants after learning x's reward, want 3", got)
	}
}

package experiment

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"lift"
)

// TestPolicyVersionNamesThePMFsState: a decision's policy_version names
// the state its PMF came from: replaying the rewards up to that seq into a
// fresh policy gives the logged PMF (the audit BANDIT.md promises), while
// another goroutine learns. A PMF computed between a policy's Learn and
// the seq's update was logged with the version before (a few in a
// thousand decisions).
func TestPolicyVersionNamesThePMFsState(t *testing.T) {
	ctx := context.Background()
	svc, db := MustService(t)
	e := abn("ver", 3)
	e.Policy = lift.PolicySpec{Name: "softmax"}
	if _, err := svc.Create(ctx, e); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { // rewards, continuously
		defer close(done)
		for i := range 400 {
			d, err := svc.Decide(ctx, "ver", DecideRequest{EventID: fmt.Sprint("r", i), Context: map[string]float64{"x": float64(i % 7)}})
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := svc.Reward(ctx, "ver", d.EventID, float64(i%2)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := 0; ; i++ {
		select {
		case <-done:
			goto check
		default:
		}
		if _, err := svc.Decide(ctx, "ver", DecideRequest{EventID: fmt.Sprint("p", i), Context: map[string]float64{"x": 3}}); err != nil {
			t.Fatal(err)
		}
	}
check:
	js, err := db.Log(ctx, "ver", 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	// rewards in seq order
	type rw struct {
		seq int64
		j   *lift.Joined
	}
	var rws []rw
	for _, j := range js {
		if j.Reward != nil {
			rws = append(rws, rw{j.Reward.Seq, j})
		}
	}
	slices.SortFunc(rws, func(a, b rw) int { return cmp.Compare(a.seq, b.seq) })
	bad, checked := 0, 0
	l, _ := svc.get(ctx, "ver")
	for _, j := range js {
		if j.EventID[0] != 'p' {
			continue
		}
		p, err := newPolicy(e)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rws {
			if r.seq > j.PolicyVersion {
				break
			}
			p.Learn(l.loggedEvent(r.j).Event)
		}
		pmf, err := p.PMF(l.loggedEvent(j).Context, l.actions(j.Variants))
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for k := range pmf {
			if pmf[k] != j.PMF[k] {
				bad++
				if bad <= 3 {
					t.Errorf("decision %s (policy_version %d): logged PMF %v, the policy at that version gives %v", j.EventID, j.PolicyVersion, j.PMF, pmf)
				}
				break
			}
		}
	}
	if checked == 0 {
		t.Fatal("no probe decisions")
	}
}

// TestOffPolicyIsTheRunPolicys: in an A/A test (five variants converting
// at 30%) the policy's estimate in the stats is about 0.30, as uniform's
// is. It scored the policy's current state on the rewards that state had
// learnt, which favours whichever variant was lucky: 0.35 on average.
func TestOffPolicyIsTheRunPolicys(t *testing.T) {
	ctx := context.Background()
	var sum, sumU float64
	const reps = 20
	for rep := range reps {
		svc, _ := MustService(t)
		svc.Seed = uint64(rep)
		if _, err := svc.Create(ctx, abn("aa", 5)); err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(uint64(rep), 99))
		var rewards float64
		for i := range 300 {
			d, err := svc.Decide(ctx, "aa", DecideRequest{EventID: fmt.Sprint(i)})
			if err != nil {
				t.Fatal(err)
			}
			r := 0.0
			if rng.Float64() < 0.3 {
				r = 1
			}
			rewards += r
			if _, err := svc.Reward(ctx, "aa", d.EventID, r); err != nil {
				t.Fatal(err)
			}
		}
		st, err := svc.Stats(ctx, "aa")
		if err != nil {
			t.Fatal(err)
		}
		o := st.OffPolicy
		if o.Events != 300 || math.Abs(o.Policy.SNIPS-rewards/300) > 1e-12 || math.Abs(o.Policy.IPS-rewards/300) > 1e-12 {
			t.Fatalf("rep %d: %d events, policy IPS %v SNIPS %v; want 300 and the mean reward %v", rep, o.Events, o.Policy.IPS, o.Policy.SNIPS, rewards/300)
		}
		sum += o.Policy.SNIPS
		sumU += o.Uniform.SNIPS
	}
	// 6,000 rewards: the mean's standard error is 0.006.
	if m, u := sum/reps, sumU/reps; math.Abs(m-0.3) > 0.02 || math.Abs(u-0.3) > 0.02 {
		t.Errorf("A/A at 0.30: the policy's mean SNIPS %.4f, uniform's %.4f", m, u)
	}
}

// TestCI95HoldsItsMean: at a boundary (every reward 0, or every one 1)
// the interval reaches the range's end, so that it holds the mean it is
// an interval for; without trials it is the whole range. The central
// interval of 0 successes in 10 trials was [0.2%, 28%].
func TestCI95HoldsItsMean(t *testing.T) {
	ctx := context.Background()
	svc, _ := MustService(t)
	if _, err := svc.Create(ctx, abn("edge", 3)); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{}
	for i := range 60 {
		d, err := svc.Decide(ctx, "edge", DecideRequest{EventID: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		r := map[string]float64{"v0": 0, "v1": 1, "v2": float64(i % 2)}[d.Variant]
		want[d.Variant] = r
		if _, err := svc.Reward(ctx, "edge", d.EventID, r); err != nil {
			t.Fatal(err)
		}
	}
	st, err := svc.Stats(ctx, "edge")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range st.Variants {
		lo, hi := v.CI95[0], v.CI95[1]
		switch {
		case v.Trials == 0 && (lo != 0 || hi != 1):
			t.Errorf("%s without trials: ci95 %v, want [0 1]", v.ID, v.CI95)
		case v.Trials > 0 && (v.Mean < lo || v.Mean > hi):
			t.Errorf("%s: mean %v outside ci95 %v (%d trials)", v.ID, v.Mean, v.CI95, v.Trials)
		case v.ID == "v0" && v.Trials > 0 && lo != 0, v.ID == "v1" && v.Trials > 0 && hi != 1:
			t.Errorf("%s (every reward %v): ci95 %v does not reach the end", v.ID, want[v.ID], v.CI95)
		case v.ID == "v2" && v.Trials > 2 && (lo == 0 || hi == 1):
			t.Errorf("v2 (mixed rewards): ci95 %v reaches an end", v.CI95)
		}
	}
	// Rewards whose sum carries rounding: ten of 0.3 in [0, 0.3] sum to
	// 2.9999999999999996, still every reward at the top.
	e := abn("tenths", 2)
	e.Policy = lift.PolicySpec{Name: "softmax"}
	e.RewardRange = [2]float64{0, 0.3}
	if _, err := svc.Create(ctx, e); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		d, err := svc.Decide(ctx, "tenths", DecideRequest{EventID: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Reward(ctx, "tenths", d.EventID, 0.3); err != nil {
			t.Fatal(err)
		}
	}
	if st, err = svc.Stats(ctx, "tenths"); err != nil {
		t.Fatal(err)
	}
	for _, v := range st.Variants {
		if v.Trials > 0 && (v.CI95[1] != 0.3 || v.Mean > v.CI95[1]) {
			t.Errorf("%s: every reward 0.3, mean %v, ci95 %v; want it to reach 0.3", v.ID, v.Mean, v.CI95)
		}
	}
}

package experiment

import (
	"context"
	"fmt"
	"testing"

	"lift"
)

// TestGrownExperimentRestartsTheSame: a linear experiment created with 2
// variants and grown to 100 decides the same after a restart (or on
// another replica) as the live state does. The bound on its features was
// taken from the variant count, 256 when the live policy was built and
// 204 when it was rebuilt, so of 300 context features first seen after
// the variants were added the live policy learnt 52 more.
func TestGrownExperimentRestartsTheSame(t *testing.T) {
	ctx := context.Background()
	svc, db := MustService(t)
	e := abn("grow", 2)
	e.Policy = lift.PolicySpec{Name: "softmax"}
	if _, err := svc.Create(ctx, e); err != nil {
		t.Fatal(err)
	}
	for i := 2; i < 100; i++ {
		if _, err := svc.AddVariant(ctx, "grow", lift.Variant{ID: fmt.Sprintf("v%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	// 30 rewards, each with 10 new context feature names: 300 names.
	for i := range 30 {
		c := map[string]float64{}
		for k := range 10 {
			c[fmt.Sprintf("f%03d", i*10+k)] = 1
		}
		d, err := svc.Decide(ctx, "grow", DecideRequest{EventID: fmt.Sprint("ev", i), Context: c})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Reward(ctx, "grow", d.EventID, 1); err != nil {
			t.Fatal(err)
		}
	}
	fresh := &Service{Store: db, Seed: 42}
	la, _ := svc.get(ctx, "grow")
	lb, err := fresh.get(ctx, "grow")
	if err != nil {
		t.Fatal(err)
	}
	sa, _ := la.policy.Snapshot()
	sb, _ := lb.policy.Snapshot()
	if string(sa) != string(sb) {
		t.Errorf("live and restarted policy states differ: %d vs %d bytes of snapshot", len(sa), len(sb))
	}
	probe := map[string]float64{}
	for k := 160; k < 190; k++ {
		probe[fmt.Sprintf("f%03d", k)] = 1
	}
	a, err := svc.Decide(ctx, "grow", DecideRequest{EventID: "probe-live", Context: probe})
	if err != nil {
		t.Fatal(err)
	}
	b, err := fresh.Decide(ctx, "grow", DecideRequest{EventID: "probe-fresh", Context: probe})
	if err != nil {
		t.Fatal(err)
	}
	pa, pb := map[string]float64{}, map[string]float64{}
	for _, r := range a.Ranking {
		pa[r.Variant] = r.Probability
	}
	for _, r := range b.Ranking {
		pb[r.Variant] = r.Probability
	}
	for id, p := range pa {
		if pb[id] != p {
			t.Fatalf("variant %s: live %v, restarted %v (live ranking head %v, restarted %v)", id, p, pb[id], a.Ranking[:2], b.Ranking[:2])
		}
	}
}

// TestPolicyDimIsTheServers: a linear experiment gets its bound at
// creation, others none, and a client cannot set it.
func TestPolicyDimIsTheServers(t *testing.T) {
	ctx := context.Background()
	svc, _ := MustService(t)
	e := abn("lin", 100)
	e.Policy = lift.PolicySpec{Name: "linucb"}
	got, err := svc.Create(ctx, e)
	if err != nil || got.PolicyDim != policyDim(100) {
		t.Fatalf("linucb with 100 variants: %+v, %v; want policy_dim %d", got, err, policyDim(100))
	}
	if got, err := svc.Create(ctx, abn("th", 3)); err != nil || got.PolicyDim != 0 {
		t.Errorf("thompson: policy_dim %d, %v; want 0", got.PolicyDim, err)
	}
	e = abn("set", 2)
	e.Policy = lift.PolicySpec{Name: "linucb"}
	e.PolicyDim = 1 << 20
	if _, err := svc.Create(ctx, e); lift.KindOf(err) != lift.Invalid {
		t.Errorf("a client's policy_dim: %v, want Invalid", err)
	}
}

package experiment

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"lift"
)

// TestGrownExperimentRestartsTheSame: a linear experiment created with 40
// variants and grown to 70 decides the same after a restart (or on
// another replica) as the live state does. The bound on its features was
// taken from the variant count whenever a policy was built (256 for the
// live one, 244 for one rebuilt at 70), so of 300 context features first
// seen after the variants were added the live policy learnt more.
func TestGrownExperimentRestartsTheSame(t *testing.T) {
	ctx := context.Background()
	svc, db := MustService(t)
	e := abn("grow", 40)
	e.Policy = lift.PolicySpec{Name: "softmax"}
	if _, err := svc.Create(ctx, e); err != nil {
		t.Fatal(err)
	}
	mustAddVariants(t, svc, "grow", 40, 70)
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
	if err != nil || got.PolicyDim != policyDim(200) {
		t.Fatalf("linucb with 100 variants: %+v, %v; want policy_dim %d, room for 200", got, err, policyDim(200))
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

// TestLinearExperimentGrowsWithinItsBudget: a linear experiment may grow
// to twice the variants it was created with (64 at least); past that its
// models, of the bound kept at creation, would pass the memory budget,
// and a variant more is refused, changing nothing. Grown from 2 to 1,000
// variants a linucb experiment took 1 GiB where one created with 1,000
// took 64 MiB.
func TestLinearExperimentGrowsWithinItsBudget(t *testing.T) {
	ctx := context.Background()
	svc, _ := MustService(t)
	e := abn("small", 2)
	e.Policy = lift.PolicySpec{Name: "linucb"}
	got, err := svc.Create(ctx, e)
	if err != nil || got.PolicyDim != MaxPolicyDim {
		t.Fatalf("create: %+v, %v; want policy_dim %d", got, err, MaxPolicyDim)
	}
	mustAddVariants(t, svc, "small", 2, MaxPolicyDimVariants)
	_, err = svc.AddVariant(ctx, "small", lift.Variant{ID: "one-too-many"})
	if lift.KindOf(err) != lift.Conflict || !strings.Contains(err.Error(), "memory budget") {
		t.Fatalf("variant %d: %v, want a conflict naming the budget", MaxPolicyDimVariants+1, err)
	}
	stored, err := svc.Store.GetExperiment(ctx, "small")
	if err != nil || len(stored.Variants) != MaxPolicyDimVariants {
		t.Fatalf("stored after the refusal: %d variants, %v; want %d", len(stored.Variants), err, MaxPolicyDimVariants)
	}
	// Every variant with a model of the whole bound stays in the budget.
	if need := 16 * MaxPolicyDim * MaxPolicyDim * MaxPolicyDimVariants; need > policyBudget {
		t.Fatalf("%d variants of %d features take %d bytes, past %d", MaxPolicyDimVariants, MaxPolicyDim, need, policyBudget)
	}
	// Thompson sampling keeps no such models: it grows to MaxVariants.
	if _, err := svc.Create(ctx, abn("th", 2)); err != nil {
		t.Fatal(err)
	}
	mustAddVariants(t, svc, "th", 2, 100)
}

// mustAddVariants adds variants v<from>..v<to-1> to experiment id.
func mustAddVariants(t *testing.T, svc *Service, id string, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if _, err := svc.AddVariant(context.Background(), id, lift.Variant{ID: fmt.Sprintf("v%d", i)}); err != nil {
			t.Fatalf("%s: variant %d: %v", id, i+1, err)
		}
	}
}

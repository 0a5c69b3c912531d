package bandit

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

func TestMergeEqualsOneLearner(t *testing.T) {
	for _, spec := range []string{"default", "squarecb,quadratic=true"} {
		t.Run(spec, func(t *testing.T) {
			whole := MustParsePolicy(t, spec).(*Linear)
			left := MustParsePolicy(t, spec).(*Linear)
			right := MustParsePolicy(t, spec).(*Linear)
			merged := MustParsePolicy(t, spec).(*Linear)
			acts := []Action{{ID: "a"}, {ID: "b"}, {ID: "c"}, {ID: "v", Features: map[string]float64{"size": 2}}}
			rng := rand.New(rand.NewPCG(3, 3))
			for i := range 600 {
				// Replicas see different features and magnitudes: "right"
				// meets larger values (a scale change) and a feature that
				// "left" never sees.
				ctx := Context{Vector: []float64{rng.Float64() * 10, rng.Float64()}}
				if i >= 300 {
					ctx.Vector[0] *= 9
					ctx.Features = map[string]float64{"late": rng.Float64()}
				}
				ev := Event{Context: ctx, Actions: acts, Chosen: rng.IntN(4), Reward: rng.Float64(), Probability: 0.25}
				if err := whole.Learn(ev); err != nil {
					t.Fatal(err)
				}
				half := left
				if i >= 300 {
					half = right
				}
				if err := half.Learn(ev); err != nil {
					t.Fatal(err)
				}
			}
			for _, r := range []*Linear{left, right} {
				if err := merged.Merge(r); err != nil {
					t.Fatal(err)
				}
			}
			// Solve the single learner from its statistics too: the prior
			// then sits in the same coordinates as the merged one's.
			for _, m := range whole.st.Models {
				if err := m.refresh(); err != nil {
					t.Fatal(err)
				}
			}
			if err := whole.st.Shared.refresh(); err != nil {
				t.Fatal(err)
			}
			if merged.st.T != whole.st.T {
				t.Errorf("merged T %d, want %d", merged.st.T, whole.st.T)
			}
			for i := range 50 {
				ctx := Context{Vector: []float64{rng.Float64() * 90, rng.Float64()}, Features: map[string]float64{"late": float64(i % 2)}}
				a, _ := whole.estimates(ctx, acts, false)
				b, _ := merged.estimates(ctx, acts, false)
				for k := range a {
					if math.Abs(a[k]-b[k]) > 1e-8*(1+math.Abs(a[k])) {
						t.Fatalf("action %d: one learner %v, merged replicas %v", k, a[k], b[k])
					}
				}
			}
		})
	}
}

func TestMergeRejectsMismatch(t *testing.T) {
	a := MustParsePolicy(t, "default").(*Linear)
	b := MustParsePolicy(t, "default,quadratic=true").(*Linear)
	if err := a.Merge(b); err == nil {
		t.Error("merged policies with different feature maps")
	}
	if err := a.Merge(a); err == nil {
		t.Error("a policy merged itself")
	}
}

func TestThompsonMerge(t *testing.T) {
	whole, merged := NewThompson(1), NewThompson(1)
	acts := []Action{{ID: "a"}, {ID: "b"}}
	parts := []*Thompson{NewThompson(1), NewThompson(1)}
	for i := range 100 {
		ev := Event{Actions: acts, Chosen: i % 2, Reward: float64(i % 3 % 2), Probability: 0.5}
		whole.Learn(ev)
		parts[i%2].Learn(ev)
	}
	for _, p := range parts {
		merged.Merge(p.Stats())
	}
	for _, id := range []string{"a", "b", "x" + strconv.Itoa(1)} {
		a1, b1 := whole.Posterior(id)
		a2, b2 := merged.Posterior(id)
		if a1 != a2 || b1 != b2 {
			t.Errorf("%s: one learner Beta(%v,%v), merged Beta(%v,%v)", id, a1, b1, a2, b2)
		}
	}
}

package bandit

import (
	"bytes"
	"fmt"
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

// TestLimitDim: with LimitDim, contexts that keep bringing new feature
// names (named or as a long dense vector) grow no model past the bound,
// choices still work, the bound survives Restore, and a Merge that would
// cross it is refused without changing the policy.
func TestLimitDim(t *testing.T) {
	for _, spec := range []string{"linucb", "squarecb,quadratic=true"} {
		t.Run(spec, func(t *testing.T) {
			pol, err := ParsePolicy(spec)
			if err != nil {
				t.Fatal(err)
			}
			p := pol.(*Linear)
			const bound = 16
			p.LimitDim(bound)
			actions := []Action{{ID: "a"}, {ID: "b"}, {ID: "c", Features: map[string]float64{"x": 1, "y": 2}}}
			learn := func(round int) {
				ctx := Context{Features: map[string]float64{}, Vector: make([]float64, 40)}
				for k := range 30 {
					ctx.Features[fmt.Sprintf("f%d_%d", round, k)] = float64(k + 1)
				}
				for i := range ctx.Vector {
					ctx.Vector[i] = float64(i + 1)
				}
				if _, err := p.PMF(ctx, actions); err != nil {
					t.Fatal(err)
				}
				for chosen := range actions {
					if err := p.Learn(Event{Context: ctx, Actions: actions, Chosen: chosen, Reward: 1, Probability: 0.5}); err != nil {
						t.Fatal(err)
					}
				}
			}
			check := func(when string) {
				p.mu.RLock()
				defer p.mu.RUnlock()
				for id, m := range p.st.Models {
					if m.D > bound {
						t.Errorf("%s: model %s has %d dimensions, bound %d", when, id, m.D, bound)
					}
				}
				if m := p.st.Shared; m != nil && m.D > bound {
					t.Errorf("%s: shared model has %d dimensions, bound %d", when, m.D, bound)
				}
			}
			for r := range 5 {
				learn(r)
			}
			check("after learning")
			snap, err := p.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Restore(snap); err != nil {
				t.Fatal(err)
			}
			learn(9)
			check("after Restore")

			other, _ := ParsePolicy(spec)
			o := other.(*Linear)
			for k := range 40 {
				ctx := Context{Features: map[string]float64{fmt.Sprintf("other%d", k): 1}}
				if err := o.Learn(Event{Context: ctx, Actions: actions, Chosen: 0, Reward: 1, Probability: 0.5}); err != nil {
					t.Fatal(err)
				}
			}
			before, _ := p.Snapshot()
			if err := p.Merge(o); err == nil {
				t.Error("Merge past the bound succeeded")
			}
			if after, _ := p.Snapshot(); !bytes.Equal(before, after) {
				t.Error("a refused Merge changed the policy")
			}
		})
	}
}

// TestLimitDimKeepsRoomForActionFeatures: one context that alone would
// fill the bound leaves room for the variants' own features, which tell
// variants apart in the shared model; learning then still prefers the
// variant that pays.
func TestLimitDimKeepsRoomForActionFeatures(t *testing.T) {
	pol, err := ParsePolicy("epsilon-greedy:0.1")
	if err != nil {
		t.Fatal(err)
	}
	p := pol.(*Linear)
	p.LimitDim(256)
	actions := []Action{{ID: "v0", Features: map[string]float64{"a": 1}}, {ID: "v1", Features: map[string]float64{"b": 1}}}
	wide := Context{Features: map[string]float64{}}
	for k := range 255 {
		wide.Features[fmt.Sprint("k", k)] = 1
	}
	if err := p.Learn(Event{Context: wide, Actions: actions, Chosen: 0, Reward: 0, Probability: 0.5}); err != nil {
		t.Fatal(err)
	}
	for i := range 400 {
		chosen := i % 2
		if err := p.Learn(Event{Actions: actions, Chosen: chosen, Reward: float64(1 - chosen), Probability: 0.5}); err != nil {
			t.Fatal(err)
		}
	}
	pmf, err := p.PMF(Context{}, actions)
	if err != nil {
		t.Fatal(err)
	}
	if !(pmf[0] > 0.9) {
		t.Errorf("after learning that v0 pays, PMF = %v; the variants' features were not learnt", pmf)
	}
}

package gbdt

import (
	"math"
	"path/filepath"
	"testing"
)

// TestContributionsSumToMargin checks SHAP's local accuracy on the
// reference rows: the values and the bias add up to the margin.
func TestContributionsSumToMargin(t *testing.T) {
	for _, rf := range referenceFiles {
		t.Run(rf.name, func(t *testing.T) {
			b := MustLoadFile(t, filepath.Join(sharedData, rf.model))
			for i, c := range MustReadReference(t, filepath.Join(sharedData, rf.preds)) {
				phi := b.Contributions(c.x)
				if len(phi) != b.NumFeature+1 {
					t.Fatalf("len %d, want %d", len(phi), b.NumFeature+1)
				}
				sum := 0.0
				for _, v := range phi {
					sum += float64(v)
				}
				if m := float64(b.PredictMargin(c.x)); math.Abs(sum-m) > 1e-5*(1+math.Abs(m)) {
					t.Errorf("row %d: contributions sum to %v, margin %v", i, sum, m)
				}
			}
		})
	}
}

// TestContributionsExactShapley compares TreeSHAP with Shapley values
// computed by brute force over every subset of the features a tree uses,
// with the same path-dependent conditional expectation (unknown features
// follow both children weighted by cover).
func TestContributionsExactShapley(t *testing.T) {
	b := MustLoadFile(t, filepath.Join(sharedData, "xgb_reference_model_higgs_sqerr.json"))
	cases := MustReadReference(t, filepath.Join(sharedData, "xgb_reference_predictions_higgs_sqerr.csv"))
	for ti := range b.Trees {
		one := b.Truncate(ti + 1)
		one.Trees = one.Trees[ti:]
		one.BaseScore = 0
		tr := &one.Trees[0]
		var used []int32
		seen := map[int32]bool{}
		for i, l := range tr.Left {
			if l >= 0 && !seen[tr.SplitIndex[i]] {
				seen[tr.SplitIndex[i]] = true
				used = append(used, tr.SplitIndex[i])
			}
		}
		for ci, c := range cases[:8] {
			want := bruteShapley(tr, used, c.x)
			got := one.Contributions(c.x)
			for k, f := range used {
				if math.Abs(float64(got[f])-want[k]) > 1e-5 {
					t.Errorf("tree %d row %d feature %d: TreeSHAP %v, exact %v", ti, ci, f, got[f], want[k])
				}
			}
		}
	}
}

func bruteShapley(t *Tree, used []int32, x []float32) []float64 {
	m := len(used)
	expect := func(mask int) float64 {
		var walk func(i int32) float64
		walk = func(i int32) float64 {
			if t.Left[i] < 0 {
				return float64(t.SplitCond[i])
			}
			f := t.SplitIndex[i]
			for k, u := range used {
				if u == f && mask&(1<<k) != 0 {
					v := x[f]
					switch {
					case v != v && t.DefaultLeft[i], v < t.SplitCond[i]:
						return walk(t.Left[i])
					}
					return walk(t.Right[i])
				}
			}
			h := float64(t.SumHessian[i])
			return float64(t.SumHessian[t.Left[i]])/h*walk(t.Left[i]) + float64(t.SumHessian[t.Right[i]])/h*walk(t.Right[i])
		}
		return walk(0)
	}
	fact := func(n int) float64 {
		r := 1.0
		for i := 2; i <= n; i++ {
			r *= float64(i)
		}
		return r
	}
	phi := make([]float64, m)
	for k := range m {
		for s := 0; s < 1<<m; s++ {
			if s&(1<<k) != 0 {
				continue
			}
			size := 0
			for j := range m {
				if s&(1<<j) != 0 {
					size++
				}
			}
			w := fact(size) * fact(m-size-1) / fact(m)
			phi[k] += w * (expect(s|1<<k) - expect(s))
		}
	}
	return phi
}

package gbdt

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"lift/dataset"
)

// MustWriteF32 writes a raw little-endian float32 array.
func MustWriteF32(tb testing.TB, path string, v []float32) {
	tb.Helper()
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// withMissing returns a copy of d with a seeded fraction of values NaN.
func withMissing(d *dataset.Dense, frac float64, seed uint64) *dataset.Dense {
	rng := rand.New(rand.NewPCG(seed, 1))
	c := *d
	c.X = append([]float32(nil), d.X...)
	for i := range c.X {
		if rng.Float64() < frac {
			c.X[i] = float32(math.NaN())
		}
	}
	return &c
}

// withCTRLabels returns a copy of d whose labels are click-through rates
// (fractions) with impression counts as weights, derived from the original
// 0/1 labels with seeded noise.
func withCTRLabels(d *dataset.Dense, seed uint64) *dataset.Dense {
	rng := rand.New(rand.NewPCG(seed, 2))
	c := *d
	c.Label = make([]float32, d.Rows)
	c.Weight = make([]float32, d.Rows)
	for i := range d.Rows {
		imp := 1 + rng.IntN(50)
		p := 0.3 + 0.4*float64(d.Label[i])
		clicks := 0
		for range imp {
			if rng.Float64() < p {
				clicks++
			}
		}
		c.Label[i] = float32(clicks) / float32(imp)
		c.Weight[i] = float32(imp)
	}
	return &c
}

// TestTrainedModelsInXGBoost trains with Lift, saves XGBoost JSON and has
// real XGBoost 1.7 load the file and predict: its margins and predictions
// must equal Lift's within 1e-6. XGBoost also trains on the same data with
// the same parameters, and (without sampling, whose random streams differ)
// the first 10 trees must be the same trees: same splits, thresholds and
// default directions, leaf values within 1e-5. In practice every tree is.
func TestTrainedModelsInXGBoost(t *testing.T) {
	MustHaveXGBoost(t)
	higgs := MustReadData(t, "higgs_lgbm_binary.train.tsv.gz")
	higgsTest := MustReadData(t, "higgs_lgbm_binary.test.tsv.gz")
	type xgbParams map[string]any
	cases := []struct {
		name      string
		train     *dataset.Dense
		params    func() Params
		xgb       xgbParams
		sameTrees int // how many leading trees must match XGBoost's
	}{
		{"logistic_missing", withMissing(higgs, 0.05, 7), func() Params {
			p := DefaultParams()
			p.Objective, p.Eta, p.Rounds = BinaryLogistic, 0.1, 20
			return p
		}, xgbParams{"objective": "binary:logistic", "eta": 0.1}, 10},
		{"sqerr_depth4", higgs, func() Params {
			p := DefaultParams()
			p.Eta, p.MaxDepth, p.Rounds = 0.1, 4, 20
			return p
		}, xgbParams{"objective": "reg:squarederror", "eta": 0.1, "max_depth": 4}, 10},
		{"ctr_weighted_regularised", withCTRLabels(withMissing(higgs, 0.02, 8), 9), func() Params {
			p := DefaultParams()
			p.Objective, p.Rounds, p.MaxDepth = Logistic, 15, 5
			p.Alpha, p.Lambda, p.Gamma, p.MinChildWeight, p.MaxBin = 0.5, 2, 0.1, 5, 64
			p.BaseScore = 0.4
			return p
		}, xgbParams{"objective": "reg:logistic", "max_depth": 5, "alpha": 0.5, "lambda": 2, "gamma": 0.1,
			"min_child_weight": 5, "max_bin": 64, "base_score": 0.4}, 10},
		{"sampled", higgs, func() Params {
			p := DefaultParams()
			p.Objective, p.Rounds, p.Subsample, p.ColsampleBytree, p.Seed = BinaryLogistic, 10, 0.7, 0.5, 3
			return p
		}, xgbParams{"objective": "binary:logistic", "subsample": 0.7, "colsample_bytree": 0.5}, 0},
	}
	dir := t.TempDir()
	test := withMissing(higgsTest, 0.05, 11)
	MustWriteF32(t, filepath.Join(dir, "test_x.f32"), test.X)
	var manifest []map[string]any
	models := map[string]*Booster{}
	for _, c := range cases {
		b, _ := MustTrain(t, c.params(), c.train)
		if err := b.SaveFile(filepath.Join(dir, c.name+".lift.json")); err != nil {
			t.Fatal(err)
		}
		models[c.name] = b
		MustWriteF32(t, filepath.Join(dir, c.name+".x.f32"), c.train.X)
		MustWriteF32(t, filepath.Join(dir, c.name+".y.f32"), c.train.Label)
		var weight any
		if c.train.Weight != nil {
			weight = c.name + ".w.f32"
			MustWriteF32(t, filepath.Join(dir, c.name+".w.f32"), c.train.Weight)
		}
		manifest = append(manifest, map[string]any{
			"name": c.name, "rows": c.train.Rows, "cols": c.train.Cols,
			"x": c.name + ".x.f32", "label": c.name + ".y.f32", "weight": weight,
			"params": c.xgb, "rounds": c.params().Rounds,
			"test_x": "test_x.f32", "test_rows": test.Rows,
		})
	}
	raw, err := json.Marshal(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "testdata/interop_train.py", dir)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1", "OMP_WAIT_POLICY=PASSIVE")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("interop_train.py: %v\n%s", err, out)
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := models[c.name]
			for _, margin := range []bool{true, false} {
				suffix := ".lift_pred.f32"
				if margin {
					suffix = ".lift_margin.f32"
				}
				theirs := MustReadF32(t, filepath.Join(dir, c.name+suffix))
				ours := b.PredictBatch(test, margin, 1)
				if len(theirs) != len(ours) {
					t.Fatalf("XGBoost gave %d predictions for %d rows", len(theirs), len(ours))
				}
				for i := range ours {
					if d := math.Abs(float64(ours[i] - theirs[i])); d > 1e-6 {
						t.Fatalf("row %d (margin %v): Lift %v, XGBoost on Lift's model %v (|diff| %g)", i, margin, ours[i], theirs[i], d)
					}
				}
			}
			xgbModel := MustLoadFile(t, filepath.Join(dir, c.name+".xgb.json"))
			same := 0
			for same < len(b.Trees) && same < len(xgbModel.Trees) && treeDiff(&b.Trees[same], &xgbModel.Trees[same]) == "" {
				same++
			}
			t.Logf("%d of %d trees identical to XGBoost's", same, len(b.Trees))
			if same < c.sameTrees {
				t.Errorf("tree %d differs from XGBoost's: %s", same, treeDiff(&b.Trees[same], &xgbModel.Trees[same]))
			}
		})
	}
}

// treeDiff describes the first difference between two trees, or returns
// "" when they have the same nodes, splits and default directions and
// their leaf values, base weights and covers agree within 1e-5 (relative
// for covers and gains).
func treeDiff(a, b *Tree) string {
	if len(a.Left) != len(b.Left) {
		return fmt.Sprintf("%d nodes vs %d", len(a.Left), len(b.Left))
	}
	near := func(x, y float32, tol float64) bool {
		return math.Abs(float64(x-y)) <= tol*max(1, math.Abs(float64(y)))
	}
	for i := range a.Left {
		switch {
		case a.Left[i] != b.Left[i] || a.Right[i] != b.Right[i]:
			return fmt.Sprintf("node %d: children %d,%d vs %d,%d", i, a.Left[i], a.Right[i], b.Left[i], b.Right[i])
		case a.Left[i] >= 0 && (a.SplitIndex[i] != b.SplitIndex[i] || a.SplitCond[i] != b.SplitCond[i] || a.DefaultLeft[i] != b.DefaultLeft[i]):
			return fmt.Sprintf("node %d: split f%d < %v (default left %v) vs f%d < %v (%v)", i,
				a.SplitIndex[i], a.SplitCond[i], a.DefaultLeft[i], b.SplitIndex[i], b.SplitCond[i], b.DefaultLeft[i])
		case a.Left[i] < 0 && !near(a.SplitCond[i], b.SplitCond[i], 1e-5):
			return fmt.Sprintf("node %d: leaf %v vs %v", i, a.SplitCond[i], b.SplitCond[i])
		case !near(a.BaseWeight[i], b.BaseWeight[i], 1e-5):
			return fmt.Sprintf("node %d: base weight %v vs %v", i, a.BaseWeight[i], b.BaseWeight[i])
		case !near(a.SumHessian[i], b.SumHessian[i], 1e-5):
			return fmt.Sprintf("node %d: cover %v vs %v", i, a.SumHessian[i], b.SumHessian[i])
		case !near(a.LossChange[i], b.LossChange[i], 1e-4):
			return fmt.Sprintf("node %d: gain %v vs %v", i, a.LossChange[i], b.LossChange[i])
		}
	}
	return ""
}

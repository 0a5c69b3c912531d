package gbdt

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"lift/dataset"
)

// trainData holds copies of the shared Higgs subset and agaricus files
// (see testdata/README.md).
const trainData = "testdata/"

// MustReadData reads a file from testdata or fails the test.
func MustReadData(tb testing.TB, name string) *dataset.Dense {
	tb.Helper()
	d, err := dataset.ReadFile(trainData+name, dataset.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// MustTrain trains or fails the test.
func MustTrain(tb testing.TB, p Params, train *dataset.Dense, evals ...EvalSet) (*Booster, *TrainResult) {
	tb.Helper()
	b, res, err := Train(context.Background(), p, train, evals, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return b, res
}

// configA is BENCHMARKS.md's config A: binary:logistic, eta 0.1, depth 6,
// 100 rounds; configC is the seed's reg:squarederror, depth 4, eta 0.1.
func configA() Params {
	p := DefaultParams()
	p.Objective = BinaryLogistic
	p.Eta = 0.1
	p.EvalMetrics = []string{"logloss", "auc"}
	return p
}

func configC() Params {
	p := DefaultParams()
	p.Eta = 0.1
	p.MaxDepth = 4
	p.EvalMetrics = []string{"rmse", "auc"}
	return p
}

// TestParityWithXGBoost checks test AUC against XGBoost 1.7.4's numbers in
// BENCHMARKS.md (tolerance 0.002) with the same parameters, defaults
// included.
func TestParityWithXGBoost(t *testing.T) {
	cases := []struct {
		name        string
		train, test string
		params      func() Params
		xgbAUC      float64
	}{
		{"higgs/A", "higgs_lgbm_binary.train.tsv.gz", "higgs_lgbm_binary.test.tsv.gz", configA, 0.8264},
		{"higgs/C", "higgs_lgbm_binary.train.tsv.gz", "higgs_lgbm_binary.test.tsv.gz", configC, 0.8211},
		{"agaricus/A", "agaricus.txt.train.libsvm.gz", "agaricus.txt.test.libsvm.gz", configA, 1.0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, te := MustReadData(t, c.train), MustReadData(t, c.test)
			p := c.params()
			_, res := MustTrain(t, p, tr, EvalSet{"valid", te})
			auc := res.Metrics["valid"]["auc"]
			t.Logf("test AUC %.4f (XGBoost %.4f), metrics %v", auc, c.xgbAUC, res.Metrics["valid"])
			if math.Abs(auc-c.xgbAUC) > 0.002 {
				t.Errorf("test AUC %.4f, XGBoost %.4f: differs by more than 0.002", auc, c.xgbAUC)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		modify func(*Params)
		want   string // a word the error must contain; "" = valid
	}{
		{"defaults", func(*Params) {}, ""},
		{"empty objective means squared error", func(p *Params) { p.Objective = "" }, ""},
		{"unknown objective", func(p *Params) { p.Objective = "multi:softmax" }, "objective"},
		{"zero rounds", func(p *Params) { p.Rounds = 0 }, "rounds"},
		{"zero eta", func(p *Params) { p.Eta = 0 }, "eta"},
		{"NaN eta", func(p *Params) { p.Eta = math.NaN() }, "eta"},
		{"negative lambda", func(p *Params) { p.Lambda = -1 }, "lambda"},
		{"negative alpha", func(p *Params) { p.Alpha = -1 }, "alpha"},
		{"negative gamma", func(p *Params) { p.Gamma = -0.1 }, "gamma"},
		{"negative min_child_weight", func(p *Params) { p.MinChildWeight = -1 }, "min_child_weight"},
		{"subsample above 1", func(p *Params) { p.Subsample = 1.5 }, "subsample"},
		{"zero colsample", func(p *Params) { p.ColsampleBytree = 0 }, "colsample_bytree"},
		{"zero depth", func(p *Params) { p.MaxDepth = 0 }, "max_depth"},
		{"one bin", func(p *Params) { p.MaxBin = 1 }, "max_bin"},
		{"logistic base_score 1", func(p *Params) { p.Objective, p.BaseScore = BinaryLogistic, 1 }, "base_score"},
		{"squared error base_score 7", func(p *Params) { p.BaseScore = 7 }, ""},
		{"infinite base_score", func(p *Params) { p.BaseScore = math.Inf(1) }, "base_score"},
		{"logistic base_score 1 as a float32", func(p *Params) { p.Objective, p.BaseScore = BinaryLogistic, 0.999999999 }, "base_score"},
		{"logistic base_score 0 as a float32", func(p *Params) { p.Objective, p.BaseScore = BinaryLogistic, 1e-46 }, "base_score"},
		{"base_score past float32", func(p *Params) { p.BaseScore = 1e39 }, "base_score"},
		{"negative early stopping", func(p *Params) { p.EarlyStopping = -1 }, "early_stopping"},
		{"unknown metric", func(p *Params) { p.EvalMetrics = []string{"auc", "mape"} }, "mape"},
		{"negative threads", func(p *Params) { p.Threads = -2 }, "nthread"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := DefaultParams()
			c.modify(&p)
			err := p.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("error %v, want one naming %q", err, c.want)
			}
		})
	}
}

// tinyData is a 6-row, 2-feature set where feature 0 separates the labels.
func tinyData() *dataset.Dense {
	return &dataset.Dense{Rows: 6, Cols: 2,
		X:     []float32{1, 5, 2, 5, 3, 6, 7, 6, 8, 5, 9, 6},
		Label: []float32{0, 0, 0, 1, 1, 1},
		Names: []string{"a", "b"},
	}
}

func TestTrainRejectsBadData(t *testing.T) {
	nan := float32(math.NaN())
	cases := []struct {
		name   string
		obj    Objective
		modify func(*dataset.Dense)
		want   string
	}{
		{"no rows", SquaredError, func(d *dataset.Dense) { d.Rows, d.X, d.Label = 0, nil, nil }, "no rows"},
		{"short X", SquaredError, func(d *dataset.Dense) { d.X = d.X[:5] }, "values"},
		{"short labels", SquaredError, func(d *dataset.Dense) { d.Label = d.Label[:2] }, "labels"},
		{"NaN label", SquaredError, func(d *dataset.Dense) { d.Label[3] = nan }, "row 4"},
		{"logistic label above 1", BinaryLogistic, func(d *dataset.Dense) { d.Label[2] = 2 }, "row 3"},
		{"negative weight", SquaredError, func(d *dataset.Dense) { d.Weight = []float32{1, 1, -1, 1, 1, 1} }, "row 3"},
		{"all weights zero", SquaredError, func(d *dataset.Dense) { d.Weight = make([]float32, 6) }, "weight"},
		{"infinite feature", SquaredError, func(d *dataset.Dense) { d.X[7] = float32(math.Inf(1)) }, "row 4, feature 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := tinyData()
			c.modify(d)
			p := DefaultParams()
			p.Objective = c.obj
			_, _, err := Train(context.Background(), p, d, nil, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one mentioning %q", err, c.want)
			}
			if errors.Is(err, ErrDiverged) {
				t.Errorf("error %v is ErrDiverged; bad data is not a diverged run", err)
			}
		})
	}
	t.Run("bad eval set", func(t *testing.T) {
		v := tinyData()
		v.Label[0] = nan
		_, _, err := Train(context.Background(), DefaultParams(), tinyData(), []EvalSet{{"valid", v}}, nil)
		if err == nil || !strings.Contains(err.Error(), `eval set "valid"`) {
			t.Errorf("error %v, want one naming the eval set", err)
		}
	})
	t.Run("leaf values past float32", func(t *testing.T) {
		p := DefaultParams()
		p.Eta = 1e308
		p.MinChildWeight = 0
		b, _, err := Train(context.Background(), p, tinyData(), nil, nil)
		if err == nil || !strings.Contains(err.Error(), "round 1") || !strings.Contains(err.Error(), "is not finite (is eta") {
			t.Errorf("Train with eta 1e308 = %v, %v; want an error naming the round and eta", b, err)
		}
		// The trainer tells the caller's fault from a bug by this.
		if !errors.Is(err, ErrDiverged) {
			t.Errorf("Train with eta 1e308: error %v is not ErrDiverged", err)
		}
	})
	// As XGBoost, a requested auc or logloss on labels outside [0, 1] is
	// refused, and before training rather than after it.
	for _, m := range []string{"auc", "logloss"} {
		t.Run(m+" on labels outside [0, 1]", func(t *testing.T) {
			d := tinyData()
			d.Label[4] = 4
			p := DefaultParams()
			p.EvalMetrics = []string{"rmse", m}
			_, _, err := Train(context.Background(), p, tinyData(), []EvalSet{{"valid", d}}, nil)
			if err == nil || !strings.Contains(err.Error(), `eval set "valid": metric `+m+": row 5: label 4 is outside [0, 1]") {
				t.Errorf("error %v, want one naming the eval set, %s, the row and the label", err, m)
			}
		})
	}
	t.Run("early stopping without eval set", func(t *testing.T) {
		p := DefaultParams()
		p.EarlyStopping = 3
		if _, _, err := Train(context.Background(), p, tinyData(), nil, nil); err == nil {
			t.Error("no error")
		}
	})
}

func TestTrainHonoursCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := Train(ctx, DefaultParams(), tinyData(), nil, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

// TestTinyTree checks a hand-computable first tree: squared error, base
// 0.5, lambda 1, min_child_weight 1, eta 0.3. Gradients are 0.5 for the
// three zeros and -0.5 for the three ones; the best split is feature 0
// between 3 and 7, with left weight -1.5/(3+1) and right 1.5/(3+1).
func TestTinyTree(t *testing.T) {
	p := DefaultParams()
	p.Rounds, p.MaxDepth = 1, 1
	b, _ := MustTrain(t, p, tinyData())
	tr := b.Trees[0]
	if len(tr.Left) != 3 || tr.SplitIndex[0] != 0 || tr.SplitCond[0] != 7 {
		t.Fatalf("tree %+v: want a split on feature 0 at 7", tr)
	}
	wantGain := float32(1.5*1.5/4 + 1.5*1.5/4 - 0)
	if math.Abs(float64(tr.LossChange[0]-wantGain)) > 1e-6 {
		t.Errorf("gain %v, want %v", tr.LossChange[0], wantGain)
	}
	if l, r := tr.SplitCond[tr.Left[0]], tr.SplitCond[tr.Right[0]]; l != float32(-0.375)*0.3 || r != float32(0.375)*0.3 {
		t.Errorf("leaves %v, %v, want %v, %v", l, r, -0.375*0.3, 0.375*0.3)
	}
	if tr.SumHessian[0] != 6 || tr.BaseWeight[0] != 0 || tr.BaseWeight[1] != tr.SplitCond[1] {
		t.Errorf("cover %v, base weights %v: want cover 6, root weight 0, leaf base weight = leaf value", tr.SumHessian[0], tr.BaseWeight)
	}
	if b.NumFeature != 2 || !slices.Equal(b.FeatureNames, []string{"a", "b"}) || b.BaseScore != 0.5 || b.Objective != SquaredError {
		t.Errorf("booster %+v: want 2 named features, base score 0.5, reg:squarederror", b)
	}
}

// TestMissingValuesLearnDirection builds data where missing values behave
// like large values: the split must send them right, and a row with the
// feature missing must be predicted like the large ones.
func TestMissingValuesLearnDirection(t *testing.T) {
	nan := float32(math.NaN())
	for _, missingLike := range []string{"small", "large"} {
		t.Run(missingLike, func(t *testing.T) {
			d := &dataset.Dense{Rows: 40, Cols: 1, X: make([]float32, 40), Label: make([]float32, 40)}
			for i := range 40 {
				switch {
				case i%4 == 0:
					d.X[i] = nan
					if missingLike == "large" {
						d.Label[i] = 1
					}
				case i < 20:
					d.X[i] = float32(i)
				default:
					d.X[i], d.Label[i] = float32(i), 1
				}
			}
			p := DefaultParams()
			p.Rounds, p.MaxDepth, p.Objective = 1, 1, BinaryLogistic
			b, _ := MustTrain(t, p, d)
			tr := b.Trees[0]
			if want := missingLike == "small"; tr.DefaultLeft[0] != want {
				t.Errorf("default left %v, want %v", tr.DefaultLeft[0], want)
			}
		})
	}
}

// TestWeightsEqualRepeatedRows: weight 2 on a row must train the same
// trees as the row appearing twice.
func TestWeightsEqualRepeatedRows(t *testing.T) {
	base := synthData(300, 5)
	weighted := *base
	weighted.Weight = make([]float32, base.Rows)
	repeated := &dataset.Dense{Cols: base.Cols}
	for i := range base.Rows {
		w := 1 + i%3
		weighted.Weight[i] = float32(w)
		for range w {
			repeated.X = append(repeated.X, base.Row(i)...)
			repeated.Label = append(repeated.Label, base.Label[i])
			repeated.Rows++
		}
	}
	p := configA()
	p.Rounds, p.MaxDepth = 5, 3
	a, _ := MustTrain(t, p, &weighted)
	b, _ := MustTrain(t, p, repeated)
	for i := range a.Trees {
		if d := treeDiff(&a.Trees[i], &b.Trees[i]); d != "" {
			t.Fatalf("tree %d: %s", i, d)
		}
	}
}

// TestDeterministic: the same seed gives the same model whatever the
// number of threads; another seed gives another model when sampling.
func TestDeterministic(t *testing.T) {
	d := synthData(20000, 6)
	p := configA()
	p.Rounds, p.Subsample, p.ColsampleBytree, p.Seed = 8, 0.8, 0.7, 42
	var models []*Booster
	for _, threads := range []int{1, 2, 3} {
		p.Threads = threads
		b, _ := MustTrain(t, p, d)
		models = append(models, b)
	}
	for i := 1; i < len(models); i++ {
		for j := range models[0].Trees {
			if d := treeDiff(&models[0].Trees[j], &models[i].Trees[j]); d != "" {
				t.Fatalf("threads %d vs 1, tree %d: %s", i+1, j, d)
			}
		}
	}
	p.Seed = 43
	other, _ := MustTrain(t, p, d)
	if treeDiff(&models[0].Trees[0], &other.Trees[0]) == "" && treeDiff(&models[0].Trees[1], &other.Trees[1]) == "" {
		t.Error("seeds 42 and 43 trained the same first trees")
	}
}

// TestEarlyStopping: with a tiny eta and many rounds on noise, the
// validation metric must stop improving; training stops EarlyStopping
// rounds after the best one, which the result and booster report.
func TestEarlyStopping(t *testing.T) {
	train, valid := synthData(3000, 7), synthData(1000, 8)
	p := configA()
	p.Eta, p.Rounds, p.EarlyStopping = 0.5, 200, 5
	p.EvalMetrics = []string{"auc", "logloss"} // logloss, the last, decides
	var progress strings.Builder
	b, res, err := Train(context.Background(), p, train, []EvalSet{{"train", train}, {"valid", valid}}, &progress)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rounds >= 200 || res.Rounds != res.BestIteration+1+5 || len(b.Trees) != res.Rounds {
		t.Fatalf("rounds %d, best %d, trees %d: want to stop 5 rounds after the best", res.Rounds, res.BestIteration, len(b.Trees))
	}
	h := res.History["valid"]["logloss"]
	if len(h) != res.Rounds {
		t.Fatalf("%d history entries for %d rounds", len(h), res.Rounds)
	}
	for i, v := range h {
		if v < h[res.BestIteration] {
			t.Errorf("round %d logloss %v beats the best round %d's %v", i, v, res.BestIteration, h[res.BestIteration])
		}
	}
	if res.Metrics["valid"]["logloss"] != h[res.BestIteration] || b.BestIteration != res.BestIteration {
		t.Errorf("metrics %v and booster best %d do not report round %d", res.Metrics, b.BestIteration, res.BestIteration)
	}
	if b.Attributes["best_iteration"] != strconv.Itoa(res.BestIteration) {
		t.Errorf("attributes %v", b.Attributes)
	}
	// The training eval set reuses the training predictions: its logloss
	// must keep falling.
	th := res.History["train"]["logloss"]
	if th[len(th)-1] >= th[0] {
		t.Errorf("train logloss went from %v to %v", th[0], th[len(th)-1])
	}
	if !strings.Contains(progress.String(), "stopping") {
		t.Errorf("progress did not report stopping:\n%s", progress.String())
	}
}

// TestGammaAndMinChildWeightPrune: a huge gamma or min_child_weight leaves
// every tree a single leaf.
func TestGammaAndMinChildWeightPrune(t *testing.T) {
	d := synthData(2000, 9)
	for _, c := range []struct {
		name   string
		modify func(*Params)
	}{{"gamma", func(p *Params) { p.Gamma = 1e9 }}, {"min_child_weight", func(p *Params) { p.MinChildWeight = 1e9 }}} {
		t.Run(c.name, func(t *testing.T) {
			p := configA()
			p.Rounds = 3
			c.modify(&p)
			b, _ := MustTrain(t, p, d)
			for i, tr := range b.Trees {
				if len(tr.Left) != 1 {
					t.Errorf("tree %d has %d nodes, want 1", i, len(tr.Left))
				}
			}
		})
	}
}

func TestEstimateBaseScore(t *testing.T) {
	cases := []struct {
		obj           Objective
		label, weight []float32
		want          float64
	}{
		{SquaredError, []float32{1, 2, 6}, nil, 3},
		{SquaredError, []float32{1, 2}, []float32{3, 1}, 1.25},
		{BinaryLogistic, []float32{0.01, 0.03}, []float32{100, 300}, 0.025},
		{BinaryLogistic, []float32{0, 0}, nil, 1e-6},
	}
	for _, c := range cases {
		got, err := EstimateBaseScore(c.obj, c.label, c.weight)
		if err != nil || math.Abs(got-c.want) > 1e-9 {
			t.Errorf("EstimateBaseScore(%s, %v, %v) = %v, %v; want %v", c.obj, c.label, c.weight, got, err, c.want)
		}
	}
	if _, err := EstimateBaseScore(BinaryLogistic, []float32{2}, nil); err == nil {
		t.Error("label 2 for logistic gave no error")
	}
}

// TestEvalHistoryMatchesPrediction: the metrics recorded while training
// (from margins kept up to date tree by tree, the last level's added as
// rows are routed, through the inline sigmoid) equal the metrics of the
// finished model's own predictions, bit for bit, on the training set and
// on a narrower evaluation set with missing values, with and without
// subsampling.
func TestEvalHistoryMatchesPrediction(t *testing.T) {
	train, valid := synthData(3000, 21), synthData(1500, 22)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range valid.X {
		if rng.IntN(10) == 0 {
			valid.X[i] = float32(math.NaN())
		}
	}
	// One column fewer: the model's last feature is missing in every row.
	narrow := &dataset.Dense{Rows: valid.Rows, Cols: valid.Cols - 1, Label: valid.Label}
	for r := range valid.Rows {
		narrow.X = append(narrow.X, valid.Row(r)[:valid.Cols-1]...)
	}
	for _, sub := range []float64{1, 0.6} {
		p := configA()
		p.Rounds, p.Subsample, p.Seed = 12, sub, 3
		p.EvalMetrics = []string{"logloss", "rmse"}
		b, res, err := Train(context.Background(), p, train, []EvalSet{{"train", train}, {"valid", narrow}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range []struct {
			name string
			d    *dataset.Dense
		}{{"train", train}, {"valid", narrow}} {
			pred := b.PredictBatch(e.d, false, 1)
			for _, m := range p.EvalMetrics {
				want, err := Metric(m, pred, e.d.Label, e.d.Weight)
				if err != nil {
					t.Fatal(err)
				}
				h := res.History[e.name][m]
				if got := h[len(h)-1]; math.Float64bits(got) != math.Float64bits(want) {
					t.Errorf("subsample %v, %s %s: last round recorded %v, the model's predictions give %v", sub, e.name, m, got, want)
				}
			}
		}
	}
}

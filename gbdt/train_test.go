package gbdt

import (
	"context"
	"math"
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

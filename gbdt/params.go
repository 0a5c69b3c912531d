package gbdt

import (
	"fmt"
	"math"
	"strings"
)

// Params are the training parameters, spelled and defaulted as XGBoost's
// tree_method=hist so that "the same parameters" means the same model.
type Params struct {
	// Objective is the loss; the zero value means reg:squarederror, as in
	// XGBoost.
	Objective Objective
	// Rounds is the number of boosting rounds (trees); 100 is the CLI default.
	Rounds int
	// Eta is the learning rate that scales every leaf value.
	Eta float64
	// MinChildWeight is the smallest hessian sum a child may have.
	MinChildWeight float64
	// Lambda is the L2 penalty on leaf weights.
	Lambda float64
	// Alpha is the L1 penalty on leaf weights.
	Alpha float64
	// Gamma (min_split_loss) is the smallest loss reduction a split must make.
	Gamma float64
	// Subsample is the fraction of rows sampled (seeded) for each tree.
	Subsample float64
	// ColsampleBytree is the fraction of features sampled (seeded) per tree.
	ColsampleBytree float64
	// MaxDepth is the depth of every tree (depth-wise growth); at least 1.
	MaxDepth int
	// MaxBin is the number of histogram bins per feature (2..65535).
	MaxBin int
	// BaseScore is the initial prediction: a probability for the logistic
	// objectives, a margin for reg:squarederror. NaN means the default,
	// 0.5 for every objective, as in XGBoost 1.7 (the version Lift is
	// checked against): the same parameters then give the same trees.
	// XGBoost >= 2.0 estimates it from the labels instead; for data whose
	// mean is far from 0.5, such as CTR, pass EstimateBaseScore's value.
	BaseScore float64
	// EarlyStopping stops training when the last metric on the last
	// evaluation set has not improved for this many rounds (0 = off).
	EarlyStopping int
	// EvalMetrics are evaluated on every evaluation set each round; empty
	// means the objective's default (rmse or logloss).
	EvalMetrics []string
	// Threads is the number of worker goroutines; 0 means runtime.NumCPU().
	Threads int
	// Seed seeds row and feature sampling.
	Seed uint64
}

// DefaultParams returns XGBoost's defaults: eta 0.3, max_depth 6,
// min_child_weight 1, lambda 1, alpha 0, gamma 0, subsample 1,
// colsample_bytree 1, max_bin 256, 100 rounds, base_score 0.5.
func DefaultParams() Params {
	return Params{
		Objective:       SquaredError,
		Rounds:          100,
		Eta:             0.3,
		MinChildWeight:  1,
		Lambda:          1,
		Alpha:           0,
		Gamma:           0,
		Subsample:       1,
		ColsampleBytree: 1,
		MaxDepth:        6,
		MaxBin:          256,
		BaseScore:       math.NaN(),
	}
}

// metricNames are the evaluation metrics Metric understands.
var metricNames = []string{"auc", "logloss", "rmse", "error"}

// Validate reports the first parameter that is out of range, by its
// XGBoost name.
func (p Params) Validate() error {
	switch p.Objective {
	case "", SquaredError, Logistic, BinaryLogistic:
	default:
		return fmt.Errorf("objective %q is not supported (use reg:squarederror, reg:logistic or binary:logistic)", p.Objective)
	}
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	checks := []struct {
		ok   bool
		name string
		val  any
		want string
	}{
		{p.Rounds >= 1, "rounds", p.Rounds, "at least 1"},
		{finite(p.Eta) && p.Eta > 0, "eta", p.Eta, "greater than 0"},
		{finite(p.MinChildWeight) && p.MinChildWeight >= 0, "min_child_weight", p.MinChildWeight, "0 or more"},
		{finite(p.Lambda) && p.Lambda >= 0, "lambda", p.Lambda, "0 or more"},
		{finite(p.Alpha) && p.Alpha >= 0, "alpha", p.Alpha, "0 or more"},
		{finite(p.Gamma) && p.Gamma >= 0, "gamma", p.Gamma, "0 or more"},
		{finite(p.Subsample) && p.Subsample > 0 && p.Subsample <= 1, "subsample", p.Subsample, "in (0, 1]"},
		{finite(p.ColsampleBytree) && p.ColsampleBytree > 0 && p.ColsampleBytree <= 1, "colsample_bytree", p.ColsampleBytree, "in (0, 1]"},
		{p.MaxDepth >= 1 && p.MaxDepth <= 30, "max_depth", p.MaxDepth, "in [1, 30]"},
		{p.MaxBin >= 2 && p.MaxBin <= 65535, "max_bin", p.MaxBin, "in [2, 65535]"},
		// The model keeps it as a float32 (XGBoost's JSON does).
		{!math.IsInf(float64(float32(p.BaseScore)), 0), "base_score", p.BaseScore, "finite as a float32, |x| <= 3.4e38 (or NaN for the default)"},
		{p.EarlyStopping >= 0, "early_stopping_rounds", p.EarlyStopping, "0 (off) or more"},
		{p.Threads >= 0, "nthread", p.Threads, "0 (all CPUs) or more"},
	}
	for _, c := range checks {
		if !c.ok {
			return fmt.Errorf("%s = %v: must be %s", c.name, c.val, c.want)
		}
	}
	if b := float32(p.BaseScore); !math.IsNaN(p.BaseScore) && p.objective() != SquaredError && (b <= 0 || b >= 1) {
		return fmt.Errorf("base_score = %v: must be in (0, 1) for %s, also once rounded to a float32 as the model keeps it", p.BaseScore, p.objective())
	}
	for _, m := range p.EvalMetrics {
		if !isMetric(m) {
			return fmt.Errorf("eval_metric %q is not supported (use %s)", m, strings.Join(metricNames, ", "))
		}
	}
	return nil
}

// objective returns the objective with the empty value defaulted.
func (p Params) objective() Objective {
	if p.Objective == "" {
		return SquaredError
	}
	return p.Objective
}

// metrics returns the evaluation metrics with the objective's default.
func (p Params) metrics() []string {
	if len(p.EvalMetrics) > 0 {
		return p.EvalMetrics
	}
	if p.objective() == BinaryLogistic {
		return []string{"logloss"}
	}
	return []string{"rmse"}
}

func isMetric(name string) bool {
	for _, m := range metricNames {
		if m == name {
			return true
		}
	}
	return false
}

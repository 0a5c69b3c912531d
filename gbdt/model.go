// Package gbdt is Lift's gradient-boosting engine: a histogram trainer in
// the manner of XGBoost's tree_method=hist, a flat-array predictor whose
// margins match XGBoost's bit for bit, XGBoost JSON model files, feature
// importance and TreeSHAP.
package gbdt

import "unsafe"

// Objective names a learning objective in XGBoost's spelling.
type Objective string

// The supported objectives.
const (
	SquaredError   Objective = "reg:squarederror"
	Logistic       Objective = "reg:logistic"
	BinaryLogistic Objective = "binary:logistic"
)

// Tree is one regression tree in XGBoost's flat layout: node 0 is the
// root; a leaf has Left[i] == -1 and its value in SplitCond[i].
type Tree struct {
	Left        []int32
	Right       []int32
	Parent      []int32 // -1 (stored as 2147483647 in JSON) for the root
	SplitIndex  []int32 // feature index tested at an internal node
	SplitCond   []float32
	DefaultLeft []bool // where a missing value goes
	BaseWeight  []float32
	LossChange  []float32
	SumHessian  []float32
}

// Booster is a trained ensemble: margin(x) = base margin + sum of the
// trees' leaf values, computed in float32 in tree order.
type Booster struct {
	Objective Objective
	// BaseScore is XGBoost's base_score: a probability for the logistic
	// objectives (the base margin is its logit), the base margin itself
	// for reg:squarederror.
	BaseScore    float32
	NumFeature   int
	FeatureNames []string
	FeatureTypes []string
	Trees        []Tree
	// BestIteration is the 0-based round early stopping chose (or the last).
	BestIteration int
	// Attributes are XGBoost's learner attributes, kept on load and save.
	Attributes map[string]string

	// flat is the compiled predictor (*forest), built on first use and
	// swapped in atomically; see Booster.compiled in predict.go.
	flat unsafe.Pointer
}

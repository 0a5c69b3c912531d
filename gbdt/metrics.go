package gbdt

import (
	"fmt"
	"math"
)

// The metrics follow XGBoost's definitions, weighted by sample weight (a
// nil weight slice means every weight is 1). Labels may be fractions in
// [0, 1]: a row with label y and weight w counts as w*y positive and
// w*(1-y) negative mass, which is how an impression-weighted CTR row
// should count. Each returns NaN when it is undefined (no rows, zero total
// weight, mismatched lengths, only one class for AUC, or a label outside
// [0, 1] for AUC and log loss, which have no meaning there).

// AUC returns the weighted area under the ROC curve of pred against label.
// Tied predictions contribute a trapezoid, so the result does not depend
// on the order of the rows.
func AUC(pred, label, weight []float32) float64 {
	n, ok := checkLens(pred, label, weight)
	if !ok || badLabel(label) >= 0 {
		return math.NaN()
	}
	// Sort descending by prediction through one uint64 key per row: the
	// high half orders the float, the low half is the row. A stable radix
	// sort on the high half needs no comparisons, and ties keep row order,
	// so the result is deterministic.
	keys := make([]uint64, n)
	for i, p := range pred {
		keys[i] = uint64(^orderedBits(p))<<32 | uint64(i)
	}
	radixSortHigh(keys, nil)
	var tp, fp, area float64
	for i := 0; i < n; {
		tp0, fp0 := tp, fp
		hi := keys[i] >> 32
		for ; i < n && keys[i]>>32 == hi; i++ {
			r := uint32(keys[i])
			w := 1.0
			if weight != nil {
				w = float64(weight[r])
			}
			y := float64(label[r])
			tp += w * y
			fp += w * (1 - y)
		}
		area += (fp - fp0) * (tp + tp0) / 2
	}
	if tp <= 0 || fp <= 0 {
		return math.NaN()
	}
	return area / (tp * fp)
}

// orderedBits maps a float32 to a uint32 with the same order (NaN last).
func orderedBits(f float32) uint32 {
	if f == 0 {
		f = 0 // -0 ties with +0
	}
	b := math.Float32bits(f)
	if b&(1<<31) != 0 {
		return ^b
	}
	return b | 1<<31
}

// LogLoss returns the weighted mean negative log-likelihood of the
// probabilities pred, clipped to [1e-16, 1-1e-16] as XGBoost does.
func LogLoss(pred, label, weight []float32) float64 {
	if badLabel(label) >= 0 {
		return math.NaN()
	}
	const eps = 1e-16
	return weightedMean(pred, label, weight, func(p, y float64) float64 {
		p = min(max(p, eps), 1-eps)
		// A 0/1 label needs one logarithm: the other term is exactly 0
		// (p is clipped, so both logarithms are finite), and x - 0 == x.
		switch y {
		case 0:
			return -math.Log(1 - p)
		case 1:
			return -math.Log(p)
		}
		return -y*math.Log(p) - (1-y)*math.Log(1-p)
	})
}

// RMSE returns the weighted root mean squared error.
func RMSE(pred, label, weight []float32) float64 {
	return math.Sqrt(weightedMean(pred, label, weight, func(p, y float64) float64 {
		return (p - y) * (p - y)
	}))
}

// ErrorRate returns the weighted misclassification rate at threshold 0.5:
// a prediction above 0.5 says positive and costs 1-label, otherwise it
// costs label.
func ErrorRate(pred, label, weight []float32) float64 {
	return weightedMean(pred, label, weight, func(p, y float64) float64 {
		if p > 0.5 {
			return 1 - y
		}
		return y
	})
}

// Metric evaluates the metric called name ("auc", "logloss", "rmse" or
// "error"). Unlike AUC and LogLoss, which return NaN, it refuses a label
// outside [0, 1] for auc and logloss (see CheckMetricLabels): asked for by
// name, a metric that cannot mean anything is an error, as in XGBoost.
func Metric(name string, pred, label, weight []float32) (float64, error) {
	if _, ok := checkLens(pred, label, weight); !ok {
		return math.NaN(), fmt.Errorf("metric %s: %d predictions, %d labels, %d weights: lengths differ", name, len(pred), len(label), len(weight))
	}
	if err := CheckMetricLabels(name, label); err != nil {
		return math.NaN(), err
	}
	switch name {
	case "auc":
		return AUC(pred, label, weight), nil
	case "logloss":
		return LogLoss(pred, label, weight), nil
	case "rmse":
		return RMSE(pred, label, weight), nil
	case "error":
		return ErrorRate(pred, label, weight), nil
	}
	return math.NaN(), fmt.Errorf("unknown metric %q (use auc, logloss, rmse or error)", name)
}

// CheckMetricLabels reports an error naming the metric, the first bad row
// (1-based) and its label when the metric called name is defined only for
// labels in [0, 1] (auc and logloss: the label is a probability of the
// positive class) and a label lies outside it. Checked before training, it
// saves a run whose metrics would be refused at its end.
func CheckMetricLabels(name string, label []float32) error {
	if name != "auc" && name != "logloss" {
		return nil
	}
	if i := badLabel(label); i >= 0 {
		return fmt.Errorf("metric %s: row %d: label %v is outside [0, 1]; %s is defined only for labels in [0, 1]", name, i+1, label[i], name)
	}
	return nil
}

// badLabel returns the index of the first label outside [0, 1] (NaN
// included), or -1.
func badLabel(label []float32) int {
	for i, y := range label {
		if !(y >= 0 && y <= 1) {
			return i
		}
	}
	return -1
}

// maximize reports whether a larger value of the metric is better.
func maximize(metric string) bool { return metric == "auc" }

func checkLens(pred, label, weight []float32) (int, bool) {
	n := len(pred)
	if len(label) != n || (weight != nil && len(weight) != n) {
		return 0, false
	}
	return n, true
}

func weightedMean(pred, label, weight []float32, loss func(p, y float64) float64) float64 {
	n, ok := checkLens(pred, label, weight)
	if !ok || n == 0 {
		return math.NaN()
	}
	var sum, wsum float64
	for i := range n {
		w := 1.0
		if weight != nil {
			w = float64(weight[i])
		}
		sum += w * loss(float64(pred[i]), float64(label[i]))
		wsum += w
	}
	if wsum <= 0 {
		return math.NaN()
	}
	return sum / wsum
}

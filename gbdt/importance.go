package gbdt

import "fmt"

// Importance kinds, as XGBoost's Booster.get_score names them.
var importanceKinds = []string{"weight", "gain", "cover", "total_gain", "total_cover"}

// Importance returns feature importance as XGBoost's get_score does: for
// each feature used in at least one split, "weight" is the number of
// splits on it, "total_gain" the sum of their loss changes, "total_cover"
// the sum of their covers (SumHessian), and "gain" and "cover" those sums
// divided by the weight. Keys are the feature names, or "f0", "f1", ...
// when the model has none. Unused features are absent.
func (b *Booster) Importance(kind string) (map[string]float64, error) {
	switch kind {
	case "weight", "gain", "cover", "total_gain", "total_cover":
	default:
		return nil, fmt.Errorf("importance type %q: want one of %v", kind, importanceKinds)
	}
	count := make([]float64, b.NumFeature)
	gain := make([]float64, b.NumFeature)
	cover := make([]float64, b.NumFeature)
	for ti := range b.Trees {
		t := &b.Trees[ti]
		// Walk from the root so nodes XGBoost pruned but kept in its arrays
		// do not count.
		stack := []int32{0}
		for len(stack) > 0 {
			i := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if t.Left[i] < 0 {
				continue
			}
			f := t.SplitIndex[i]
			if int(f) >= b.NumFeature {
				return nil, fmt.Errorf("tree %d node %d: split index %d out of range", ti, i, f)
			}
			count[f]++
			if len(t.LossChange) == len(t.Left) {
				gain[f] += float64(t.LossChange[i])
			}
			if len(t.SumHessian) == len(t.Left) {
				cover[f] += float64(t.SumHessian[i])
			}
			stack = append(stack, t.Left[i], t.Right[i])
		}
	}
	out := make(map[string]float64)
	for f, n := range count {
		if n == 0 {
			continue
		}
		var v float64
		switch kind {
		case "weight":
			v = n
		case "gain":
			v = gain[f] / n
		case "cover":
			v = cover[f] / n
		case "total_gain":
			v = gain[f]
		case "total_cover":
			v = cover[f]
		}
		out[b.featureName(f)] = v
	}
	return out, nil
}

// featureName is the model's name for feature f, or XGBoost's default "fN".
func (b *Booster) featureName(f int) string {
	if f < len(b.FeatureNames) && b.FeatureNames[f] != "" {
		return b.FeatureNames[f]
	}
	return fmt.Sprintf("f%d", f)
}

// FeatureName returns the model's name for feature f, or "f<f>" when the
// model has no feature names (XGBoost's default naming).
func (b *Booster) FeatureName(f int) string { return b.featureName(f) }

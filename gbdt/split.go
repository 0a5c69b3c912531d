package gbdt

import "math"

// kRtEps is XGBoost's smallest loss change that counts as a split.
const kRtEps = 1e-6

// splitParams are the regularisation parameters in the precision XGBoost
// keeps them (float32), widened where XGBoost widens them.
type splitParams struct {
	eta            float32
	lambda         float64
	alpha          float32
	minChildWeight float64
	gamma          float32
}

func newSplitParams(p Params) splitParams {
	return splitParams{
		eta:            float32(p.Eta),
		lambda:         float64(float32(p.Lambda)),
		alpha:          float32(p.Alpha),
		minChildWeight: float64(float32(p.MinChildWeight)),
		gamma:          float32(p.Gamma),
	}
}

// thresholdL1 shrinks the gradient sum towards 0 by alpha (the L1 term).
func (sp *splitParams) thresholdL1(g float64) float64 {
	a := float64(sp.alpha)
	switch {
	case g > a:
		return g - a
	case g < -a:
		return g + a
	}
	return 0
}

// weight is the optimal leaf weight -T(G)/(H+lambda), 0 for a node too
// light to be a child.
func (sp *splitParams) weight(s histBin) float32 {
	if s.h < sp.minChildWeight || s.h <= 0 {
		return 0
	}
	return float32(-sp.thresholdL1(s.g) / (s.h + sp.lambda))
}

// gain is the structure score T(G)^2/(H+lambda) of a node.
func (sp *splitParams) gain(s histBin) float64 {
	if s.h <= 0 {
		return 0
	}
	t := sp.thresholdL1(s.g)
	return t * t / (s.h + sp.lambda)
}

// splitCandidate is the best split found for a node: rows whose bin of
// feature is <= leftBin go left, a missing value goes left iff
// defaultLeft, and cond is the equivalent float threshold (x < cond).
type splitCandidate struct {
	lossChg     float32
	feature     int
	leftBin     int // -1: only the missing values go left
	cond        float32
	defaultLeft bool
	left, right histBin
}

// better reports whether a candidate with loss change loss on feature f
// replaces s. Like XGBoost's SplitEntry::NeedReplace, ties go to the lower
// feature index, so the choice does not depend on evaluation order.
func (s *splitCandidate) better(loss float32, f int) bool {
	if math.IsInf(float64(loss), 0) || loss != loss {
		return false
	}
	if s.feature <= f {
		return loss > s.lossChg
	}
	return !(s.lossChg > loss)
}

// evalFeature finds feature f's best split of a node with totals parent
// and structure score rootGain, given the feature's histogram slots h
// (nb real bins, then the missing slot when hasMissing). It scans
// left-to-right with missing values going right, and, when the node has
// missing values of f, right-to-left with them going left: XGBoost's
// sparsity-aware search for the default direction.
func (sp *splitParams) evalFeature(h []histBin, nb int, hasMissing bool, cutVals []float32, minVal float32, f int, parent histBin, rootGain float32) splitCandidate {
	best := splitCandidate{}
	// Within one feature a candidate replaces the best only when strictly
	// better (better's rule for equal features); the loops keep that test
	// inline and hoist the L1 branch out of the gain.
	bestLoss := float32(0)
	bestBin := -1
	var acc histBin
	h = h[:nb]
	mcw, lambda := sp.minChildWeight, sp.lambda
	if sp.alpha == 0 {
		for i, b := range h {
			acc.g += b.g
			acc.h += b.h
			og, oh := parent.g-acc.g, parent.h-acc.h
			if acc.h < mcw || oh < mcw {
				continue
			}
			var gl, gr float64
			if acc.h > 0 {
				gl = acc.g * acc.g / (acc.h + lambda)
			}
			if oh > 0 {
				gr = og * og / (oh + lambda)
			}
			if loss := float32(gl+gr) - rootGain; loss > bestLoss && loss <= math.MaxFloat32 {
				bestLoss, bestBin = loss, i
			}
		}
	} else {
		for i, b := range h {
			acc = acc.add(b)
			other := parent.sub(acc)
			if acc.h < mcw || other.h < mcw {
				continue
			}
			if loss := float32(sp.gain(acc)+sp.gain(other)) - rootGain; loss > bestLoss && loss <= math.MaxFloat32 {
				bestLoss, bestBin = loss, i
			}
		}
	}
	if bestBin >= 0 {
		var left histBin
		for _, b := range h[:bestBin+1] {
			left = left.add(b)
		}
		best = splitCandidate{lossChg: bestLoss, feature: f, leftBin: bestBin, cond: cutVals[bestBin], left: left, right: parent.sub(left)}
	}
	if !hasMissing {
		return best
	}
	if m := h[:nb+1][nb]; m.g == 0 && m.h == 0 {
		return best
	}
	acc = histBin{}
	for i := nb - 1; i >= 0; i-- {
		acc = acc.add(h[i])
		other := parent.sub(acc)
		if acc.h < mcw || other.h < mcw {
			continue
		}
		loss := float32(sp.gain(other)+sp.gain(acc)) - rootGain
		if best.better(loss, f) {
			cond := minVal
			if i > 0 {
				cond = cutVals[i-1]
			}
			best = splitCandidate{lossChg: loss, feature: f, leftBin: i - 1, cond: cond, defaultLeft: true, left: other, right: acc}
		}
	}
	return best
}

// valid reports whether the node should be split, as XGBoost's
// ExpandEntry::IsValid: a real loss reduction of at least gamma and
// weight on both sides.
func (sp *splitParams) valid(s *splitCandidate) bool {
	return s.lossChg > kRtEps && s.left.h != 0 && s.right.h != 0 && s.lossChg >= sp.gamma
}

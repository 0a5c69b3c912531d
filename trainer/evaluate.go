package trainer

import (
	"math"
	"sort"

	"lift"
)

// IntervalLevel is the default coverage of ctr_interval.
const IntervalLevel = 0.90

// reliabilityBins is the number of equal-impression bins in the
// reliability table and the ECE.
const reliabilityBins = 10

// evaluate scores predictions pred (CTR in [0,1]) for the holdout.
// trainMean is the training set's impression-weighted CTR: the constant
// baseline.
func evaluate(h *holdoutSet, pred []float64, trainMean float64) *lift.ModelMetrics {
	// The heuristic is scored on its value alone: its band, which the
	// configured thresholds decide, plays no part in the log loss.
	heur := make([]float64, len(h.clips))
	constant := make([]float64, len(h.clips))
	for i, c := range h.clips {
		heur[i] = lift.HeuristicCTR(c.Features())
		constant[i] = trainMean
	}
	return &lift.ModelMetrics{
		LogLoss:          logLoss(pred, h.ctr, h.impr),
		AUC:              auc(pred, h.ctr, h.impr),
		RMSE:             rmse(pred, h.ctr, h.impr),
		HeuristicLogLoss: logLoss(heur, h.ctr, h.impr),
		ConstantLogLoss:  logLoss(constant, h.ctr, h.impr),
		Reliability:      reliability(pred, h.ctr, h.impr),
	}
}

// logLoss is the binomial log loss per impression: each clip contributes
// impressions x cross-entropy(observed CTR, predicted CTR).
func logLoss(pred, ctr, impr []float64) float64 {
	var sum, w float64
	for i, p := range pred {
		p = clampCTR(p)
		sum -= impr[i] * (ctr[i]*math.Log(p) + (1-ctr[i])*math.Log(1-p))
		w += impr[i]
	}
	return sum / w
}

// rmse is the impression-weighted root mean squared CTR error.
func rmse(pred, ctr, impr []float64) float64 {
	var sum, w float64
	for i, p := range pred {
		d := p - ctr[i]
		sum += impr[i] * d * d
		w += impr[i]
	}
	return math.Sqrt(sum / w)
}

// auc is the area under the ROC curve with every impression an example:
// clip i has impr*ctr positives and impr*(1-ctr) negatives at score
// pred[i]. Ties count one half. It is nil when there are no positives
// or no negatives: the area is undefined.
func auc(pred, ctr, impr []float64) *float64 {
	idx := make([]int, len(pred))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return pred[idx[a]] < pred[idx[b]] })
	var negBelow, area, totPos, totNeg float64
	for i := 0; i < len(idx); {
		j := i
		var pos, neg float64
		for ; j < len(idx) && pred[idx[j]] == pred[idx[i]]; j++ {
			k := idx[j]
			pos += impr[k] * ctr[k]
			neg += impr[k] * (1 - ctr[k])
		}
		area += pos * (negBelow + neg/2)
		negBelow += neg
		totPos += pos
		totNeg += neg
		i = j
	}
	if totPos == 0 || totNeg == 0 {
		return nil
	}
	a := area / (totPos * totNeg)
	return &a
}

// reliability bins the holdout by predicted CTR into bins of about equal
// impressions and compares mean predicted with observed CTR in each.
func reliability(pred, ctr, impr []float64) []lift.ReliabilityBin {
	idx := make([]int, len(pred))
	var total float64
	for i := range idx {
		idx[i] = i
		total += impr[i]
	}
	sort.Slice(idx, func(a, b int) bool { return pred[idx[a]] < pred[idx[b]] })
	var bins []lift.ReliabilityBin
	var cur lift.ReliabilityBin
	var sumP, sumC, acc float64
	flush := func() {
		if cur.Clips == 0 {
			return
		}
		w := float64(cur.Impressions)
		cur.PredictedCTR, cur.ObservedCTR = sumP/w, sumC/w
		bins = append(bins, cur)
		cur, sumP, sumC = lift.ReliabilityBin{}, 0, 0
	}
	for _, i := range idx {
		if cur.Clips == 0 {
			cur.Lo = pred[i]
		}
		cur.Hi = pred[i]
		cur.Clips++
		cur.Impressions += int64(impr[i])
		sumP += impr[i] * pred[i]
		sumC += impr[i] * ctr[i]
		acc += impr[i]
		if acc >= total*float64(len(bins)+1)/reliabilityBins {
			flush()
		}
	}
	flush()
	return bins
}

// ece is the impression-weighted mean gap between predicted and observed
// CTR over the reliability bins.
func ece(bins []lift.ReliabilityBin) float64 {
	var sum, w float64
	for _, b := range bins {
		sum += float64(b.Impressions) * math.Abs(b.PredictedCTR-b.ObservedCTR)
		w += float64(b.Impressions)
	}
	if w == 0 {
		return 0
	}
	return sum / w
}

// residualScale is the noise scale a CTR prediction's residual is
// divided by: binomial noise grows like sqrt(p).
func residualScale(p float64) float64 { return math.Sqrt(max(p, 1e-4)) }

// calibrate builds the split-conformal calibration from the holdout:
// sorted scaled residuals, and the quantile that makes
// pred ± q·sqrt(pred) cover level of exchangeable new clips.
func calibrate(h *holdoutSet, pred []float64, level float64) *lift.Calibration {
	res := make([]float64, len(pred))
	abs := make([]float64, len(pred))
	for i, p := range pred {
		res[i] = (h.ctr[i] - p) / residualScale(p)
		abs[i] = math.Abs(res[i])
	}
	sort.Float64s(res)
	sort.Float64s(abs)
	n := len(abs)
	// The ceil((n+1)·level)-th smallest |residual|. Past n (fewer than
	// 9 residuals at 0.9) no finite interval has the coverage: the
	// interval is the whole range, which wholeRange gives at any p.
	q := wholeRange
	if k := int(math.Ceil(float64(n+1)*level)) - 1; k < n {
		q = abs[max(k, 0)]
	}
	return &lift.Calibration{Level: level, Quantile: q, Residuals: thin(res, 2000)}
}

// wholeRange is a calibration quantile whose interval is [0, 1] at every
// p: its half-width is at least wholeRange·residualScale(0) = 1.
var wholeRange = 1 / residualScale(0)

// thin keeps at most n evenly spaced values of a sorted slice, so the
// stored calibration stays small for big holdouts.
func thin(sorted []float64, n int) []float64 {
	if len(sorted) <= n {
		return sorted
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = sorted[i*(len(sorted)-1)/(n-1)]
	}
	return out
}

// interval is the conformal CTR interval around p.
func interval(cal *lift.Calibration, p float64) [2]float64 {
	half := cal.Quantile * residualScale(p)
	return [2]float64{max(p-half, 0), min(p+half, 1)}
}

// bandConfidence estimates the probability that a clip predicted at p
// turns out in p's band from the calibration residuals that, added to p,
// stay inside the band's CTR range: (in+1)/(n+2), the posterior mean of
// that probability under a uniform prior, which a few residuals cannot
// make 0 or 1 (the plain share did: one residual gave certainty).
func bandConfidence(cal *lift.Calibration, bands lift.Bands, p float64) float64 {
	if len(cal.Residuals) == 0 {
		return lift.HeuristicConfidence
	}
	lo, hi := bandRange(bands, bands.Of(p))
	s := residualScale(p)
	in := 0
	for _, r := range cal.Residuals {
		if y := p + r*s; y >= lo && y < hi {
			in++
		}
	}
	return float64(in+1) / float64(len(cal.Residuals)+2)
}

// bandRange is the CTR range [lo, hi) of a band.
func bandRange(b lift.Bands, band lift.Band) (float64, float64) {
	switch band {
	case lift.Viral:
		return b.Viral, math.Inf(1)
	case lift.High:
		return b.High, b.Viral
	case lift.Medium:
		return b.Medium, b.High
	}
	return math.Inf(-1), b.Medium
}

// coverage is the share of holdout clips whose observed CTR lies in their
// interval.
func coverage(cal *lift.Calibration, h *holdoutSet, pred []float64) float64 {
	in := 0
	for i, p := range pred {
		iv := interval(cal, p)
		if h.ctr[i] >= iv[0] && h.ctr[i] <= iv[1] {
			in++
		}
	}
	return float64(in) / float64(len(pred))
}

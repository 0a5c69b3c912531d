package gbdt

import (
	"fmt"
	"math"
)

// gradPair is one row's first and second derivative of the loss. XGBoost
// keeps them in float32 and sums them in float64; so do we, which keeps
// split decisions close to XGBoost's.
type gradPair struct{ g, h float32 }

// isLogistic reports whether o predicts a probability through a sigmoid.
func (o Objective) isLogistic() bool { return o == Logistic || o == BinaryLogistic }

// sigmoid32 is XGBoost's float32 logistic function, the reference that
// sigmoids computes faster.
func sigmoid32(x float32) float32 {
	return 1 / (float32(math.Exp(float64(-x))) + 1)
}

// expTable[j] is 2^(j/64), for the range reduction of sigmoids' exponential.
var expTable = func() (t [64]float64) {
	for j := range t {
		t[j] = math.Exp2(float64(j) / 64)
	}
	return t
}()

// expShift etc. are the constants of sigmoids' exponential.
const (
	expN     = 64
	expShift = 0x1.8p52 // adding it rounds to an integer in the low bits
	// ln2 = expLn2hi + expLn2lo, the high part with enough trailing zero
	// bits that k*expLn2hi is exact for |k| < 2^16 (fdlibm's split).
	expLn2hi = 6.93147180369123816490e-01 / expN
	expLn2lo = 1.90821492927058770002e-10 / expN
)

// sigmoids sets p[i] to sigmoid32(margin[i]) for every i of p. Its
// exponential is computed inline rather than by math.Exp: e^x = 2^(k/64)
// e^r with |r| <= ln2/128, a table for 2^(j/64) and a degree-5
// polynomial for e^r, within two units in the last place of float64, far
// below the float32 rounding that follows: no result differs from
// sigmoid32's over all 2^32 float32 inputs (checked once by a sweep).
// Inline, one row's exponential overlaps the next's; math.Exp is a call,
// 7 ns a row here.
func sigmoids(p, margin []float32) {
	margin = margin[:len(p)]
	for i, m := range margin {
		x := float64(-m)
		var e float64
		if x > -700 && x < 700 {
			kd := x*(expN/math.Ln2) + expShift
			ki := math.Float64bits(kd)
			kd -= expShift
			r := x - kd*expLn2hi - kd*expLn2lo
			scale := math.Float64frombits(math.Float64bits(expTable[ki%expN]) + (ki/expN)<<52)
			e = scale + scale*(r+r*r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120)))))
		} else {
			e = math.Exp(x)
		}
		p[i] = 1 / (float32(e) + 1)
	}
}

// transforms sets pred to the objective's transform of margin.
func (o Objective) transforms(pred, margin []float32) {
	if o.isLogistic() {
		sigmoids(pred, margin)
		return
	}
	copy(pred, margin)
}

// baseMargin turns base_score into the margin every row starts from.
func (o Objective) baseMargin(baseScore float32) float32 {
	if o.isLogistic() {
		return float32(-math.Log(float64(1/baseScore - 1)))
	}
	return baseScore
}

// checkLabels rejects rows the objective cannot learn from, naming the
// first bad row (1-based, as a line number would be for headerless data).
func (o Objective) checkLabels(label, weight []float32) error {
	for i, y := range label {
		if math.IsNaN(float64(y)) || math.IsInf(float64(y), 0) {
			return fmt.Errorf("row %d: label is %v; labels must be finite", i+1, y)
		}
		if o.isLogistic() && (y < 0 || y > 1) {
			return fmt.Errorf("row %d: label %v is outside [0, 1], which %s requires", i+1, y, o)
		}
	}
	for i, w := range weight {
		if !(w >= 0) || math.IsInf(float64(w), 0) {
			return fmt.Errorf("row %d: weight %v: weights must be finite and not negative", i+1, w)
		}
	}
	return nil
}

// EstimateBaseScore returns the weighted mean of the labels (weight nil
// means 1), the constant prediction that minimises both squared error and
// log loss, for use as Params.BaseScore. For the logistic objectives it is
// kept inside [1e-6, 1-1e-6] so that its logit stays finite when every
// label is 0 or every label is 1. XGBoost >= 2.0 makes a similar estimate
// by default; Lift's default is XGBoost 1.7's fixed 0.5.
func EstimateBaseScore(obj Objective, label, weight []float32) (float64, error) {
	if weight != nil && len(weight) != len(label) {
		return 0, fmt.Errorf("%d weights for %d labels", len(weight), len(label))
	}
	if err := obj.checkLabels(label, weight); err != nil {
		return 0, err
	}
	var sum, wsum float64
	for i, y := range label {
		w := 1.0
		if weight != nil {
			w = float64(weight[i])
		}
		sum += w * float64(y)
		wsum += w
	}
	if !(wsum > 0) {
		return 0, fmt.Errorf("the weights sum to %v; at least one row needs a positive weight", wsum)
	}
	mean := sum / wsum
	if obj.isLogistic() {
		mean = min(max(mean, 1e-6), 1-1e-6)
	}
	return mean, nil
}

// gradients fills gp[i] for rows [lo, hi) from the current margins,
// multiplied by the sample weight, as XGBoost's RegLossObj does.
func (o Objective) gradients(gp []gradPair, margin, label, weight []float32, lo, hi int) {
	gp, margin, label = gp[lo:hi], margin[lo:hi], label[lo:hi]
	label = label[:len(margin)]
	gp = gp[:len(margin)]
	if o.isLogistic() {
		var buf [256]float32
		for lo := 0; lo < len(margin); lo += len(buf) {
			p := buf[:min(len(buf), len(margin)-lo)]
			sigmoids(p, margin[lo:])
			for k, pk := range p {
				h := pk * (1 - pk)
				if h < 1e-16 {
					h = 1e-16
				}
				gp[lo+k] = gradPair{pk - label[lo+k], h}
			}
		}
	} else {
		for i, m := range margin {
			gp[i] = gradPair{m - label[i], 1}
		}
	}
	if weight != nil {
		weight = weight[lo:hi]
		weight = weight[:len(gp)]
		for i, w := range weight {
			gp[i].g *= w
			gp[i].h *= w
		}
	}
}

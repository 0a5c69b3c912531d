package trainer

import (
	"fmt"
	"testing"

	"lift"
)

// TestSmallHoldoutIntervalIsHonest: split-conformal at level 0.9 needs at
// least 9 calibration residuals; with fewer only the whole range has the
// coverage. The largest residual was taken instead: a model trained on
// 15 demo clips (a holdout of 2) served a "90%" interval that covered 71%
// of fresh clips, and one residual gave a band confidence of 0 or 1.
func TestSmallHoldoutIntervalIsHonest(t *testing.T) {
	calibrated := func(n int) *lift.Calibration {
		var clips []*lift.Clip
		var pred []float64
		for i := range n {
			clips = append(clips, &lift.Clip{ID: fmt.Sprint("c", i), Impressions: 1000, Clicks: int64(40 + i)})
			pred = append(pred, 0.045)
		}
		return calibrate(newHoldout(clips), pred, IntervalLevel)
	}
	for _, n := range []int{1, 2, 8} {
		cal := calibrated(n)
		for _, p := range []float64{0, 0.001, 0.045, 0.5, 1} {
			if iv := interval(cal, p); iv != [2]float64{0, 1} {
				t.Errorf("%d residuals at level %.2f, p=%v: interval %v, want [0 1]", n, IntervalLevel, p, iv)
			}
		}
		if c := bandConfidence(cal, lift.DefaultBands, 0.045); c <= 0 || c >= 1 {
			t.Errorf("%d residuals: band confidence %v claims certainty", n, c)
		}
	}
	// Nine residuals are enough for a finite interval: the largest one.
	cal := calibrated(9)
	if iv := interval(cal, 0.045); iv[0] == 0 || iv[1] == 1 || iv[0] > 0.04 || iv[1] < 0.048 {
		t.Errorf("9 residuals: interval %v, want one reaching the largest residual (CTR 0.048)", iv)
	}
}

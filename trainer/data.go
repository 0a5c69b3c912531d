// Package trainer is the CTR model's lifecycle: load one row per clip,
// split a deterministic holdout by clip id, train with gbdt, evaluate,
// register the version, promote it only if it beats the active one, and
// swap what is served without a lock on the predict path.
package trainer

import (
	"hash/fnv"
	"log/slog"
	"math"

	"lift"
	"lift/dataset"
)

// HoldoutPercent is the share of clips (by id hash) kept out of training
// for evaluation, promotion and calibration.
const HoldoutPercent = 20

// inHoldout assigns a clip to the holdout by a hash of its id, so the
// same clip is always on the same side, run after run, replica after
// replica: champion and challenger are scored on the same clips.
func inHoldout(id string) bool { return hashPercent(id) < HoldoutPercent }

// hashPercent maps a string to [0,100) by FNV-1a.
func hashPercent(s string) int {
	h := fnv.New64a()
	h.Write([]byte(s))
	return int(h.Sum64() % 100)
}

// trainable drops the clips whose features the model cannot read (a
// value beyond float32's range, stored before clips were validated
// against it), so that one such clip does not stop every training run.
// It logs how many, once.
func trainable(clips []*lift.Clip, log *slog.Logger) []*lift.Clip {
	kept := clips[:0:0]
	var skipped []string
	var first error
	for _, c := range clips {
		if err := c.Features().Validate(); err != nil {
			if first == nil {
				first = err
			}
			skipped = append(skipped, c.ID)
			continue
		}
		kept = append(kept, c)
	}
	if len(skipped) > 0 {
		log.Warn("training skips clips with unusable features", "clips", len(skipped),
			"first", skipped[:min(len(skipped), 5)], "err", lift.Message(first))
	}
	return kept
}

// split partitions clips into training and holdout sets.
func split(clips []*lift.Clip) (train, holdout []*lift.Clip) {
	for _, c := range clips {
		if inHoldout(c.ID) {
			holdout = append(holdout, c)
		} else {
			train = append(train, c)
		}
	}
	return train, holdout
}

// matrix builds the feature matrix with label = observed CTR and weight =
// impressions (or 1 when unweighted).
func matrix(clips []*lift.Clip, weighted bool) *dataset.Dense {
	d := &dataset.Dense{
		Rows:   len(clips),
		Cols:   len(lift.FeatureNames),
		X:      make([]float32, 0, len(clips)*len(lift.FeatureNames)),
		Label:  make([]float32, len(clips)),
		Weight: make([]float32, len(clips)),
		Names:  append([]string(nil), lift.FeatureNames...),
	}
	for i, c := range clips {
		d.X = append(d.X, c.Features().Vector()...)
		ctr, _ := c.ActualCTR()
		d.Label[i] = float32(ctr)
		d.Weight[i] = 1
		if weighted {
			d.Weight[i] = float32(c.Impressions)
		}
	}
	return d
}

// holdoutSet is the holdout in the form evaluation needs.
type holdoutSet struct {
	clips    []*lift.Clip
	ctr      []float64 // observed
	impr     []float64
	features [][]float32
}

func newHoldout(clips []*lift.Clip) *holdoutSet {
	h := &holdoutSet{clips: clips}
	for _, c := range clips {
		ctr, _ := c.ActualCTR()
		h.ctr = append(h.ctr, ctr)
		h.impr = append(h.impr, float64(c.Impressions))
		h.features = append(h.features, c.Features().Vector())
	}
	return h
}

// clampCTR keeps a prediction a valid probability, away from 0 and 1 so
// that log loss stays finite for regression models that overshoot.
func clampCTR(p float64) float64 {
	const eps = 1e-6
	if math.IsNaN(p) {
		return eps
	}
	return min(max(p, eps), 1-eps)
}

package trainer

import (
	"bytes"
	"context"
	"fmt"
	"math"

	"lift"
	"lift/gbdt"
)

// Import registers a model trained elsewhere (XGBoost in Python, on
// Spark, ...), as ParseModel read and checked it from its XGBoost JSON.
// It is scored on the holdout when there is data, and is never activated
// here: Activate does that, after evaluation.
func (j *Job) Import(ctx context.Context, b *gbdt.Booster, note string) (mv *lift.ModelVersion, err error) {
	defer lift.Wrap(&err, "trainer.Import")
	var buf bytes.Buffer
	if err := b.Save(&buf); err != nil {
		return nil, err
	}
	mv = &lift.ModelVersion{
		Source: "imported", Objective: string(b.Objective), Note: note,
		Params: map[string]any{"trees": len(b.Trees)}, Model: buf.Bytes(),
	}
	if hold, mean, err := j.holdout(ctx); err == nil {
		mv.HoldoutRows = len(hold.clips)
		mv.Metrics, mv.Calibration = score(hold, predictAll(b, hold), mean)
		mv.Evaluated = true
	} else if lift.KindOf(err) != lift.Unavailable {
		return nil, err
	}
	if err := j.Store.CreateModel(ctx, mv, false); err != nil {
		return nil, err
	}
	return mv, nil
}

// ParseModel reads an XGBoost JSON model and checks that Lift can serve
// it (see Import); the error is Invalid when it cannot.
func ParseModel(modelJSON []byte) (*gbdt.Booster, error) {
	b, err := gbdt.Load(bytes.NewReader(modelJSON))
	if err != nil {
		return nil, lift.Errorf(lift.Invalid, "not a usable XGBoost JSON model: %w", err)
	}
	return b, checkServable(b)
}

// maxMarginBound bounds a served model's gbdt.MarginBound: margins and
// SHAP contributions are float32 sums (a feature's contribution can reach
// twice a tree's largest leaf), and GET /clips/{id}/explain answers them
// in JSON, which has no infinities. Trained models' leaves are many
// orders of magnitude below it.
const maxMarginBound = math.MaxFloat32 / 4

// checkServable is checkFeatures and checkMargins.
func checkServable(b *gbdt.Booster) error {
	if err := checkFeatures(b); err != nil {
		return err
	}
	return checkMargins(b)
}

// checkMargins requires margins and contributions that stay finite (see
// maxMarginBound).
func checkMargins(b *gbdt.Booster) error {
	if m := b.MarginBound(); !(m <= maxMarginBound) {
		return lift.Errorf(lift.Invalid, "the model's leaf values are too large: its base margin and its trees' largest leaves "+
			"add up to %g, and Lift serves models whose margins and contributions stay within float32's range (at most %g)", m, maxMarginBound)
	}
	return nil
}

// checkFeatures requires a model over Lift's feature columns: at most six
// features and, when the model names them, the same names in order.
func checkFeatures(b *gbdt.Booster) error {
	if b.NumFeature > len(lift.FeatureNames) {
		return lift.Errorf(lift.Invalid, "the model expects %d features; Lift's CTR model has %d: %v",
			b.NumFeature, len(lift.FeatureNames), lift.FeatureNames)
	}
	for i, name := range b.FeatureNames {
		if i < len(lift.FeatureNames) && name != lift.FeatureNames[i] {
			return lift.Errorf(lift.Invalid, "the model's feature %d is %q; Lift's is %q (order: %v)",
				i, name, lift.FeatureNames[i], lift.FeatureNames)
		}
	}
	return nil
}

// holdout loads the current holdout clips and the training mean CTR;
// Unavailable when there are too few clips to evaluate on.
func (j *Job) holdout(ctx context.Context) (*holdoutSet, float64, error) {
	clips, err := j.Store.ClipsWithOutcomes(ctx)
	if err != nil {
		return nil, 0, err
	}
	train, hold := split(trainable(clips, j.logger()))
	if len(hold) == 0 || len(train) == 0 {
		return nil, 0, lift.Errorf(lift.Unavailable, "no holdout clips with outcomes to evaluate on (%d clips with outcomes)", len(clips))
	}
	return newHoldout(hold), meanCTR(train), nil
}

// Activate serves version: a rollback or roll-forward. A model never
// scored on the holdout (imported without data) is scored first; that
// needs data. The registry changes first, then the served model and the
// exported file follow.
func (j *Job) Activate(ctx context.Context, version int64) (mv *lift.ModelVersion, err error) {
	defer lift.Wrap(&err, "trainer.Activate(%d)", version)
	mv, err = j.Store.GetModel(ctx, version)
	if err != nil {
		return nil, err
	}
	b, err := gbdt.Load(bytes.NewReader(mv.Model))
	if err != nil {
		return nil, lift.Errorf(lift.Invalid, "model version %d does not load: %w", version, err)
	}
	if err := checkMargins(b); err != nil {
		return nil, lift.Errorf(lift.Invalid, "model version %d cannot be served: %s", version, lift.Message(err))
	}
	if !mv.Evaluated {
		hold, mean, err := j.holdout(ctx)
		if err != nil {
			return nil, lift.Errorf(lift.Conflict, "model version %d has not been evaluated on the holdout and cannot be yet: %v", version, lift.Message(err))
		}
		mv.HoldoutRows = len(hold.clips)
		mv.Metrics, mv.Calibration = score(hold, predictAll(b, hold), mean)
		if err := j.Store.UpdateModelEvaluation(ctx, version, mv.HoldoutRows, mv.Metrics, mv.Calibration); err != nil {
			return nil, err
		}
		mv.Evaluated = true
	}
	if err := j.Store.ActivateModel(ctx, version); err != nil {
		return nil, err
	}
	// The answer says when this activation happened, as the registry
	// now does, not when the version was last activated before.
	if now, err := j.Store.GetModel(ctx, version); err == nil {
		mv.ActivatedAt = now.ActivatedAt
	}
	mv.Active = true
	if _, err := j.serve(mv); err != nil {
		return nil, fmt.Errorf("activated in the registry but not served here: %w", err)
	}
	return mv, nil
}

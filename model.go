package lift

import (
	"context"
	"fmt"
	"time"
)

// TrainSummary is what one training run reports, in the shape of the
// seed's POST /train/ctr-model answer plus the version, metrics and
// whether the new model was promoted.
type TrainSummary struct {
	Success      bool               `json:"success"`
	Message      string             `json:"message"`
	ModelVersion *int64             `json:"model_version"`
	Metrics      map[string]float64 `json:"metrics"`
	Promoted     bool               `json:"promoted"`
	// Reason says why a trained model was or was not promoted.
	Reason string `json:"reason,omitempty"`
	// Rows counts the clips used (training + holdout).
	Rows int `json:"rows"`
	// Warning reports a problem that did not stop the run, such as the
	// promoted model's file export failing.
	Warning string `json:"warning,omitempty"`
}

// MinTrainingClips is the fewest clips with outcomes a training run
// accepts, as in the seed.
const MinTrainingClips = 10

// Trainer runs one CTR training job. params are optional overrides (for
// example "objective", "rounds", "max_depth", "eta"); an unknown or invalid
// parameter is Invalid, wrapped in RunNotStarted. Not enough data is a
// successful call whose summary has Success false. Another training
// already running is Conflict.
type Trainer interface {
	TrainCTR(ctx context.Context, params map[string]any) (*TrainSummary, error)
}

// RunNotStarted wraps a Trainer's error from before any run started (its
// parameters refused), which metrics count as no run. Its kind and
// message are Err's.
type RunNotStarted struct{ Err error }

func (e *RunNotStarted) Error() string { return e.Err.Error() }
func (e *RunNotStarted) Unwrap() error { return e.Err }

// NotEnoughDataMessage is the training answer below MinTrainingClips.
func NotEnoughDataMessage(n int) string {
	return fmt.Sprintf("Not enough data: %d clips with outcomes, need at least %d", n, MinTrainingClips)
}

// ModelVersion is one entry of the model registry.
type ModelVersion struct {
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	// Source is "trained" (by Lift) or "imported" (trained elsewhere).
	Source    string         `json:"source"`
	Objective string         `json:"objective"`
	Params    map[string]any `json:"params"`
	// TrainingRows and HoldoutRows count clips.
	TrainingRows int  `json:"training_rows"`
	HoldoutRows  int  `json:"holdout_rows"`
	Active       bool `json:"active"`
	// Evaluated is false for an imported model not yet scored on the holdout.
	Evaluated   bool          `json:"evaluated"`
	Metrics     *ModelMetrics `json:"metrics"`
	Calibration *Calibration  `json:"calibration,omitempty"`
	ActivatedAt *time.Time    `json:"activated_at"`
	Note        string        `json:"note,omitempty"`
	// Model is the XGBoost JSON document.
	Model []byte `json:"-"`
}

// ModelMetrics are a model's scores on the holdout clips. Log loss and
// RMSE are per impression (each clip weighted by its impressions); AUC
// treats every impression as a labelled example.
type ModelMetrics struct {
	LogLoss float64 `json:"logloss"`
	// AUC is nil (null) when the holdout has no clicks or only clicks:
	// the area under the ROC curve needs both.
	AUC  *float64 `json:"auc"`
	RMSE float64  `json:"rmse"`
	// ECE is the expected calibration error: the impression-weighted mean
	// |predicted - observed CTR| over the reliability bins.
	ECE float64 `json:"ece"`
	// HeuristicLogLoss and ConstantLogLoss score the seed's heuristic and
	// the holdout-blind training mean on the same clips, for scale.
	HeuristicLogLoss float64          `json:"heuristic_logloss"`
	ConstantLogLoss  float64          `json:"constant_logloss"`
	Reliability      []ReliabilityBin `json:"reliability"`
	// IntervalCoverage is the share of holdout clips whose observed CTR
	// fell inside their interval (in-sample for the conformal quantile).
	IntervalCoverage float64 `json:"interval_coverage"`
}

// ReliabilityBin is one row of a reliability table.
type ReliabilityBin struct {
	Lo           float64 `json:"lo"`
	Hi           float64 `json:"hi"`
	Clips        int     `json:"clips"`
	Impressions  int64   `json:"impressions"`
	PredictedCTR float64 `json:"predicted_ctr"`
	ObservedCTR  float64 `json:"observed_ctr"`
}

// Calibration turns a point prediction into an interval and a band
// confidence. Residuals are the holdout's (observed - predicted) /
// sqrt(predicted), sorted: a split-conformal calibration set whose scale
// follows binomial noise.
type Calibration struct {
	Level     float64   `json:"level"`
	Quantile  float64   `json:"quantile"`
	Residuals []float64 `json:"residuals"`
}

// ModelStore is the model registry.
type ModelStore interface {
	// CreateModel stores m (inactive unless activate) and sets m.Version.
	CreateModel(ctx context.Context, m *ModelVersion, activate bool) error
	// UpdateModelEvaluation stores metrics and calibration of a model.
	UpdateModelEvaluation(ctx context.Context, version int64, holdoutRows int, mm *ModelMetrics, cal *Calibration) error
	// SetModelNote replaces a version's note (NotFound if absent).
	SetModelNote(ctx context.Context, version int64, note string) error
	// GetModel returns a version with its JSON, NotFound if absent.
	GetModel(ctx context.Context, version int64) (*ModelVersion, error)
	// ActiveModel returns the active version with its JSON, NotFound if none.
	ActiveModel(ctx context.Context) (*ModelVersion, error)
	// ListModels returns every version, newest first, without JSON.
	ListModels(ctx context.Context) ([]*ModelVersion, error)
	// ActiveVersion returns the active version number, 0 if none: a cheap
	// poll for replicas.
	ActiveVersion(ctx context.Context) (int64, error)
	// ActivateModel makes version the only active one (NotFound if absent).
	ActivateModel(ctx context.Context, version int64) error
	// CurrentActivation returns the registry's current activation (the
	// zero Activation when no version is active).
	CurrentActivation(ctx context.Context) (Activation, error)
	// ActivateModelIf is ActivateModel only while ifActive is still the
	// current activation, checked and changed atomically; it reports
	// whether it activated. A promotion decided against one champion must
	// not override a rollback made meanwhile, even one back to the same
	// version.
	ActivateModelIf(ctx context.Context, version int64, ifActive Activation) (bool, error)
}

// Activation is one activation of a model version: the version and the
// activation's number in the registry, which grows with every
// activation, so that activating A, then B, then A again gives A a new
// one.
type Activation struct {
	Version int64
	Seq     int64
}

// Locker is a named lease that a crashed holder cannot keep forever.
type Locker interface {
	// TryLock takes the lease for holder for ttl, or reports false while
	// another holder's lease is unexpired.
	TryLock(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// Unlock releases the lease if holder has it.
	Unlock(ctx context.Context, name, holder string) error
}

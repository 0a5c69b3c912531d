package lift

import (
	"context"
	"fmt"
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
}

// MinTrainingClips is the fewest clips with outcomes a training run
// accepts, as in the seed.
const MinTrainingClips = 10

// Trainer runs one CTR training job. params are optional overrides (for
// example "objective", "rounds", "max_depth", "eta"); an unknown or invalid
// parameter is Invalid. Not enough data is a successful call whose summary
// has Success false. Another training already running is Conflict.
type Trainer interface {
	TrainCTR(ctx context.Context, params map[string]any) (*TrainSummary, error)
}

// NotEnoughDataMessage is the training answer below MinTrainingClips.
func NotEnoughDataMessage(n int) string {
	return fmt.Sprintf("Not enough data: %d clips with outcomes, need at least %d", n, MinTrainingClips)
}

package lift

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// Band is a coarse CTR class.
type Band string

// The bands, best first.
const (
	Viral  Band = "viral"
	High   Band = "high"
	Medium Band = "medium"
	Low    Band = "low"
)

// Bands are the lower CTR bounds of viral, high and medium; below Medium
// is low.
type Bands struct {
	Viral, High, Medium float64
}

// DefaultBands are the seed's thresholds: viral >= 0.08 > high >= 0.05 >
// medium >= 0.03 > low.
var DefaultBands = Bands{Viral: 0.08, High: 0.05, Medium: 0.03}

// Of returns the band of a CTR.
func (b Bands) Of(ctr float64) Band {
	switch {
	case ctr >= b.Viral:
		return Viral
	case ctr >= b.High:
		return High
	case ctr >= b.Medium:
		return Medium
	}
	return Low
}

// Validate requires 0 < Medium < High < Viral < 1.
func (b Bands) Validate() error {
	if !(0 < b.Medium && b.Medium < b.High && b.High < b.Viral && b.Viral < 1) {
		return Errorf(Invalid, "band thresholds must satisfy 1 > viral > high > medium > 0, got viral %g, high %g, medium %g", b.Viral, b.High, b.Medium)
	}
	return nil
}

// String writes the thresholds as ParseBands reads them: "0.08,0.05,0.03".
func (b Bands) String() string {
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	return f(b.Viral) + "," + f(b.High) + "," + f(b.Medium)
}

// ParseBands reads the lower bounds of viral, high and medium written
// "VIRAL,HIGH,MEDIUM", as DefaultBands is "0.08,0.05,0.03": three
// fractions in (0,1), strictly decreasing. It returns Invalid otherwise.
func ParseBands(text string) (Bands, error) {
	parts := strings.Split(text, ",")
	if len(parts) != 3 {
		return Bands{}, Errorf(Invalid, "want three thresholds VIRAL,HIGH,MEDIUM such as %s, got %q", DefaultBands, text)
	}
	var x [3]float64
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return Bands{}, Errorf(Invalid, "band threshold %q is not a number", p)
		}
		x[i] = v
	}
	b := Bands{Viral: x[0], High: x[1], Medium: x[2]}
	if err := b.Validate(); err != nil {
		return Bands{}, err
	}
	return b, nil
}

// Contribution is one feature's additive share of a prediction's margin
// (TreeSHAP), in the model's margin units (log-odds for logistic models).
// Both numbers are single precision, as the model computes them, so the
// answer says "value":0.488 for the 0.488 a clip stores, not the
// 0.4880000054836273 that the same float32 reads as in double precision.
type Contribution struct {
	Feature string  `json:"feature"`
	Value   float32 `json:"value"`
	// Contribution is the SHAP value.
	Contribution float32 `json:"contribution"`
}

// Prediction is a CTR estimate for one clip or one inline feature set.
type Prediction struct {
	ID           int64   `json:"prediction_id"`
	ClipID       *string `json:"clip_id"`
	PredictedCTR float64 `json:"predicted_ctr"`
	Band         Band    `json:"predicted_band"`
	// Confidence is the estimated probability that Band is right.
	Confidence float64 `json:"confidence"`
	// Interval is a CTR interval meant to cover the clip's observed CTR
	// at the stated level.
	Interval [2]float64 `json:"ctr_interval"`
	// ModelVersion is the registry version that answered, nil for the heuristic.
	ModelVersion *int64 `json:"model_version"`
	// Source is "model" or "heuristic".
	Source      string         `json:"source"`
	Explanation []Contribution `json:"explanation,omitempty"`
	CreatedAt   time.Time      `json:"created_at"`
}

// Predictor turns features into a prediction (without ID, ClipID and
// CreatedAt, which the caller sets when it records it).
type Predictor interface {
	Predict(f Features) (Prediction, error)
}

// Heuristic is the seed's fallback when no model is trained:
// composite_score*0.05 + emotion priority*0.02. Its band is computed from
// the value (the seed always said medium). It has no evidence behind it,
// so its confidence is chance level over the four bands and its interval
// is all of [0,1]: honest rather than flattering.
type Heuristic struct {
	Bands Bands
}

// HeuristicConfidence is chance level among the four bands.
const HeuristicConfidence = 0.25

// HeuristicCTR is the seed's heuristic value for f, clamped to [0,1].
func HeuristicCTR(f Features) float64 {
	ctr := f.CompositeScore*0.05 + f.EmotionPriority*0.02
	return min(max(ctr, 0), 1)
}

// Predict implements Predictor.
func (h Heuristic) Predict(f Features) (Prediction, error) {
	ctr := HeuristicCTR(f)
	return Prediction{
		PredictedCTR: ctr,
		Band:         h.Bands.Of(ctr),
		Confidence:   HeuristicConfidence,
		Interval:     [2]float64{0, 1},
		Source:       "heuristic",
	}, nil
}

// PredictionStore records predictions.
type PredictionStore interface {
	// RecordPrediction stores p and sets p.ID; p.ClipID, when set, must
	// name a stored clip (NotFound otherwise).
	RecordPrediction(ctx context.Context, p *Prediction) error
}

// PredictionPruner deletes recorded predictions, the log that grows with
// every answer (lift predictions prune).
type PredictionPruner interface {
	// PrunePredictions deletes the recorded predictions made before
	// before, at most PruneChunk rows per transaction, so that serving
	// goes on meanwhile and no lock is held long, and returns how many it
	// deleted. A store may keep its newest predictions whatever their
	// time (SQLite keeps those not yet in its per-clip index, about the
	// latest 32,768, and always the newest one).
	PrunePredictions(ctx context.Context, before time.Time) (int64, error)
}

// PruneChunk bounds the rows (a prediction each, or a batch of them) one
// transaction of PrunePredictions deletes.
const PruneChunk = 2000

// ClipStore keeps clips and their outcomes.
type ClipStore interface {
	// PutClip inserts or replaces c (keeping its outcomes) and reports
	// whether it was new. Invalid if c does not validate.
	PutClip(ctx context.Context, c *Clip) (created bool, err error)
	// PutClips stores clips in one transaction: all or none.
	PutClips(ctx context.Context, cs []*Clip) error
	// GetClip returns the clip, NotFound if absent.
	GetClip(ctx context.Context, id string) (*Clip, error)
	// ListClips returns up to limit clips with id > after, in id order,
	// and the id to pass as after for the next page ("" at the end).
	ListClips(ctx context.Context, after string, limit int) ([]*Clip, string, error)
	// AddOutcomes stores outcomes in one transaction; the clips' recorded
	// predictions then read the new actual CTR (the stores' view
	// predictions_with_outcomes). NotFound (naming the clip) if a clip is
	// absent; nothing is written then.
	AddOutcomes(ctx context.Context, os []*Outcome) error
	// ClipsWithOutcomes returns every clip with at least one outcome, in
	// id order: the training rows.
	ClipsWithOutcomes(ctx context.Context) ([]*Clip, error)
	// CountClipsWithOutcomes counts them.
	CountClipsWithOutcomes(ctx context.Context) (int, error)
}

// String formats a band for logs.
func (b Band) String() string { return string(b) }

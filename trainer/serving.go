package trainer

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"sort"
	"sync"
	"sync/atomic"

	"lift"
	"lift/gbdt"
)

// Serving is the predictor the API uses: the active model, swapped
// atomically (readers never lock and never see a half-loaded model), or
// the seed's heuristic while there is none.
type Serving struct {
	Bands lift.Bands
	// Explain is how many top feature contributions a prediction carries.
	Explain int

	cur atomic.Pointer[servedModel]
	// swapMu orders the swaps; swaps counts them, so that a Refresh that
	// read the registry before a Load here (an activation, a promotion)
	// does not replace that newer model with what it read.
	swapMu sync.Mutex
	swaps  int64
}

// servedModel is an immutable loaded model.
type servedModel struct {
	version   int64
	booster   *gbdt.Booster
	cal       *lift.Calibration
	objective gbdt.Objective

	cache  sync.Map // [6]float32 features -> lift.Prediction
	cached atomic.Int64
}

// Version returns the served model version, or 0 for the heuristic.
func (s *Serving) Version() int64 {
	if m := s.cur.Load(); m != nil {
		return m.version
	}
	return 0
}

// Load parses and validates a registry entry and serves it. The swap
// happens only after everything succeeded.
func (s *Serving) Load(mv *lift.ModelVersion) error {
	m, err := loadServed(mv)
	if err != nil {
		return err
	}
	s.swap(m, -1)
	return nil
}

// swap serves m (nil: the heuristic) and reports true, unless since is
// not -1 and another swap came after since (the count a caller read
// before it looked at the registry).
func (s *Serving) swap(m *servedModel, since int64) bool {
	s.swapMu.Lock()
	defer s.swapMu.Unlock()
	if since >= 0 && s.swaps != since {
		return false
	}
	s.cur.Store(m)
	s.swaps++
	return true
}

// swapCount is the number of swaps so far.
func (s *Serving) swapCount() int64 {
	s.swapMu.Lock()
	defer s.swapMu.Unlock()
	return s.swaps
}

func loadServed(mv *lift.ModelVersion) (*servedModel, error) {
	b, err := gbdt.Load(bytes.NewReader(mv.Model))
	if err != nil {
		return nil, lift.Errorf(lift.Invalid, "model version %d: %w", mv.Version, err)
	}
	if b.NumFeature > len(lift.FeatureNames) {
		return nil, lift.Errorf(lift.Invalid, "model version %d expects %d features; Lift's CTR model has %d (%v)",
			mv.Version, b.NumFeature, len(lift.FeatureNames), lift.FeatureNames)
	}
	if err := checkMargins(b); err != nil {
		return nil, lift.Errorf(lift.Invalid, "model version %d: %s", mv.Version, lift.Message(err))
	}
	return &servedModel{version: mv.Version, booster: b, cal: mv.Calibration, objective: b.Objective}, nil
}

// Refresh serves the store's active model if it differs from the served
// one (at start-up, after a promotion elsewhere, on a replica's poll), and
// returns the model it loaded (nil when the served one stays, or when no
// model is active any more). A model this Serving loaded while Refresh
// read the registry stays: it is newer than what Refresh read.
func (s *Serving) Refresh(ctx context.Context, models lift.ModelStore) (*lift.ModelVersion, error) {
	since := s.swapCount()
	v, err := models.ActiveVersion(ctx)
	if err != nil || v == s.Version() {
		return nil, err
	}
	mv, err := models.ActiveModel(ctx)
	if lift.KindOf(err) == lift.NotFound {
		s.swap(nil, since)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if mv.Version == s.Version() {
		return nil, nil
	}
	m, err := loadServed(mv)
	if err != nil {
		return nil, err
	}
	if !s.swap(m, since) {
		return nil, nil
	}
	return mv, nil
}

// predictionCacheSize bounds how many distinct feature vectors a served
// model remembers its answer for. A clip is predicted again and again
// with the same features, and its TreeSHAP explanation costs far more
// than the tree walk; the cache starts empty with every model version.
const predictionCacheSize = 100_000

// Predict implements lift.Predictor.
func (s *Serving) Predict(f lift.Features) (lift.Prediction, error) {
	m := s.cur.Load()
	if m == nil {
		return lift.Heuristic{Bands: s.Bands}.Predict(f)
	}
	x := f.Vector()
	key := [6]float32(x)
	if p, ok := m.cache.Load(key); ok {
		return p.(lift.Prediction), nil
	}
	out := m.predict(s.Bands, x)
	if s.Explain > 0 {
		out.Explanation, _ = contributions(m.booster, x)
		sort.SliceStable(out.Explanation, func(i, j int) bool {
			return math.Abs(float64(out.Explanation[i].Contribution)) > math.Abs(float64(out.Explanation[j].Contribution))
		})
		out.Explanation = out.Explanation[:min(s.Explain, len(out.Explanation))]
	}
	if m.cached.Add(1) <= predictionCacheSize {
		m.cache.Store(key, out)
	}
	return out, nil
}

// predict is the model's answer for x: CTR, band, and the interval and
// band confidence from the holdout calibration.
func (m *servedModel) predict(bands lift.Bands, x []float32) lift.Prediction {
	ctr := predictCTR(m.booster, x)
	v := m.version
	p := lift.Prediction{PredictedCTR: ctr, Band: bands.Of(ctr), Source: "model", ModelVersion: &v}
	if m.cal != nil {
		p.Interval = interval(m.cal, ctr)
		p.Confidence = bandConfidence(m.cal, bands, ctr)
	} else {
		// A model never scored on a holdout has no calibration: say so.
		p.Interval = [2]float64{0, 1}
		p.Confidence = lift.HeuristicConfidence
	}
	return p
}

// Contributions predicts like Predict (without the top-n explanation) and
// also returns every feature's TreeSHAP contribution, in FeatureNames
// order, and the bias (the expected margin): bias plus the contributions
// is the model's margin (log-odds for logistic models). The heuristic has
// none: nil and 0. Both come from the one model loaded here, whatever
// swap happens meanwhile.
func (s *Serving) Contributions(f lift.Features) (lift.Prediction, []lift.Contribution, float64, error) {
	m := s.cur.Load()
	if m == nil {
		p, err := lift.Heuristic{Bands: s.Bands}.Predict(f)
		return p, nil, 0, err
	}
	x := f.Vector()
	cs, bias := contributions(m.booster, x)
	return m.predict(s.Bands, x), cs, bias, nil
}

// contributions are the TreeSHAP values of x's features, in FeatureNames
// order, and the bias (the expected margin).
func contributions(b *gbdt.Booster, x []float32) ([]lift.Contribution, float64) {
	phi := b.Contributions(x)
	cs := make([]lift.Contribution, 0, len(x))
	for i := range min(len(x), len(phi)-1) {
		cs = append(cs, lift.Contribution{Feature: lift.FeatureNames[i], Value: x[i], Contribution: phi[i]})
	}
	return cs, float64(phi[len(phi)-1])
}

// predictCTR is the model's CTR for one row: the probability for logistic
// models, the clamped value for regression ones.
func predictCTR(b *gbdt.Booster, x []float32) float64 {
	p := float64(b.Predict(x))
	if math.IsNaN(p) {
		return 0
	}
	return min(max(p, 0), 1)
}

// String describes what is served, for logs.
func (s *Serving) String() string {
	if v := s.Version(); v != 0 {
		return fmt.Sprintf("model v%d", v)
	}
	return "heuristic"
}

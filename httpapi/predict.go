package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"lift"
)

// predictInput is the body of POST /predict/ctr: a stored clip's id, or
// inline features by name.
type predictInput struct {
	ClipID   *string                     `json:"clip_id"`
	Features map[string]*json.RawMessage `json:"features"`
}

func (s *Server) predictCTR(w http.ResponseWriter, r *http.Request) error {
	var in predictInput
	if _, err := decode(w, r, &in, true); err != nil {
		return err
	}
	qid, hasQuery := queryValue(r.URL.RawQuery, "clip_id")
	switch {
	case hasQuery && in.ClipID != nil && *in.ClipID != qid:
		return lift.Errorf(lift.Invalid, "clip_id in the query (%q) differs from the body (%q)", qid, *in.ClipID)
	case hasQuery:
		in.ClipID = &qid
	}
	var (
		f      lift.Features
		clipID *string
	)
	switch {
	case in.ClipID != nil && in.Features != nil:
		return lift.Errorf(lift.Invalid, "give clip_id or features, not both")
	case in.ClipID != nil:
		if err := lift.ValidateClipID(*in.ClipID); err != nil {
			return err
		}
		var err error
		if f, err = s.clipFeatures(r.Context(), *in.ClipID); err != nil {
			return err
		}
		clipID = in.ClipID
	case in.Features != nil:
		var err error
		if f, err = parseFeatures(in.Features); err != nil {
			return err
		}
	default:
		return lift.Errorf(lift.Invalid, "clip_id (query or body) or features is required")
	}
	p, err := s.Predictor.Predict(f)
	if err != nil {
		return err
	}
	p.ClipID = clipID
	p.CreatedAt = s.Now()
	if err := s.Predictions.RecordPrediction(r.Context(), &p); err != nil {
		return err
	}
	s.Metrics.observePrediction(&p)
	buf := answerBuffers.Get().(*[]byte)
	defer answerBuffers.Put(buf)
	b, err := p.AppendJSON((*buf)[:0])
	if err != nil {
		return err
	}
	*buf = b
	return writeJSONBytes(w, http.StatusOK, b)
}

// answerBuffers hold predictions' answers while they are written (the
// writer copies them): one per request was the route's largest
// allocation.
var answerBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// queryValue is url.ParseQuery(raw)[key][0] without building the map of
// every key: the first value of key, and whether key is there at all.
// Pairs that do not parse are skipped, as URL.Query skips them.
func queryValue(raw, key string) (string, bool) {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if strings.Contains(pair, ";") {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if k, err := url.QueryUnescape(k); err != nil || k != key {
			continue
		}
		if v, err := url.QueryUnescape(v); err == nil {
			return v, true
		}
	}
	return "", false
}

// parseFeatures reads inline features by name. Absent names take the
// seed's defaults (0.5 for the composites, 0 otherwise) except duration,
// which has no sensible default and is required.
func parseFeatures(raw map[string]*json.RawMessage) (lift.Features, error) {
	f := lift.DefaultFeatures
	dst := map[string]*float64{
		"psychology_composite": &f.PsychologyComposite,
		"hook_strength":        &f.HookStrength,
		"novelty_score":        &f.NoveltyScore,
		"emotion_priority":     &f.EmotionPriority,
		"duration":             &f.Duration,
		"has_face":             &f.HasFace,
		"composite_score":      &f.CompositeScore,
	}
	if _, ok := raw["duration"]; !ok {
		return f, lift.Errorf(lift.Invalid, "features.duration is required (seconds)")
	}
	for name, v := range raw {
		p, ok := dst[name]
		if !ok {
			return f, lift.Errorf(lift.Invalid, "features.%s is not a known feature (known: %v and composite_score)", name, lift.FeatureNames)
		}
		if v == nil {
			return f, lift.Errorf(lift.Invalid, "features.%s must be a number, got null", name)
		}
		var b bool
		if name == "has_face" && json.Unmarshal(*v, &b) == nil {
			if b {
				*p = 1
			} else {
				*p = 0
			}
			continue
		}
		if err := json.Unmarshal(*v, p); err != nil || math.IsInf(*p, 0) {
			return f, lift.Errorf(lift.Invalid, "features.%s must be a finite number, got %s", name, string(*v))
		}
	}
	return f, f.Validate()
}

func (s *Server) trainCTR(w http.ResponseWriter, r *http.Request) error {
	var params map[string]any
	if _, err := decode(w, r, &params, true); err != nil {
		return err
	}
	if s.Trainer == nil {
		n, err := s.Clips.CountClipsWithOutcomes(r.Context())
		if err != nil {
			return err
		}
		if n < lift.MinTrainingClips {
			return writeJSON(w, http.StatusOK, notEnoughData(n))
		}
		return lift.Errorf(lift.Unavailable, "no trainer is configured on this server")
	}
	// Not the request's context: a client that goes away (or a proxy's
	// idle timeout) does not abort a run that holds the training lock.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), s.TrainTimeout)
	defer cancel()
	start := time.Now()
	sum, err := s.Trainer.TrainCTR(ctx, params)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		err = lift.Errorf(lift.Unavailable, "training did not finish within %s (the server's limit for a run on demand)", s.TrainTimeout)
	}
	// Parameters refused started no run: a client's typo is not a failed
	// training run to alert on (a run that started and failed is one).
	if _, refused := errors.AsType[*lift.RunNotStarted](err); !refused {
		s.Metrics.ObserveTraining(sum, err, time.Since(start))
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, sum)
}

func notEnoughData(n int) *lift.TrainSummary {
	return &lift.TrainSummary{Message: lift.NotEnoughDataMessage(n), Rows: n}
}

// featureSource is a store that reads a clip's model inputs without
// decoding the whole clip (the SQLite store does).
type featureSource interface {
	ClipFeatures(ctx context.Context, id string) (lift.Features, error)
}

func (s *Server) clipFeatures(ctx context.Context, id string) (f lift.Features, err error) {
	if fs, ok := s.Clips.(featureSource); ok {
		f, err = fs.ClipFeatures(ctx, id)
	} else {
		var c *lift.Clip
		if c, err = s.Clips.GetClip(ctx, id); err == nil {
			f = c.Features()
		}
	}
	if err != nil {
		return f, err
	}
	return f, f.CheckStored(id)
}

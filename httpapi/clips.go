package httpapi

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"lift"
)

// clipInput is the body of PUT /clips/{id}: the seed's Clip fields. The
// derived fields (impressions, clicks, timestamps, actual_ctr, features)
// are read-only, but a client may send back what GET returned, edited or
// not, so they are accepted and ignored; features only when they are what
// GET answered or what this body's scores give, since a client sending
// others expects them to be used.
type clipInput struct {
	ClipID          *string        `json:"clip_id"`
	PsychologyScore map[string]any `json:"psychology_score"`
	HookStrength    map[string]any `json:"hook_strength"`
	NoveltyScore    map[string]any `json:"novelty_score"`
	EmotionData     map[string]any `json:"emotion_data"`
	Duration        *float64       `json:"duration"`
	CompositeScore  *float64       `json:"composite_score"`

	Impressions *count         `json:"impressions"`
	Clicks      *count         `json:"clicks"`
	CreatedAt   *time.Time     `json:"created_at"`
	UpdatedAt   *time.Time     `json:"updated_at"`
	ActualCTR   *float64       `json:"actual_ctr"`
	Features    *lift.Features `json:"features"`
}

func (s *Server) putClip(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id") // checked by wrap, as every path id
	var in clipInput
	if _, err := decode(w, r, &in, false); err != nil {
		return err
	}
	if in.ClipID != nil && *in.ClipID != id {
		return lift.Errorf(lift.Invalid, "clip_id %q in the body differs from %q in the path", *in.ClipID, id)
	}
	if in.Duration == nil {
		return lift.Errorf(lift.Invalid, "duration is required (seconds)")
	}
	// impressions and clicks are the sums of the clip's outcomes (POST
	// /clips/{id}/outcomes): a body read back from GET may carry them and
	// they are ignored, but not when they are not counts at all.
	if imp, clk := in.Impressions, in.Clicks; (imp != nil && *imp < 0) || (clk != nil && *clk < 0) ||
		(imp != nil && clk != nil && *clk > *imp) {
		return lift.Errorf(lift.Invalid, "impressions and clicks, when given, must be counts with clicks <= impressions "+
			"(they are the sums of the clip's outcomes and are not set here; POST /clips/%s/outcomes adds to them)", id)
	}
	if ctr := in.ActualCTR; ctr != nil && !(*ctr >= 0 && *ctr <= 1) {
		return lift.Errorf(lift.Invalid, "actual_ctr, when given, must be a CTR in [0,1], got %v "+
			"(it is read from the clip's outcomes and not set here)", *ctr)
	}
	c := &lift.Clip{
		ID: id, PsychologyScore: in.PsychologyScore, HookStrength: in.HookStrength,
		NoveltyScore: in.NoveltyScore, EmotionData: in.EmotionData,
		Duration: *in.Duration, CompositeScore: in.CompositeScore,
	}
	if in.Features != nil && *in.Features != c.Features() && !s.storedFeatures(r.Context(), id, *in.Features) {
		want, _ := json.Marshal(c.Features())
		sent, _ := json.Marshal(in.Features)
		return lift.Errorf(lift.Invalid, "features are read from the clip's scores and duration, not set: this body's give %s, not the %s sent, "+
			"nor are those the stored clip's (leave features out, or send them as GET answered them)", want, sent)
	}
	created, err := s.Clips.PutClip(r.Context(), c)
	if err != nil {
		return err
	}
	stored, err := s.Clips.GetClip(r.Context(), id)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return writeJSON(w, status, clipView(stored))
}

// storedFeatures reports whether f are the features of the clip stored as
// id: what GET answered before the client edited the scores it sends.
func (s *Server) storedFeatures(ctx context.Context, id string, f lift.Features) bool {
	c, err := s.Clips.GetClip(ctx, id)
	return err == nil && c.Features() == f
}

// clipJSON is a clip as the API shows it: the stored fields, the features
// the model sees, and the observed CTR.
type clipJSON struct {
	*lift.Clip
	Features  lift.Features `json:"features"`
	ActualCTR *float64      `json:"actual_ctr"`
}

func clipView(c *lift.Clip) clipJSON {
	v := clipJSON{Clip: c, Features: c.Features()}
	if ctr, ok := c.ActualCTR(); ok {
		v.ActualCTR = &ctr
	}
	return v
}

func (s *Server) getClip(w http.ResponseWriter, r *http.Request) error {
	c, err := s.Clips.GetClip(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, clipView(c))
}

// Page size bounds for GET /clips.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

func (s *Server) listClips(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit := DefaultPageSize
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageSize {
			return lift.Errorf(lift.Invalid, "limit must be an integer in [1,%d], got %q", MaxPageSize, v)
		}
		limit = n
	}
	after := q.Get("after")
	if after != "" {
		// An id no write could have stored is refused alike on every
		// store, as path ids are (a database might otherwise refuse the
		// text itself, and another answer an empty page).
		if err := lift.ValidateID("after", after); err != nil {
			return err
		}
	}
	cs, next, err := s.Clips.ListClips(r.Context(), after, limit)
	if err != nil {
		return err
	}
	views := make([]clipJSON, len(cs))
	for i, c := range cs {
		views[i] = clipView(c)
	}
	var nextp *string
	if next != "" {
		nextp = &next
	}
	return writeJSON(w, http.StatusOK, struct {
		Clips []clipJSON `json:"clips"`
		Next  *string    `json:"next"`
	}{views, nextp})
}

type outcomeInput struct {
	// OutcomeID, when given, makes the outcome idempotent (lift.Outcome.Key).
	OutcomeID   *string `json:"outcome_id"`
	Impressions *count  `json:"impressions"`
	Clicks      *count  `json:"clicks"`
	ObservedAt  *string `json:"observed_at"`
}

// count is a JSON whole number however it is written: 100, 100.0 or 1e2
// (JSON has one number type, and clients holding counts as floats send
// them so). A fraction, or a number beyond int64, is refused as not an
// int64; the range of a count is its validation's to judge.
type count int64

// UnmarshalJSON implements json.Unmarshaler.
func (c *count) UnmarshalJSON(b []byte) error {
	// An integer literal is read exactly (a float64 would round one past
	// 2^53, and the message would echo another number).
	if n, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		*c = count(n)
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil || f != math.Trunc(f) || math.Abs(f) >= 1<<63 {
		// The decoder names the field in a type error it is given.
		value := "number " + string(b)
		switch b[0] {
		case '"':
			value = "string"
		case 't', 'f':
			value = "bool"
		case '[':
			value = "array"
		case '{':
			value = "object"
		}
		return &json.UnmarshalTypeError{Value: value, Type: reflect.TypeFor[count]()}
	}
	*c = count(f)
	return nil
}

func (s *Server) postOutcome(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	var in outcomeInput
	if _, err := decode(w, r, &in, false); err != nil {
		return err
	}
	if in.Impressions == nil || in.Clicks == nil {
		return lift.Errorf(lift.Invalid, "impressions and clicks are required")
	}
	o := &lift.Outcome{ClipID: id, Impressions: int64(*in.Impressions), Clicks: int64(*in.Clicks)}
	if in.OutcomeID != nil {
		if *in.OutcomeID == "" {
			return lift.Errorf(lift.Invalid, "outcome_id must not be empty (leave it out for none)")
		}
		o.Key = *in.OutcomeID
	}
	if in.ObservedAt != nil { // null, like leaving it out, means now
		t, err := lift.ParseObservedAt(*in.ObservedAt, s.Now())
		if err != nil {
			return err
		}
		o.ObservedAt = t
	}
	if err := s.Clips.AddOutcomes(r.Context(), []*lift.Outcome{o}); err != nil {
		return err
	}
	out := struct {
		*lift.Outcome
		// The clip's totals after the outcome; null when they could not
		// be read back.
		ClipImpressions *int64   `json:"clip_impressions"`
		ClipClicks      *int64   `json:"clip_clicks"`
		ActualCTR       *float64 `json:"actual_ctr"`
	}{Outcome: o}
	// The outcome is committed: a failed read of the totals must not turn
	// that into an error, which a client would retry, counting it twice.
	if c, err := s.Clips.GetClip(r.Context(), id); err != nil {
		s.Logger.Warn("outcome stored; reading the clip's totals back failed", "clip", id, "outcome", o.ID, "err", err)
	} else {
		ctr, _ := c.ActualCTR()
		out.ClipImpressions, out.ClipClicks, out.ActualCTR = &c.Impressions, &c.Clicks, &ctr
	}
	if o.Repeated { // stored before under its outcome_id: counted once
		return writeJSON(w, http.StatusOK, out)
	}
	return writeJSON(w, http.StatusCreated, out)
}

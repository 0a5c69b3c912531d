package lift

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Clip is a short video clip as the upstream analysis describes it. The
// four score fields are free-form JSON objects; the features read known
// keys from them (see Features).
type Clip struct {
	ID              string         `json:"clip_id"`
	PsychologyScore map[string]any `json:"psychology_score"`
	HookStrength    map[string]any `json:"hook_strength"`
	NoveltyScore    map[string]any `json:"novelty_score"`
	EmotionData     map[string]any `json:"emotion_data"`
	// Duration is the clip's length in seconds.
	Duration float64 `json:"duration"`
	// CompositeScore is the upstream overall score in [0,1], if known.
	CompositeScore *float64 `json:"composite_score"`
	// Impressions and Clicks are the sums over the clip's outcomes.
	Impressions int64     `json:"impressions"`
	Clicks      int64     `json:"clicks"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// ActualCTR returns clicks/impressions summed over the clip's outcomes, and
// false when it has none.
func (c *Clip) ActualCTR() (float64, bool) {
	if c.Impressions == 0 {
		return 0, false
	}
	return float64(c.Clicks) / float64(c.Impressions), true
}

// FeatureNames are the model's inputs in column order, as the seed named them.
var FeatureNames = []string{
	"psychology_composite", "hook_strength", "novelty_score",
	"emotion_priority", "duration", "has_face",
}

// Features are a clip's model inputs. CompositeScore is not a model input:
// the heuristic fallback uses it, as the seed did.
type Features struct {
	PsychologyComposite float64 `json:"psychology_composite"`
	HookStrength        float64 `json:"hook_strength"`
	NoveltyScore        float64 `json:"novelty_score"`
	EmotionPriority     float64 `json:"emotion_priority"`
	Duration            float64 `json:"duration"`
	HasFace             float64 `json:"has_face"`
	CompositeScore      float64 `json:"composite_score"`
}

// DefaultFeatures holds the seed's values for absent keys: 0.5 for the
// three composites, 0 for emotion priority and has_face.
var DefaultFeatures = Features{PsychologyComposite: 0.5, HookStrength: 0.5, NoveltyScore: 0.5, CompositeScore: 0.5}

// Features extracts the model inputs exactly as the seed did: missing
// psychology composite, hook strength and novelty composite are 0.5, a
// missing emotion priority is 0, has_face is 1 when truthy else 0, and a
// missing composite_score is 0.5. Validate has already rejected values of
// the wrong type.
func (c *Clip) Features() Features {
	f := DefaultFeatures
	f.PsychologyComposite = number(c.PsychologyScore, "composite", f.PsychologyComposite)
	f.HookStrength = number(c.HookStrength, "strength", f.HookStrength)
	f.NoveltyScore = number(c.NoveltyScore, "composite", f.NoveltyScore)
	f.EmotionPriority = number(c.EmotionData, "priority_score", 0)
	f.Duration = c.Duration
	if truthy(c.EmotionData["has_face"]) {
		f.HasFace = 1
	}
	if c.CompositeScore != nil {
		f.CompositeScore = *c.CompositeScore
	}
	return f
}

// Vector returns the six model inputs in FeatureNames order.
func (f Features) Vector() []float32 {
	return []float32{
		float32(f.PsychologyComposite), float32(f.HookStrength), float32(f.NoveltyScore),
		float32(f.EmotionPriority), float32(f.Duration), float32(f.HasFace),
	}
}

// MaxFeatureValue is the largest magnitude a feature may have: the model
// reads features as float32, in which anything larger is infinite.
const MaxFeatureValue = math.MaxFloat32

// Validate checks features before a prediction: each finite and within
// the model's float32 range, composite_score in [0,1] (the heuristic's
// scale), duration non-negative and has_face 0 or 1. The four scores take
// whatever scale a platform uses; the model learns it.
func (f Features) Validate() error {
	vals := [...]float64{f.PsychologyComposite, f.HookStrength, f.NoveltyScore, f.EmotionPriority, f.Duration, f.HasFace, f.CompositeScore}
	for i, v := range vals {
		name := "composite_score"
		if i < len(FeatureNames) {
			name = FeatureNames[i]
		}
		if math.IsNaN(v) || math.Abs(v) > MaxFeatureValue {
			return Errorf(Invalid, "features.%s must be a finite number of magnitude at most %.3g, got %g", name, MaxFeatureValue, v)
		}
	}
	if f.CompositeScore < 0 || f.CompositeScore > 1 {
		return Errorf(Invalid, "features.composite_score must be in [0,1], got %g", f.CompositeScore)
	}
	if f.Duration < 0 {
		return Errorf(Invalid, "features.duration must be >= 0 seconds, got %g", f.Duration)
	}
	if f.HasFace != 0 && f.HasFace != 1 {
		return Errorf(Invalid, "features.has_face must be 0 or 1, got %g", f.HasFace)
	}
	return nil
}

// CheckStored checks the features of a stored clip before a prediction:
// a clip stored before Validate bounded its values can hold one the model
// cannot read. The error names the clip.
func (f Features) CheckStored(clipID string) error {
	if err := f.Validate(); err != nil {
		return Errorf(Invalid, "clip %q cannot be predicted: %s; store it again with valid values", clipID, Message(err))
	}
	return nil
}

// number reads m[key] as a float, or def when absent or null.
func number(m map[string]any, key string, def float64) float64 {
	switch v := m[key].(type) {
	case float64:
		return v
	case int:
		return float64(v)
	case int64:
		return float64(v)
	}
	return def
}

// truthy follows the seed's `if emotion.get('has_face')`: false, null, 0
// and "" are false; everything else is true.
func truthy(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case float64:
		return v != 0
	case string:
		return v != ""
	}
	return true
}

// MaxClipIDLen bounds clip ids so that keys stay index-friendly.
const MaxClipIDLen = 200

// ValidateClipID rejects empty, over-long or control-character ids.
func ValidateClipID(id string) error { return ValidateID("clip_id", id) }

// ValidateID checks an id the way ValidateClipID does; field names it in
// the message.
func ValidateID(field, id string) error {
	if id == "" {
		return Errorf(Invalid, "%s must not be empty", field)
	}
	if len(id) > MaxClipIDLen {
		return Errorf(Invalid, "%s must be at most %d bytes", field, MaxClipIDLen)
	}
	if !utf8.ValidString(id) {
		// JSON would answer it as U+FFFD, an id that names nothing.
		return Errorf(Invalid, "%s must be valid UTF-8", field)
	}
	if id == "." || id == ".." {
		// In a URL path clients and browsers resolve them away, so the
		// thing could not be reached.
		return Errorf(Invalid, "%s must not be %q", field, id)
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f {
			return Errorf(Invalid, "%s must not contain control characters", field)
		}
	}
	return nil
}

// DropNegativeZeros turns every -0 among the clip's numbers (duration,
// composite_score and any number in the score objects) into 0, in place:
// the stores call it before writing, because SQLite and PostgreSQL keep
// the sign of a zero in different places, and a clip must read back the
// same from either.
func (c *Clip) DropNegativeZeros() {
	if c.Duration == 0 {
		c.Duration = 0
	}
	if s := c.CompositeScore; s != nil && *s == 0 {
		*s = 0
	}
	for _, m := range []map[string]any{c.PsychologyScore, c.HookStrength, c.NoveltyScore, c.EmotionData} {
		dropNegativeZeros(m)
	}
}

func dropNegativeZeros(v any) any {
	switch v := v.(type) {
	case float64:
		if v == 0 {
			return 0.0
		}
	case map[string]any:
		for k, x := range v {
			v[k] = dropNegativeZeros(x)
		}
	case []any:
		for i, x := range v {
			v[i] = dropNegativeZeros(x)
		}
	}
	return v
}

// Validate checks a clip before it is stored: a valid id, a finite
// non-negative duration, a composite_score in [0,1], the four scores the
// features read within the model's float32 range, and that those keys
// have the right types (a string where a number belongs
// would otherwise silently become the default).
func (c *Clip) Validate() error {
	if err := ValidateClipID(c.ID); err != nil {
		return err
	}
	if math.IsNaN(c.Duration) || c.Duration < 0 || c.Duration > MaxFeatureValue {
		return Errorf(Invalid, "duration must be a finite number of seconds >= 0 (at most %.3g)", MaxFeatureValue)
	}
	if s := c.CompositeScore; s != nil && !(*s >= 0 && *s <= 1) {
		return Errorf(Invalid, "composite_score must be in [0,1], got %g", *s)
	}
	checks := []struct {
		field string
		m     map[string]any
		key   string
	}{
		{"psychology_score", c.PsychologyScore, "composite"},
		{"hook_strength", c.HookStrength, "strength"},
		{"novelty_score", c.NoveltyScore, "composite"},
		{"emotion_data", c.EmotionData, "priority_score"},
	}
	for _, ch := range checks {
		v, ok := ch.m[ch.key]
		if !ok || v == nil {
			continue
		}
		x, isNum := v.(float64)
		if !isNum {
			return Errorf(Invalid, "%s.%s must be a number, got %s", ch.field, ch.key, typeName(v))
		}
		if math.Abs(x) > MaxFeatureValue {
			return Errorf(Invalid, "%s.%s must be of magnitude at most %.3g (the model's float32 range), got %g", ch.field, ch.key, MaxFeatureValue, x)
		}
	}
	for _, ch := range checks {
		if err := checkText(ch.field, ch.m); err != nil {
			return err
		}
	}
	return nil
}

// checkText refuses a NUL character or invalid UTF-8 in any key or
// string of a score object: PostgreSQL's JSON cannot hold them, and a
// store must not take on one database what the other refuses.
func checkText(path string, v any) error {
	bad := func(s string) bool { return !utf8.ValidString(s) || strings.ContainsRune(s, 0) }
	switch v := v.(type) {
	case string:
		if bad(v) {
			return Errorf(Invalid, "%s holds a NUL character or invalid UTF-8", path)
		}
	case map[string]any:
		for k, x := range v {
			if bad(k) {
				return Errorf(Invalid, "%s has a key with a NUL character or invalid UTF-8", path)
			}
			if err := checkText(path+"."+k, x); err != nil {
				return err
			}
		}
	case []any:
		for i, x := range v {
			if err := checkText(fmt.Sprintf("%s[%d]", path, i), x); err != nil {
				return err
			}
		}
	}
	return nil
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("%T", v)
}

// Outcome is one observation window of a clip's performance.
type Outcome struct {
	ID     int64  `json:"id"`
	ClipID string `json:"clip_id"`
	// Key, when the client gives one (outcome_id), makes the outcome
	// idempotent: the same key for the same clip again is the same
	// outcome, stored and counted once (Repeated), and Conflict if its
	// counts (or a given observed_at) differ.
	Key         string    `json:"outcome_id,omitempty"`
	Impressions int64     `json:"impressions"`
	Clicks      int64     `json:"clicks"`
	ObservedAt  time.Time `json:"observed_at"`
	Repeated    bool      `json:"-"`
}

// Same reports whether o, as given (observedGiven: with its own
// observed_at), is the stored outcome s of the same key, and Conflict
// saying how it differs if not.
func (o *Outcome) Same(s *Outcome, observedGiven bool) error {
	if o.Impressions != s.Impressions || o.Clicks != s.Clicks {
		return Errorf(Conflict, "outcome %q of clip %q was stored before with %d impressions and %d clicks; refusing %d and %d",
			o.Key, o.ClipID, s.Impressions, s.Clicks, o.Impressions, o.Clicks)
	}
	if observedGiven && !o.ObservedAt.Equal(s.ObservedAt) {
		return Errorf(Conflict, "outcome %q of clip %q was stored before observed at %s; refusing observed_at %s",
			o.Key, o.ClipID, s.ObservedAt.UTC().Format(time.RFC3339Nano), o.ObservedAt.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// Restate readies o for a store's write, again when a group commit runs
// it a second time: the observed_at it was given (now when none), as the
// stores keep it, and not Repeated.
func (o *Outcome) Restate(given, now time.Time) {
	o.ObservedAt, o.Repeated = given, false
	if given.IsZero() {
		o.ObservedAt = now
	}
	o.ObservedAt = StoredTime(o.ObservedAt)
}

// Repeats is a store's answer for o, whose key it found stored as s:
// Conflict if o is not the same outcome (Same; given is the observed_at o
// came with), else o takes s's id and observed_at and is Repeated,
// counted once.
func (o *Outcome) Repeats(s *Outcome, given time.Time) error {
	if err := o.Same(s, !given.IsZero()); err != nil {
		return err
	}
	o.ID, o.ObservedAt, o.Repeated = s.ID, StoredTime(s.ObservedAt), true
	return nil
}

// Validate rejects negative counts, zero impressions and more clicks than
// impressions.
func (o *Outcome) Validate() error {
	switch {
	case o.Impressions < 0 || o.Clicks < 0:
		return Errorf(Invalid, "impressions and clicks must not be negative (got %d and %d)", o.Impressions, o.Clicks)
	case o.Impressions == 0:
		return Errorf(Invalid, "impressions must be at least 1")
	case o.Clicks > o.Impressions:
		return Errorf(Invalid, "clicks (%d) must not exceed impressions (%d)", o.Clicks, o.Impressions)
	case o.Impressions > MaxOutcomeImpressions:
		return Errorf(Invalid, "impressions (%d) must be at most %d per outcome", o.Impressions, int64(MaxOutcomeImpressions))
	case o.Key != "":
		return ValidateID("outcome_id", o.Key)
	}
	return nil
}

// ParseObservedAt reads an outcome's observed_at as a client gives it:
// an RFC 3339 time, returned in UTC to the microsecond, that
// checkObservedAt accepts.
func ParseObservedAt(text string, now time.Time) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, text)
	if err != nil {
		return time.Time{}, Errorf(Invalid, "observed_at must be an RFC 3339 time such as 2026-11-26T10:00:00Z, got %q", text)
	}
	t = StoredTime(t)
	return t, checkObservedAt(t, now)
}

// StoredTime is t as both stores keep it: in UTC, to the microsecond
// (PostgreSQL's precision). A store that stamps or takes a time and
// answers with it answers StoredTime's, so that the answer of a write and
// a later read agree.
func StoredTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// StoredNow is the time now as the stores keep it: their default clock.
func StoredNow() time.Time { return StoredTime(time.Now()) }

// checkObservedAt refuses an outcome time given by a client that cannot
// be right: before 2000 UTC (a zero or epoch time sent by mistake;
// outcomes given without a time are stamped with the time they are
// stored) or more than an hour after now (an observation from the
// future, or a local time labelled UTC; the hour allows for clocks out of
// step).
func checkObservedAt(t, now time.Time) error {
	switch {
	case t.Before(minObservedAt):
		return Errorf(Invalid, "observed_at %s is before 2000; leave it out to mean now", t.UTC().Format(time.RFC3339))
	case t.After(now.Add(time.Hour)):
		return Errorf(Invalid, "observed_at %s is more than an hour ahead of the clock (%s)", t.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

var minObservedAt = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// MaxOutcomeImpressions bounds one outcome's count: far above any real
// observation window, and low enough that a clip's sums can never
// overflow 64 bits, even after millions of outcomes.
const MaxOutcomeImpressions = 1e12

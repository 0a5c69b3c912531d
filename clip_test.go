package lift_test

import (
	"math"
	"testing"

	"lift"
)

func ptr[T any](v T) *T { return &v }

func TestFeatures(t *testing.T) {
	tests := []struct {
		name string
		clip lift.Clip
		want lift.Features
	}{
		{
			name: "empty clip takes the seed's defaults",
			clip: lift.Clip{ID: "a", Duration: 12},
			want: lift.Features{PsychologyComposite: 0.5, HookStrength: 0.5, NoveltyScore: 0.5, EmotionPriority: 0, Duration: 12, HasFace: 0, CompositeScore: 0.5},
		},
		{
			name: "all keys present",
			clip: lift.Clip{
				ID:              "b",
				PsychologyScore: map[string]any{"composite": 0.9, "other": 3.0},
				HookStrength:    map[string]any{"strength": 0.7},
				NoveltyScore:    map[string]any{"composite": 0.2},
				EmotionData:     map[string]any{"priority_score": 0.4, "has_face": true},
				Duration:        31.5,
				CompositeScore:  ptr(0.61),
			},
			want: lift.Features{PsychologyComposite: 0.9, HookStrength: 0.7, NoveltyScore: 0.2, EmotionPriority: 0.4, Duration: 31.5, HasFace: 1, CompositeScore: 0.61},
		},
		{
			name: "has_face false, zero and empty string are 0; null priority is 0",
			clip: lift.Clip{ID: "c", EmotionData: map[string]any{"has_face": "", "priority_score": nil}},
			want: lift.Features{PsychologyComposite: 0.5, HookStrength: 0.5, NoveltyScore: 0.5, CompositeScore: 0.5},
		},
		{
			name: "has_face as a non-zero number is 1",
			clip: lift.Clip{ID: "d", EmotionData: map[string]any{"has_face": 2.0}},
			want: lift.Features{PsychologyComposite: 0.5, HookStrength: 0.5, NoveltyScore: 0.5, HasFace: 1, CompositeScore: 0.5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.clip.Features(); got != tt.want {
				t.Errorf("Features() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFeaturesVectorOrder(t *testing.T) {
	f := lift.Features{PsychologyComposite: 1, HookStrength: 2, NoveltyScore: 3, EmotionPriority: 4, Duration: 5, HasFace: 6}
	v := f.Vector()
	if len(v) != len(lift.FeatureNames) {
		t.Fatalf("vector has %d values, FeatureNames %d", len(v), len(lift.FeatureNames))
	}
	for i, x := range v {
		if x != float32(i+1) {
			t.Errorf("vector[%d] (%s) = %v, want %d", i, lift.FeatureNames[i], x, i+1)
		}
	}
}

func TestClipValidate(t *testing.T) {
	tests := []struct {
		name string
		clip lift.Clip
		ok   bool
	}{
		{"minimal", lift.Clip{ID: "x", Duration: 0}, true},
		{"empty id", lift.Clip{Duration: 1}, false},
		{"control char id", lift.Clip{ID: "a\nb", Duration: 1}, false},
		{"negative duration", lift.Clip{ID: "x", Duration: -1}, false},
		{"NaN duration", lift.Clip{ID: "x", Duration: math.NaN()}, false},
		{"composite above 1", lift.Clip{ID: "x", CompositeScore: ptr(1.5)}, false},
		{"string where a number belongs", lift.Clip{ID: "x", HookStrength: map[string]any{"strength": "high"}}, false},
		{"unrelated keys are free-form", lift.Clip{ID: "x", HookStrength: map[string]any{"label": "high"}}, true},
		{"unicode text is fine", lift.Clip{ID: "x", EmotionData: map[string]any{"dominant": "überrascht 驚き", "tags": []any{"ok"}}}, true},
		// PostgreSQL's JSON cannot hold these: refused on both stores alike.
		{"NUL in a string", lift.Clip{ID: "x", PsychologyScore: map[string]any{"n": "a\x00b"}}, false},
		{"NUL in a key", lift.Clip{ID: "x", NoveltyScore: map[string]any{"a\x00": 1.0}}, false},
		{"invalid UTF-8 deep in an array", lift.Clip{ID: "x", EmotionData: map[string]any{"l": []any{map[string]any{"k": "\xff"}}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.clip.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && lift.KindOf(err) != lift.Invalid {
				t.Errorf("kind = %v, want invalid", lift.KindOf(err))
			}
		})
	}
}

func TestBands(t *testing.T) {
	tests := []struct {
		ctr  float64
		want lift.Band
	}{
		{0, lift.Low}, {0.0299, lift.Low}, {0.03, lift.Medium}, {0.0499, lift.Medium},
		{0.05, lift.High}, {0.0799, lift.High}, {0.08, lift.Viral}, {1, lift.Viral},
	}
	for _, tt := range tests {
		if got := lift.DefaultBands.Of(tt.ctr); got != tt.want {
			t.Errorf("Of(%v) = %s, want %s", tt.ctr, got, tt.want)
		}
	}
	if err := (lift.Bands{Viral: 0.05, High: 0.08, Medium: 0.03}).Validate(); err == nil {
		t.Error("out-of-order thresholds validated")
	}
}

func TestHeuristicBandFollowsValue(t *testing.T) {
	h := lift.Heuristic{Bands: lift.DefaultBands}
	// composite 1 and priority 1: 0.05 + 0.02 = 0.07, high (the seed said medium).
	p, err := h.Predict(lift.Features{CompositeScore: 1, EmotionPriority: 1})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(p.PredictedCTR-0.07) > 1e-12 || p.Band != lift.High || p.Source != "heuristic" {
		t.Errorf("got %+v, want ctr 0.07, band high, source heuristic", p)
	}
	if p.Confidence >= 0.5 {
		t.Errorf("heuristic confidence %v is not low", p.Confidence)
	}
}

func TestOutcomeValidate(t *testing.T) {
	for _, o := range []lift.Outcome{{Impressions: -1}, {Impressions: 10, Clicks: -1}, {Impressions: 0}, {Impressions: 5, Clicks: 6}, {Impressions: 1 << 62}} {
		if err := o.Validate(); lift.KindOf(err) != lift.Invalid {
			t.Errorf("Validate(%+v) = %v, want invalid", o, err)
		}
	}
	if err := (&lift.Outcome{Impressions: 5, Clicks: 5}).Validate(); err != nil {
		t.Errorf("valid outcome rejected: %v", err)
	}
}

package lift_test

import (
	"strings"
	"testing"

	"lift"
)

func TestParseBands(t *testing.T) {
	for _, tt := range []struct {
		text string
		want lift.Bands
		err  string // a substring of the error; "" for none
	}{
		{text: "0.08,0.05,0.03", want: lift.DefaultBands},
		{text: lift.DefaultBands.String(), want: lift.DefaultBands},
		{text: "0.2, 0.1, 0.05", want: lift.Bands{Viral: 0.2, High: 0.1, Medium: 0.05}},
		{text: "0.5,0.25,1e-3", want: lift.Bands{Viral: 0.5, High: 0.25, Medium: 0.001}},
		{text: "", err: "want three thresholds"},
		{text: "0.08,0.05", err: "want three thresholds"},
		{text: "0.08,0.05,0.03,0.01", err: "want three thresholds"},
		{text: "0.08,x,0.03", err: `"x" is not a number`},
		{text: "0.08,,0.03", err: "is not a number"},
		{text: "0.03,0.05,0.08", err: "1 > viral > high > medium > 0"},
		{text: "0.08,0.08,0.03", err: "1 > viral > high > medium > 0"},
		{text: "0.08,0.05,0", err: "1 > viral > high > medium > 0"},
		{text: "1,0.05,0.03", err: "1 > viral > high > medium > 0"},
		{text: "0.08,0.05,-0.01", err: "1 > viral > high > medium > 0"},
		{text: "NaN,0.05,0.03", err: "1 > viral > high > medium > 0"},
		{text: "0.08,0.05,NaN", err: "1 > viral > high > medium > 0"},
		{text: "Inf,0.05,0.03", err: "1 > viral > high > medium > 0"},
	} {
		t.Run(tt.text, func(t *testing.T) {
			got, err := lift.ParseBands(tt.text)
			switch {
			case tt.err == "" && (err != nil || got != tt.want):
				t.Errorf("ParseBands(%q) = %+v, %v; want %+v", tt.text, got, err, tt.want)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("ParseBands(%q) = %+v, %v; want an error saying %q", tt.text, got, err, tt.err)
			case tt.err != "" && lift.KindOf(err) != lift.Invalid:
				t.Errorf("ParseBands(%q) error kind %v, want invalid", tt.text, lift.KindOf(err))
			}
		})
	}
}

// TestHeuristicCTR: the heuristic's value does not depend on the bands.
func TestHeuristicCTR(t *testing.T) {
	f := lift.Features{CompositeScore: 0.7, EmotionPriority: 0.5}
	for _, b := range []lift.Bands{lift.DefaultBands, {Viral: 0.04, High: 0.02, Medium: 0.01}} {
		p, err := lift.Heuristic{Bands: b}.Predict(f)
		if err != nil || p.PredictedCTR != lift.HeuristicCTR(f) || p.Band != b.Of(p.PredictedCTR) {
			t.Errorf("bands %s: Predict = %+v, %v; HeuristicCTR = %v", b, p, err, lift.HeuristicCTR(f))
		}
	}
}

package trainer

import (
	"testing"

	"lift"
	"lift/gbdt"
)

func TestParseOptions(t *testing.T) {
	o, err := ParseOptions(map[string]any{"preset": "seed", "rounds": 7.0, "eta": 0.2, "seed": 9.0, "weighted": true, "objective": "reg:logistic"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Preset != "seed" || o.Params.Rounds != 7 || o.Params.Eta != 0.2 || o.Params.Seed != 9 || !o.Weighted ||
		o.Params.Objective != gbdt.Logistic || o.Params.MaxDepth != 4 {
		t.Errorf("options = %+v", o)
	}
	for _, bad := range []map[string]any{
		{"preset": "fancy"},
		{"rounds": 1.5},
		{"rounds": -1.0},
		{"max_depth": "4"},
		{"seed": 2e6},
		{"eta": "fast"},
		{"objective": "multi:softmax"},
		{"weighted": 1.0},
		{"colour": 1.0},
		{"eta": 0.0}, // out of range for gbdt.Params.Validate
	} {
		if _, err := ParseOptions(bad); lift.KindOf(err) != lift.Invalid {
			t.Errorf("ParseOptions(%v) = %v, want invalid", bad, err)
		}
	}
}

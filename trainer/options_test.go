package trainer

import (
	"context"
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
		{"seed": -1.0},
		{"seed": 1e17}, // past float64's whole numbers
		{"max_bin": 1.0},
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

// TestRequestBounds: a training run asked for over HTTP may not ask for
// more than MaxRounds rounds or trees deeper than MaxDepth; the same
// parameters parse for the nightly job.
func TestRequestBounds(t *testing.T) {
	job := &Job{}
	for _, bad := range []map[string]any{{"rounds": 1e6}, {"max_depth": 20.0}, {"max_bin": 4096.0}} {
		if _, err := ParseOptions(bad); err != nil {
			t.Errorf("ParseOptions(%v) = %v; the nightly job may ask for it", bad, err)
		}
		if _, err := job.TrainCTR(context.Background(), bad); lift.KindOf(err) != lift.Invalid {
			t.Errorf("TrainCTR(%v) = %v, want invalid", bad, err)
		}
	}
	// A refusal states the range that applies to its caller.
	for _, c := range []struct {
		params  map[string]any
		request bool
		want    string
	}{
		{map[string]any{"rounds": -1.0}, true, "rounds must be a whole number in [1, 10000], got -1"},
		{map[string]any{"rounds": 0.0}, false, "rounds must be a whole number in [1, 1000000], got 0"},
		{map[string]any{"rounds": 1000001.0}, false, "rounds must be a whole number in [1, 1000000], got 1000001"},
		{map[string]any{"max_depth": 0.0}, true, "max_depth must be a whole number in [1, 16], got 0"},
		{map[string]any{"max_depth": 31.0}, false, "max_depth must be a whole number in [1, 30], got 31"},
		{map[string]any{"max_bin": 1.0}, true, "max_bin must be a whole number in [2, 1024], got 1"},
	} {
		parse := ParseOptions
		if c.request {
			parse = ParseRequestOptions
		}
		if _, err := parse(c.params); err == nil || lift.Message(err) != c.want {
			t.Errorf("%v (request %v): %v, want %q", c.params, c.request, err, c.want)
		}
	}
	if o, err := ParseRequestOptions(map[string]any{"max_bin": 64.0}); err != nil || o.Params.MaxBin != 64 {
		t.Errorf("max_bin 64 over HTTP: %v %v", o.Params.MaxBin, err)
	}
}

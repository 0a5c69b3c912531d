package trainer

import (
	"context"
	"strings"
	"testing"

	"lift"
)

// TestTrainCTRDivergingParamsAreInvalid checks that parameters which make
// training diverge (a leaf value past float32's range) are the caller's
// mistake, Invalid (HTTP 400) with gbdt's sentence, and register nothing.
func TestTrainCTRDivergingParamsAreInvalid(t *testing.T) {
	db := MustDemoDB(t, 200, 3)
	job := &Job{Store: db}
	cases := []struct {
		name   string
		params map[string]any
	}{
		{"logistic preset", map[string]any{"eta": 1e39}},
		{"seed preset", map[string]any{"preset": "seed", "eta": 1e39}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sum, err := job.TrainCTR(context.Background(), c.params)
			if err == nil {
				t.Fatalf("TrainCTR(%v) = %+v, want an error", c.params, sum)
			}
			if k := lift.KindOf(err); k != lift.Invalid {
				t.Errorf("TrainCTR(%v): kind %v, want invalid (error %v)", c.params, k, err)
			}
			if msg := lift.Message(err); !strings.Contains(msg, "is not finite (is eta") {
				t.Errorf("TrainCTR(%v): message %q does not say the value is not finite and name eta", c.params, msg)
			}
		})
	}
	models, err := db.ListModels(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(models) != 0 {
		t.Errorf("%d models registered by failed runs, want 0", len(models))
	}
}

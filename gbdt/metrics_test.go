package gbdt

import (
	"math"
	"strings"
	"testing"
)

func TestMetrics(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name                string
		pred, label, weight []float32
		auc, logloss, rmse  float64
		errRate             float64
	}{
		{
			name: "perfect ranking",
			pred: []float32{0.1, 0.4, 0.35, 0.8}, label: []float32{0, 0, 1, 1},
			// One of the four positive-negative pairs is misordered (0.4 > 0.35).
			auc:     0.75,
			logloss: (-math.Log(0.9) - math.Log(0.6) - math.Log(0.35) - math.Log(0.8)) / 4,
			rmse:    math.Sqrt((0.01 + 0.16 + 0.4225 + 0.04) / 4),
			errRate: 0.25,
		},
		{
			name: "ties count half",
			pred: []float32{0.5, 0.5, 0.5, 0.5}, label: []float32{0, 1, 0, 1},
			auc: 0.5, logloss: math.Log(2), rmse: 0.5, errRate: 0.5,
		},
		{
			name: "weights equal repeated rows",
			pred: []float32{0.2, 0.7, 0.6}, label: []float32{0, 1, 0}, weight: []float32{2, 1, 3},
			// Negatives: 0.2 (mass 2), 0.6 (mass 3); positive 0.7 (mass 1) beats both.
			auc:     1,
			logloss: (-2*math.Log(0.8) - math.Log(0.7) - 3*math.Log(0.4)) / 6,
			rmse:    math.Sqrt((2*0.04 + 0.09 + 3*0.36) / 6),
			errRate: 3.0 / 6,
		},
		{
			name: "fractional labels are positive and negative mass",
			pred: []float32{0.1, 0.9}, label: []float32{0.25, 0.75}, weight: []float32{4, 4},
			// Positive mass 1 at 0.1 and 3 at 0.9; negative mass 3 at 0.1 and 1 at 0.9.
			// Pairs ordered right: 3 (pos@0.9) x 3 (neg@0.1) = 9 of 16.
			// Tied at 0.1: 1x3 pairs, at 0.9: 3x1 pairs, each half: 3.
			auc:     (9 + 3) / 16.0,
			logloss: -(0.25*math.Log(0.1) + 0.75*math.Log(0.9) + 0.75*math.Log(0.9) + 0.25*math.Log(0.1)) / 2,
			rmse:    math.Sqrt((0.15*0.15 + 0.15*0.15) / 2),
			errRate: 0.25,
		},
		{
			name: "one class has no AUC",
			pred: []float32{0.2, 0.3}, label: []float32{1, 1},
			auc: nan, logloss: -(math.Log(0.2) + math.Log(0.3)) / 2, rmse: math.Sqrt((0.64 + 0.49) / 2), errRate: 1,
		},
		{
			name: "no rows",
			auc:  nan, logloss: nan, rmse: nan, errRate: nan,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, m := range []struct {
				name string
				want float64
			}{{"auc", c.auc}, {"logloss", c.logloss}, {"rmse", c.rmse}, {"error", c.errRate}} {
				got, err := Metric(m.name, c.pred, c.label, c.weight)
				if err != nil {
					t.Fatal(err)
				}
				if !(math.Abs(got-m.want) < 1e-6 || math.IsNaN(got) && math.IsNaN(m.want)) {
					t.Errorf("%s = %v, want %v", m.name, got, m.want)
				}
			}
		})
	}
}

func TestMetricErrors(t *testing.T) {
	if _, err := Metric("ndcg", []float32{1}, []float32{1}, nil); err == nil {
		t.Error("an unknown metric gave no error")
	}
	if _, err := Metric("auc", []float32{1, 2}, []float32{1}, nil); err == nil {
		t.Error("mismatched lengths gave no error")
	}
	if v := AUC([]float32{1, 2}, []float32{1}, nil); !math.IsNaN(v) {
		t.Errorf("AUC of mismatched lengths = %v, want NaN", v)
	}
}

// TestMetricsNeedProbabilityLabels checks that AUC and log loss, defined
// only for labels in [0, 1], are NaN as functions and an error naming the
// metric and the label through Metric, while rmse and error still answer.
func TestMetricsNeedProbabilityLabels(t *testing.T) {
	nan := float32(math.NaN())
	cases := []struct {
		name  string
		label []float32
		bad   string // the label the error names; "" for labels in [0, 1]
	}{
		{"below 0 and above 1", []float32{-3, 4, -3, 4}, "-3"},
		{"above 1 only", []float32{0, 1, 1.5, 0}, "1.5"},
		{"NaN", []float32{0, 1, nan, 0}, "NaN"},
		{"fractions in [0, 1]", []float32{0, 0.25, 1, 0.75}, ""},
	}
	pred := []float32{0.1, 0.7, 0.4, 0.9}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, m := range []struct {
				name string
				f    func(pred, label, weight []float32) float64
			}{{"auc", AUC}, {"logloss", LogLoss}} {
				v, err := Metric(m.name, pred, c.label, nil)
				if c.bad == "" {
					if err != nil || math.IsNaN(v) || v < 0 || v > 1e3 {
						t.Errorf("Metric(%s) = %v, %v; want a value", m.name, v, err)
					}
					continue
				}
				if err == nil || !strings.Contains(err.Error(), m.name) || !strings.Contains(err.Error(), "label "+c.bad) {
					t.Errorf("Metric(%s) = %v, %v; want an error naming %s and label %s", m.name, v, err, m.name, c.bad)
				}
				if got := m.f(pred, c.label, nil); !math.IsNaN(got) {
					t.Errorf("%s function = %v, want NaN (undefined)", m.name, got)
				}
			}
			for _, name := range []string{"rmse", "error"} { // not probabilities: no check
				if _, err := Metric(name, pred, c.label, nil); err != nil {
					t.Errorf("Metric(%s): %v", name, err)
				}
			}
		})
	}
}

// TestAUCOrderInvariant checks that shuffling rows, NaN-free ties included,
// does not change AUC.
func TestAUCOrderInvariant(t *testing.T) {
	pred := []float32{0.3, 0.1, 0.3, 0.9, 0.5, 0.3, 0.1}
	label := []float32{1, 0, 0, 1, 0, 1, 1}
	want := AUC(pred, label, nil)
	rp := make([]float32, len(pred))
	rl := make([]float32, len(label))
	for i := range pred {
		rp[len(pred)-1-i], rl[len(pred)-1-i] = pred[i], label[i]
	}
	if got := AUC(rp, rl, nil); got != want {
		t.Errorf("reversed rows: AUC %v, want %v", got, want)
	}
}

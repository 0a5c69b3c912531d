package gbdt

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"lift/dataset"
)

// sharedData holds copies of the reference vectors from the shared data
// (testdata/README.md says how they were made).
const sharedData = "testdata"

// referenceCase is one row of an xgb_reference_predictions*.csv file.
type referenceCase struct {
	margin, pred float32
	x            []float32
}

// MustReadReference reads a reference predictions file: two '#' comment
// lines, a header, then row, xgb_margin, xgb_pred, f0.. (empty = missing).
func MustReadReference(tb testing.TB, path string) []referenceCase {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []referenceCase
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	header := true
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		if header {
			header = false
			continue
		}
		fields := strings.Split(line, ",")
		c := referenceCase{x: make([]float32, len(fields)-3)}
		num := func(s string) float32 {
			if s == "" {
				return float32(math.NaN())
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				tb.Fatalf("%s: %v", path, err)
			}
			return float32(v)
		}
		c.margin, c.pred = num(fields[1]), num(fields[2])
		for i, s := range fields[3:] {
			c.x[i] = num(s)
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(out) == 0 {
		tb.Fatalf("%s: no rows", path)
	}
	return out
}

// MustLoadFile loads a model or fails the test.
func MustLoadFile(tb testing.TB, path string) *Booster {
	tb.Helper()
	b, err := LoadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

var referenceFiles = []struct{ name, model, preds string }{
	{"agaricus-logistic", "xgb_reference_model.json", "xgb_reference_predictions.csv"},
	{"higgs-sqerr-missing", "xgb_reference_model_higgs_sqerr.json", "xgb_reference_predictions_higgs_sqerr.csv"},
}

// TestReferencePredictions checks margins and predictions against
// XGBoost 1.7.4's own output, bit for bit, through every path: single
// row, batch with one and several threads, and after a save/load round trip.
func TestReferencePredictions(t *testing.T) {
	for _, rf := range referenceFiles {
		t.Run(rf.name, func(t *testing.T) {
			b := MustLoadFile(t, filepath.Join(sharedData, rf.model))
			cases := MustReadReference(t, filepath.Join(sharedData, rf.preds))
			var buf bytes.Buffer
			if err := b.Save(&buf); err != nil {
				t.Fatal(err)
			}
			resaved, err := Load(&buf)
			if err != nil {
				t.Fatal(err)
			}
			d := &dataset.Dense{Rows: len(cases), Cols: len(cases[0].x)}
			for _, c := range cases {
				d.X = append(d.X, c.x...)
			}
			for _, model := range []struct {
				name string
				b    *Booster
			}{{"loaded", b}, {"resaved", resaved}} {
				batchMargin := model.b.PredictBatch(d, true, 1)
				batchPred := model.b.PredictBatch(d, false, 3)
				for i, c := range cases {
					checks := []struct {
						what      string
						got, want float32
					}{
						{"PredictMargin", model.b.PredictMargin(c.x), c.margin},
						{"Predict", model.b.Predict(c.x), c.pred},
						{"PredictBatch margin", batchMargin[i], c.margin},
						{"PredictBatch", batchPred[i], c.pred},
					}
					for _, ck := range checks {
						if math.Float32bits(ck.got) != math.Float32bits(ck.want) {
							t.Errorf("%s row %d %s = %v, XGBoost %v", model.name, i, ck.what, ck.got, ck.want)
						}
					}
				}
			}
		})
	}
}

// TestSaveIsStable checks that saving a loaded model and loading it again
// gives the same bytes: nothing is lost or rounded on the way.
func TestSaveIsStable(t *testing.T) {
	for _, rf := range referenceFiles {
		b := MustLoadFile(t, filepath.Join(sharedData, rf.model))
		var first, second bytes.Buffer
		if err := b.Save(&first); err != nil {
			t.Fatal(err)
		}
		b2, err := Load(bytes.NewReader(first.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if err := b2.Save(&second); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first.Bytes(), second.Bytes()) {
			t.Errorf("%s: second save differs from the first", rf.name)
		}
		mustFloatsHaveDecimalPoint(t, first.Bytes())
	}
}

// mustFloatsHaveDecimalPoint fails if a number in one of XGBoost's float
// arrays is written like an integer, which XGBoost 1.7 refuses to load.
func mustFloatsHaveDecimalPoint(tb testing.TB, model []byte) {
	tb.Helper()
	var m struct {
		Learner struct {
			GradientBooster struct {
				Model struct {
					Trees []map[string]json.RawMessage `json:"trees"`
				} `json:"model"`
			} `json:"gradient_booster"`
		} `json:"learner"`
	}
	if err := json.Unmarshal(model, &m); err != nil {
		tb.Fatal(err)
	}
	checked := 0
	for i, tr := range m.Learner.GradientBooster.Model.Trees {
		for _, key := range []string{"base_weights", "loss_changes", "split_conditions", "sum_hessian"} {
			var nums []json.Number
			dec := json.NewDecoder(bytes.NewReader(tr[key]))
			dec.UseNumber()
			if err := dec.Decode(&nums); err != nil {
				tb.Fatalf("tree %d %s: %v", i, key, err)
			}
			for _, n := range nums {
				checked++
				if !strings.ContainsAny(string(n), ".eE") {
					tb.Errorf("tree %d %s: %s has no decimal point or exponent", i, key, n)
				}
			}
		}
	}
	if checked == 0 {
		tb.Error("no floats found in the saved model")
	}
}

// TestLoadNewerLayouts rewrites a 1.7 reference model the way XGBoost 2.x
// and 3.x lay their files out (iteration_indptr, multi_strategy, base_score
// as "[5E-1]", boolean default_left from other writers, extra fields) and
// checks that it loads and predicts the same bits.
func TestLoadNewerLayouts(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(sharedData, "xgb_reference_model_higgs_sqerr.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := MustLoadFile(t, filepath.Join(sharedData, "xgb_reference_model_higgs_sqerr.json"))
	cases := MustReadReference(t, filepath.Join(sharedData, "xgb_reference_predictions_higgs_sqerr.csv"))
	edits := []struct {
		name string
		edit func(m map[string]any)
	}{
		{"2.x", func(m map[string]any) {
			l := m["learner"].(map[string]any)
			gb := l["gradient_booster"].(map[string]any)["model"].(map[string]any)
			gb["iteration_indptr"] = []int{0, 1, 2, 3, 4, 5}
			l["learner_model_param"].(map[string]any)["multi_strategy"] = "one_output_per_tree"
			m["version"] = []int{2, 1, 3}
		}},
		{"3.x", func(m map[string]any) {
			l := m["learner"].(map[string]any)
			l["learner_model_param"].(map[string]any)["base_score"] = "[5E-1]"
			l["learner_model_param"].(map[string]any)["boost_from_average"] = "1"
			for _, tr := range l["gradient_booster"].(map[string]any)["model"].(map[string]any)["trees"].([]any) {
				tm := tr.(map[string]any)
				var dl []bool
				for _, v := range tm["default_left"].([]any) {
					dl = append(dl, v.(float64) != 0)
				}
				tm["default_left"] = dl
			}
			m["version"] = []int{3, 0, 2}
		}},
	}
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			e.edit(m)
			edited, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Load(bytes.NewReader(edited))
			if err != nil {
				t.Fatal(err)
			}
			if b.BaseScore != want.BaseScore || len(b.Trees) != len(want.Trees) {
				t.Fatalf("base score %v, %d trees; want %v, %d", b.BaseScore, len(b.Trees), want.BaseScore, len(want.Trees))
			}
			for i, c := range cases {
				if got := b.PredictMargin(c.x); math.Float32bits(got) != math.Float32bits(c.margin) {
					t.Errorf("row %d: margin %v, XGBoost %v", i, got, c.margin)
				}
			}
		})
	}
}

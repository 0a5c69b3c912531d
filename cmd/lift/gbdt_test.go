package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const (
	gbdtTestModel = "../../gbdt/testdata/xgb_reference_model_higgs_sqerr.json"
	gbdtTestPreds = "../../gbdt/testdata/xgb_reference_predictions_higgs_sqerr.csv"
)

// MustExec runs lift with args and returns stdout, stderr and the exit code.
func MustExec(tb testing.TB, args ...string) (string, string, int) {
	tb.Helper()
	var out, errb bytes.Buffer
	m := NewMain()
	m.Stdout, m.Stderr = &out, &errb
	code := m.Exec(context.Background(), args)
	return out.String(), errb.String(), code
}

// MustHiggsCSV writes the reference rows as a CSV file with a label
// column (XGBoost's margin, so eval has something to score) and returns its
// path and XGBoost's margins.
func MustHiggsCSV(tb testing.TB) (string, []float32) {
	tb.Helper()
	raw, err := os.ReadFile(gbdtTestPreds)
	if err != nil {
		tb.Fatal(err)
	}
	var b strings.Builder
	var margins []float32
	header := true
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ",")
		if header {
			b.WriteString("label," + strings.Join(f[3:], ",") + "\n")
			header = false
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			tb.Fatal(err)
		}
		margins = append(margins, float32(v))
		b.WriteString(f[1] + "," + strings.Join(f[3:], ",") + "\n")
	}
	path := filepath.Join(tb.TempDir(), "higgs.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path, margins
}

func TestGBDTPredict(t *testing.T) {
	data, want := MustHiggsCSV(t)
	out, stderr, code := MustExec(t, "gbdt", "predict", "--model", gbdtTestModel, "--data", data, "--margin")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d", len(lines), len(want))
	}
	for i, l := range lines {
		v, err := strconv.ParseFloat(l, 32)
		if err != nil || math.Float32bits(float32(v)) != math.Float32bits(want[i]) {
			t.Errorf("line %d: %q, XGBoost %v", i, l, want[i])
		}
	}
}

func TestGBDTEvalImportanceExplainBench(t *testing.T) {
	data, _ := MustHiggsCSV(t)
	tests := []struct {
		name string
		args []string
		keys []string
	}{
		{"eval", []string{"gbdt", "eval", "--model", gbdtTestModel, "--data", data}, []string{"rows", "auc", "logloss", "rmse"}},
		{"importance", []string{"gbdt", "importance", "--model", gbdtTestModel, "--type", "weight"}, []string{"f0"}},
		{"bench", []string{"gbdt", "bench", "--model", gbdtTestModel, "--data", data, "--seconds", "0.01"},
			[]string{"single_row_ns_p50", "single_row_ns_p99", "batch_rows_per_sec", "threads"}},
		{"bench on all CPUs", []string{"gbdt", "bench", "--model", gbdtTestModel, "--data", data, "--seconds", "0.01", "--threads", "0"},
			[]string{"single_row_ns_p50", "single_row_ns_p99", "batch_rows_per_sec", "threads"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := MustExec(t, tt.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(out), &got); err != nil || strings.Count(strings.TrimSpace(out), "\n") != 0 {
				t.Fatalf("not one JSON object: %q (%v)", out, err)
			}
			for _, k := range tt.keys {
				if _, ok := got[k]; !ok {
					t.Errorf("no %q in %s", k, out)
				}
			}
			// --threads 0 means all CPUs, as for every command; the
			// output says how many that was.
			if th, ok := got["threads"].(float64); ok && th < 1 {
				t.Errorf("threads %v in %s, want the number used (at least 1)", th, out)
			}
		})
	}

	// The model predicts its own margins as labels exactly: RMSE 0.
	out, _, _ := MustExec(t, "gbdt", "eval", "--model", gbdtTestModel, "--data", data)
	var ev struct {
		Rows int
		RMSE float64
	}
	if err := json.Unmarshal([]byte(out), &ev); err != nil || ev.Rows != 64 || ev.RMSE > 1e-6 {
		t.Errorf("eval = %s, want 64 rows and rmse 0", out)
	}

	out, stderr, code := MustExec(t, "gbdt", "explain", "--model", gbdtTestModel, "--data", data, "--rows", "2:5")
	if code != 0 {
		t.Fatalf("explain: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("explain --rows 2:5 printed %d lines, want 3", len(lines))
	}
	for _, l := range lines {
		var phi map[string]float64
		if err := json.Unmarshal([]byte(l), &phi); err != nil {
			t.Fatal(err)
		}
		if _, ok := phi["bias"]; !ok || len(phi) != 29 {
			t.Errorf("explain line has %d keys (want 28 features + bias): %s", len(phi), l)
		}
	}
}

func TestGBDTErrors(t *testing.T) {
	data, _ := MustHiggsCSV(t)
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"learner":`), 0o644)
	sparse := filepath.Join(t.TempDir(), "sparse.txt") // libsvm ends at its largest index: fewer columns is fine
	os.WriteFile(sparse, []byte("1 0:0.5 2:0.1\n0 1:0.3\n"), 0o644)
	narrow := filepath.Join(t.TempDir(), "narrow.tsv") // no header, 3 features for a 28-feature model
	os.WriteFile(narrow, []byte("1\t0.5\t0.2\t0.1\n0\t0.4\t0.3\t0.2\n"), 0o644)
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"help", []string{"gbdt", "--help"}, 0, ""},
		{"predict help", []string{"gbdt", "predict", "--help"}, 0, ""},
		{"no subcommand", []string{"gbdt"}, 2, "subcommand"},
		{"unknown subcommand", []string{"gbdt", "fly"}, 2, "unknown"},
		{"no model", []string{"gbdt", "predict", "--data", data}, 2, "--model"},
		{"bad flag", []string{"gbdt", "eval", "--bogus"}, 2, "bogus"},
		{"bad type", []string{"gbdt", "importance", "--model", gbdtTestModel, "--type", "x"}, 2, "--type"},
		{"missing model file", []string{"gbdt", "predict", "--model", "nope.json", "--data", data}, 1, "nope.json"},
		{"truncated model", []string{"gbdt", "importance", "--model", bad}, 1, "truncated"},
		{"bad rows", []string{"gbdt", "explain", "--model", gbdtTestModel, "--data", data, "--rows", "x"}, 2, "--rows"},
		{"reversed rows", []string{"gbdt", "explain", "--model", gbdtTestModel, "--data", data, "--rows", "3:1"}, 2, "reversed"},
		{"rows past the end", []string{"gbdt", "explain", "--model", gbdtTestModel, "--data", data, "--rows", "70:80"}, 1, "starts at row 70, but the data has 64 rows"},
		{"unknown format", []string{"gbdt", "predict", "--model", gbdtTestModel, "--data", data, "--format", "bogus"}, 2, `--format "bogus"`},
		{"bench negative threads", []string{"gbdt", "bench", "--model", gbdtTestModel, "--data", data, "--threads", "-1"}, 2, "--threads"},
		{"wrong label", []string{"gbdt", "eval", "--model", gbdtTestModel, "--data", data, "--label", "nope"}, 1, "nope"},
		{"too few columns", []string{"gbdt", "predict", "--model", gbdtTestModel, "--data", narrow}, 1, "3 feature columns"},
		{"libsvm named by --format SVM", []string{"gbdt", "predict", "--model", gbdtTestModel, "--data", sparse, "--format", "SVM"}, 0, ""},
		{"negative threads", []string{"gbdt", "predict", "--model", gbdtTestModel, "--data", data, "--threads", "-1"}, 2, "--threads"},
		{"out in a missing directory", []string{"gbdt", "train", "--data", data, "--out", filepath.Join(t.TempDir(), "no", "m.json")}, 2, "does not exist"},
		{"out is a directory", []string{"gbdt", "train", "--data", data, "--out", t.TempDir()}, 2, "is a directory"},
		{"predict out is a directory", []string{"gbdt", "predict", "--model", gbdtTestModel, "--data", data, "--out", t.TempDir()}, 2, "is a directory"},
		{"predict out in a missing directory", []string{"gbdt", "predict", "--model", gbdtTestModel, "--data", data, "--out", filepath.Join(t.TempDir(), "no", "p.txt")}, 2, "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := MustExec(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if code == 1 && strings.Count(stderr, "\n") != 1 {
				t.Errorf("stderr is not one line: %q", stderr)
			}
			if !strings.Contains(stderr, tt.msg) {
				t.Errorf("stderr %q does not mention %q", stderr, tt.msg)
			}
		})
	}
}

// TestGBDTEvalUndefinedMetricsAreNull checks that eval always prints the
// four keys of the contract, with null for a metric the data and model do
// not define: AUC with one class, AUC and log loss with labels outside
// [0, 1], log loss of a reg:squarederror model whose predictions are not
// all in [0, 1].
func TestGBDTEvalUndefinedMetricsAreNull(t *testing.T) {
	in := MustGBDTFiles(t, map[string]string{
		"binary.csv": "label,a,b\n0,1,2\n1,2,3\n0,3,1\n1,4,5\n",
		"ctr.csv":    "label,a,b\n0.02,1,2\n0.04,2,3\n0.01,3,1\n0.05,4,5\n",
		"sq.csv":     "label,a,b\n-3,1,2\n4,2,3\n-3,3,1\n4,4,5\n",
		"one.csv":    "label,a,b\n1,1,2\n1,2,3\n",
	})
	models := map[string][]string{ // model -> training flags
		"logistic.json": {"--data", in("binary.csv"), "--objective", "binary:logistic"},
		"ctr.json":      {"--data", in("ctr.csv")}, // reg:squarederror, predictions in [0, 1]
		"sq.json":       {"--data", in("sq.csv")},  // reg:squarederror, predictions outside [0, 1]
	}
	for name, args := range models {
		if _, stderr, code := MustExec(t, append([]string{"gbdt", "train", "--rounds", "3", "--out", in(name)}, args...)...); code != 0 {
			t.Fatalf("training %s: exit %d: %s", name, code, stderr)
		}
	}
	cases := []struct {
		name, model, data string
		null              []string // the metrics that must be null; the others are numbers
	}{
		{"logistic, two classes", "logistic.json", "binary.csv", nil},
		{"logistic, one class", "logistic.json", "one.csv", []string{"auc"}},
		{"logistic, labels outside [0, 1]", "logistic.json", "sq.csv", []string{"auc", "logloss"}},
		{"squared error, probabilities", "ctr.json", "binary.csv", nil},
		{"squared error, predictions outside [0, 1]", "sq.json", "binary.csv", []string{"logloss"}},
		{"squared error, labels outside [0, 1]", "sq.json", "sq.csv", []string{"auc", "logloss"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, stderr, code := MustExec(t, "gbdt", "eval", "--model", in(c.model), "--data", in(c.data))
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("not JSON: %q (%v)", out, err)
			}
			if len(got) != 4 {
				t.Errorf("%s: want exactly rows, auc, logloss and rmse", out)
			}
			if _, ok := got["rows"].(float64); !ok {
				t.Errorf("%s: rows is not a number", out)
			}
			for _, k := range []string{"auc", "logloss", "rmse"} {
				v, ok := got[k]
				switch {
				case !ok:
					t.Errorf("%s: no %q", out, k)
				case slices.Contains(c.null, k) && v != nil:
					t.Errorf("%s: %s = %v, want null", out, k, v)
				case !slices.Contains(c.null, k) && v == nil:
					t.Errorf("%s: %s is null, want a number", out, k)
				}
			}
			if auc, ok := got["auc"].(float64); ok && (auc < 0 || auc > 1) {
				t.Errorf("%s: AUC outside [0, 1]", out)
			}
			if ll, ok := got["logloss"].(float64); ok && ll < 0 {
				t.Errorf("%s: negative log loss", out)
			}
		})
	}
}

// TestGBDTPredictUnlabelledFileNamesTheLabel: a file without labels read
// as if its first column were the label is told as that, not as a
// feature the file lacks.
func TestGBDTPredictUnlabelledFileNamesTheLabel(t *testing.T) {
	dir := t.TempDir()
	train := filepath.Join(dir, "train.csv")
	var b strings.Builder
	b.WriteString("label,a,b\n")
	for i := range 40 {
		fmt.Fprintf(&b, "%d,%d,%d\n", i%2, i%7, i%3)
	}
	os.WriteFile(train, []byte(b.String()), 0o644)
	model := filepath.Join(dir, "m.json")
	if _, stderr, code := MustExec(t, "gbdt", "train", "--data", train, "--out", model, "--rounds", "3"); code != 0 {
		t.Fatalf("train: exit %d, %s", code, stderr)
	}
	unlabelled := filepath.Join(dir, "x.csv")
	os.WriteFile(unlabelled, []byte("a,b\n1,2\n3,0\n"), 0o644)
	_, stderr, code := MustExec(t, "gbdt", "predict", "--model", model, "--data", unlabelled)
	if code != 1 || !strings.Contains(stderr, `feature "a" is the column read as the label`) || !strings.Contains(stderr, "--no-label") {
		t.Errorf("predict on a file without labels: exit %d, %q; want 1 naming the label column and --no-label", code, stderr)
	}
	if out, stderr, code := MustExec(t, "gbdt", "predict", "--model", model, "--data", unlabelled, "--no-label"); code != 0 || strings.Count(out, "\n") != 2 {
		t.Errorf("with --no-label: exit %d, %q %q; want two predictions", code, out, stderr)
	}
}

// TestGBDTHeaderlessColumnsKept: a model trained on a CSV file without a
// header, with its label (and weight) at another index than 0, predicts
// on that file as it was trained, not with column 0 read as the label
// (which gave wrong numbers with the right number of columns), and
// --label on the command line still wins. The kept columns apply only
// to a file without a header with the training file's column count: a
// file with a header keeps the header's rule, and one without the weight
// column the defaults.
func TestGBDTHeaderlessColumnsKept(t *testing.T) {
	var data, weighted, feats, lab0, lab0w, header strings.Builder
	header.WriteString("x0,x1,label\n")
	for i := range 400 {
		x0, x1 := float64(i%20)/20, float64((i*7)%13)/13
		y := 0
		if x0+0.3*x1 > 0.6 {
			y = 1
		}
		fmt.Fprintf(&data, "%g,%g,%d\n", x0, x1, y)
		fmt.Fprintf(&weighted, "%g,%g,%d,%d\n", x0, x1, y, 1+i%3)
		fmt.Fprintf(&feats, "%g,%g\n", x0, x1)
		fmt.Fprintf(&lab0, "%d,%g,%g\n", y, x0, x1)
		fmt.Fprintf(&lab0w, "%d,%d,%g,%g\n", y, 1+i%3, x0, x1)
		fmt.Fprintf(&header, "%g,%g,%d\n", x0, x1, y)
	}
	dir := t.TempDir()
	files := map[string]string{"data.csv": data.String(), "weighted.csv": weighted.String(), "feats.csv": feats.String(),
		"lab0.csv": lab0.String(), "lab0w.csv": lab0w.String(), "header.csv": header.String()}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := func(name string) string { return filepath.Join(dir, name) }
	predict := func(args ...string) string {
		t.Helper()
		code, out, stderr := run(t, append([]string{"gbdt", "predict"}, args...)...)
		if code != 0 {
			t.Fatalf("gbdt predict %v: exit %d: %s", args, code, stderr)
		}
		return out
	}
	for _, tt := range []struct {
		data  string
		train []string
		same  []string // other files predicted as the features alone
	}{
		{"data.csv", []string{"--label", "2"}, []string{"header.csv"}},
		{"weighted.csv", []string{"--label", "2", "--weight", "3"}, []string{"header.csv"}},
		{"lab0.csv", nil, []string{"header.csv"}},
		{"lab0w.csv", []string{"--weight", "1"}, []string{"lab0.csv", "header.csv"}},
	} {
		model := path(tt.data + ".json")
		args := append([]string{"gbdt", "train", "--data", path(tt.data), "--out", model, "--rounds", "10", "--objective", "binary:logistic"}, tt.train...)
		if code, _, stderr := run(t, args...); code != 0 {
			t.Fatalf("train %v: exit %d: %s", tt.train, code, stderr)
		}
		want := predict("--model", model, "--data", path("feats.csv"), "--no-label")
		for _, f := range append([]string{tt.data}, tt.same...) {
			if got := predict("--model", model, "--data", path(f)); got != want {
				t.Errorf("trained on %s with %v, predicting on %s without --label: not the predictions of its features alone", tt.data, tt.train, f)
			}
		}
		if tt.data == "data.csv" {
			if got := predict("--model", model, "--data", path(tt.data), "--label", "0"); got == want {
				t.Errorf("--label 0 on the command line did not override the model's label column")
			}
			// A hand-edited column that is not one of the file's is ignored.
			raw, err := os.ReadFile(model)
			if err != nil {
				t.Fatal(err)
			}
			bad := path("bad.json")
			if err := os.WriteFile(bad, bytes.Replace(raw, []byte(`"lift_label_column":"2"`), []byte(`"lift_label_column":"99"`), 1), 0o644); err != nil {
				t.Fatal(err)
			}
			if code, _, stderr := run(t, "gbdt", "predict", "--model", bad, "--data", path(tt.data)); code != 0 {
				t.Errorf("a model whose kept label column is 99: exit %d: %s", code, stderr)
			}
		}
	}
}

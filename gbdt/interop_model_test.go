package gbdt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"lift/dataset"
)

// python is Debian's interpreter, where python3-xgboost (1.7.4) lives.
const python = "/usr/bin/python3"

// MustHaveXGBoost skips the test when Python's xgboost is not installed,
// except under CI=true, where the interop tests must run.
func MustHaveXGBoost(tb testing.TB) {
	tb.Helper()
	err := exec.Command(python, "-c", "import xgboost").Run()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("CI=true but %s cannot import xgboost (scripts/ci-deps.sh installs python3-xgboost): %v", python, err)
	}
	tb.Skipf("%s cannot import xgboost: %v", python, err)
}

// MustRunPython runs testdata/interop.py with args.
func MustRunPython(tb testing.TB, args ...string) {
	tb.Helper()
	cmd := exec.Command(python, append([]string{"testdata/interop.py"}, args...)...)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1", "OMP_WAIT_POLICY=PASSIVE")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("interop.py %v: %v\n%s", args, err, out)
	}
}

// MustReadF32 reads a raw little-endian float32 array.
func MustReadF32(tb testing.TB, path string) []float32 {
	tb.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]float32, len(raw)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return out
}

// TestXGBoostInterop trains models with real XGBoost, checks that Lift
// loads them and computes the same margins, predictions, SHAP values and
// importance, then saves them with Lift and checks that XGBoost loads
// Lift's files and predicts the same numbers.
func TestXGBoostInterop(t *testing.T) {
	MustHaveXGBoost(t)
	dir := t.TempDir()
	MustRunPython(t, "train", dir)
	cases := []string{"logistic", "reglogistic", "sqerr"}
	const cols = 12
	for _, name := range cases {
		t.Run(name, func(t *testing.T) {
			b := MustLoadFile(t, filepath.Join(dir, name+".model.json"))
			x := MustReadF32(t, filepath.Join(dir, name+".x.f32"))
			d := &dataset.Dense{Rows: len(x) / cols, Cols: cols, X: x}
			wantMargin := MustReadF32(t, filepath.Join(dir, name+".margin.f32"))
			wantPred := MustReadF32(t, filepath.Join(dir, name+".pred.f32"))
			margin := b.PredictBatch(d, true, 2)
			pred := b.PredictBatch(d, false, 1)
			for i := 0; i < d.Rows; i++ {
				if m := b.PredictMargin(d.Row(i)); m != margin[i] {
					t.Fatalf("row %d: PredictMargin %v, PredictBatch %v", i, m, margin[i])
				}
				if math.Abs(float64(margin[i]-wantMargin[i])) > 1e-6 || math.Abs(float64(pred[i]-wantPred[i])) > 1e-6 {
					t.Fatalf("row %d: lift margin %v pred %v, XGBoost %v %v", i, margin[i], pred[i], wantMargin[i], wantPred[i])
				}
			}

			contribs := MustReadF32(t, filepath.Join(dir, name+".contribs.f32"))
			for i := 0; i < 200; i++ {
				got := b.Contributions(d.Row(i))
				want := contribs[i*(cols+1) : (i+1)*(cols+1)]
				for f := range got {
					if math.Abs(float64(got[f]-want[f])) > 1e-4*(1+math.Abs(float64(want[f]))) {
						t.Errorf("row %d feature %d: SHAP %v, XGBoost pred_contribs %v", i, f, got[f], want[f])
					}
				}
			}

			raw, err := os.ReadFile(filepath.Join(dir, name+".importance.json"))
			if err != nil {
				t.Fatal(err)
			}
			var scores map[string]map[string]float64
			if err := json.Unmarshal(raw, &scores); err != nil {
				t.Fatal(err)
			}
			for kind, want := range scores {
				got, err := b.Importance(kind)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) {
					t.Errorf("%s: %d features, XGBoost %d", kind, len(got), len(want))
				}
				for k, w := range want {
					if g, ok := got[k]; !ok || math.Abs(g-w) > 1e-5*math.Abs(w)+1e-9 {
						t.Errorf("%s[%s] = %v, XGBoost %v", kind, k, g, w)
					}
				}
			}

			if err := b.SaveFile(filepath.Join(dir, name+".lift.json")); err != nil {
				t.Fatal(err)
			}
		})
	}

	// XGBoost loads every file Lift saved and predicts what Lift predicts.
	MustRunPython(t, "predict", dir)
	for _, name := range cases {
		b := MustLoadFile(t, filepath.Join(dir, name+".lift.json"))
		x := MustReadF32(t, filepath.Join(dir, name+".x.f32"))
		d := &dataset.Dense{Rows: len(x) / cols, Cols: cols, X: x}
		margin, pred := b.PredictBatch(d, true, 1), b.PredictBatch(d, false, 1)
		xm := MustReadF32(t, filepath.Join(dir, name+".lift_margin.f32"))
		xp := MustReadF32(t, filepath.Join(dir, name+".lift_pred.f32"))
		if len(xm) != d.Rows || len(xp) != d.Rows {
			t.Fatalf("%s: XGBoost wrote %d/%d predictions for %d rows", name, len(xm), len(xp), d.Rows)
		}
		for i := range margin {
			if math.Abs(float64(margin[i]-xm[i])) > 1e-6 || math.Abs(float64(pred[i]-xp[i])) > 1e-6 {
				t.Fatalf("%s row %d: lift %v %v, XGBoost on lift's file %v %v", name, i, margin[i], pred[i], xm[i], xp[i])
			}
		}
	}
}

// TestXGBoostLibSVMParity reads a libsvm file with dataset.ReadLibSVM and
// with XGBoost's own reader and checks both give the same margins: indices
// as written, absent entries missing.
func TestXGBoostLibSVMParity(t *testing.T) {
	MustHaveXGBoost(t)
	dir := t.TempDir()
	f, err := dataset.Open(filepath.Join(sharedData, "agaricus.txt.test.libsvm.gz"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "agaricus.test")
	if err := os.WriteFile(plain, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(sharedData, "xgb_reference_model.json")
	MustRunPython(t, "libsvm", model, plain, filepath.Join(dir, "margin.f32"))
	want := MustReadF32(t, filepath.Join(dir, "margin.f32"))
	d, err := dataset.ReadLibSVM(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	got := MustLoadFile(t, model).PredictBatch(d, true, 1)
	if len(got) != len(want) {
		t.Fatalf("%d rows, XGBoost %d", len(got), len(want))
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("row %d: margin %v, XGBoost reading the same file %v", i, got[i], want[i])
		}
	}
}

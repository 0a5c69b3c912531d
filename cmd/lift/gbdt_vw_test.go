package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestGBDTVW trains, validates and predicts on VW text and checks every
// answer against the same rows written as CSV: VW lines omit zero
// features and name them in any order, carry the weight after the label,
// and a file to predict on may lack a feature the model has (it is 0) or
// name one it does not (it is dropped).
func TestGBDTVW(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	const nf = 5
	var trainVW, trainCSV, testVW, testCSV strings.Builder
	trainCSV.WriteString("x^f0,x^f1,x^f2,x^f3,x^f4,w,label\n")
	testCSV.WriteString("x^f0,x^f1,x^f2,x^f3,x^f4,w,label\n")
	for i := range 400 {
		var x [nf]float64
		for j := range x {
			if rng.IntN(4) > 0 { // a quarter of the values are 0, so VW omits them
				x[j] = float64(rng.IntN(100)) / 10
			}
		}
		y := 3*x[0] - 2*x[3] + x[2]*x[4]/10
		if i%5 == 0 {
			// Test rows: f2 is 0 in all of them (absent from the VW file),
			// and the VW file names an extra feature the model never saw.
			x[2] = 0
			fmt.Fprintf(&testVW, "%g |x extra:5", y)
			for j := nf - 1; j >= 0; j-- {
				if x[j] != 0 {
					fmt.Fprintf(&testVW, " f%d:%g", j, x[j])
				}
			}
			testVW.WriteString("\n")
			fmt.Fprintf(&testCSV, "%g,%g,%g,%g,%g,1,%g\n", x[0], x[1], x[2], x[3], x[4], y)
			continue
		}
		w := float64(1 + rng.IntN(3))
		fmt.Fprintf(&trainVW, "%g %g 'row%d |x", y, w, i)
		for _, j := range rng.Perm(nf) {
			if x[j] != 0 {
				fmt.Fprintf(&trainVW, " f%d:%g", j, x[j])
			}
		}
		trainVW.WriteString("\n")
		fmt.Fprintf(&trainCSV, "%g,%g,%g,%g,%g,%g,%g\n", x[0], x[1], x[2], x[3], x[4], w, y)
	}
	in := MustGBDTFiles(t, map[string]string{
		"train.vw": trainVW.String(), "train.csv": trainCSV.String(),
		"test.vw": testVW.String(), "test.csv": testCSV.String(),
	})
	run := func(args ...string) string {
		t.Helper()
		out, errOut, code := MustExec(t, args...)
		if code != 0 {
			t.Fatalf("lift %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	params := []string{"--objective", "reg:squarederror", "--rounds", "20", "--max-depth", "4", "--eval-metric", "rmse"}
	trainedVW := run(append([]string{"gbdt", "train", "--data", in("train.vw"), "--valid", in("test.vw"), "--out", in("vw.json")}, params...)...)
	trainedCSV := run(append([]string{"gbdt", "train", "--data", in("train.csv"), "--weight", "w", "--valid", in("test.csv"), "--out", in("csv.json")}, params...)...)
	// The same rows, weights and validation set: the same metrics.
	metrics := func(out string) string {
		var res struct {
			Metrics json.RawMessage `json:"metrics"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("train's answer %q: %v", out, err)
		}
		return string(res.Metrics)
	}
	if metrics(trainedVW) != metrics(trainedCSV) {
		t.Errorf("trained on VW: %s\non CSV: %s", trainedVW, trainedCSV)
	}
	want := run("gbdt", "predict", "--model", in("csv.json"), "--data", in("test.csv"))
	for _, model := range []string{"vw.json", "csv.json"} {
		if got := run("gbdt", "predict", "--model", in(model), "--data", in("test.vw")); got != want {
			t.Errorf("%s on test.vw predicts\n%s\nwant (csv.json on test.csv)\n%s", model, got, want)
		}
	}
	if got := run("gbdt", "predict", "--model", in("vw.json"), "--data", in("test.csv")); got != want {
		t.Errorf("vw.json on test.csv predicts\n%s\nwant\n%s", got, want)
	}
	if a, b := run("gbdt", "eval", "--model", in("vw.json"), "--data", in("test.vw")),
		run("gbdt", "eval", "--model", in("csv.json"), "--data", in("test.csv")); a != b {
		t.Errorf("eval on VW %s, on CSV %s", a, b)
	}
	if imp := run("gbdt", "importance", "--model", in("vw.json")); !strings.Contains(imp, `"x^f0"`) {
		t.Errorf("importance does not name VW's features: %s", imp)
	}

	// Real XGBoost loads the model trained on VW, with VW's feature names,
	// and predicts the CSV rows as Lift predicted the VW ones.
	requireXGBoost(t)
	script := `
import sys, numpy as np, xgboost as xgb
b = xgb.Booster(); b.load_model(sys.argv[1])
assert b.feature_names == ["x^f0", "x^f1", "x^f2", "x^f3", "x^f4"], b.feature_names
rows = np.loadtxt(sys.argv[2], delimiter=",", skiprows=1)
d = xgb.DMatrix(rows[:, :5], feature_names=b.feature_names)
for p in b.predict(d): print(repr(float(p)))
`
	out, err := exec.Command("/usr/bin/python3", "-c", script, in("vw.json"), in("test.csv")).CombinedOutput()
	if err != nil {
		t.Fatalf("XGBoost on the VW-trained model: %v\n%s", err, out)
	}
	xg, lift := strings.Fields(string(out)), strings.Fields(want)
	if len(xg) != len(lift) {
		t.Fatalf("XGBoost predicted %d rows, Lift %d", len(xg), len(lift))
	}
	for i := range xg {
		a, _ := strconv.ParseFloat(xg[i], 64)
		b, _ := strconv.ParseFloat(lift[i], 64)
		if math.Abs(a-b) > 1e-5*math.Max(1, math.Abs(b)) {
			t.Errorf("row %d: XGBoost %v, Lift %v", i, a, b)
		}
	}
}

func TestGBDTVWErrors(t *testing.T) {
	in := MustGBDTFiles(t, map[string]string{
		"t.vw":       "1 |x a:1\n0 |x b:2\n1 |x a:3\n0 |x b:1\n",
		"nolabel.vw": "|x a:1\n|x b:1\n",
		"bad.vw":     "1 |x a:1\n1 |x a:zz\n",
		// Named a, b in a header; in the VW file, x^a and x^b.
		"named.csv": "a,b,label\n1,5,1\n2,1,0\n3,7,1\n1,0.5,0\n",
		// No names at all.
		"plain.libsvm": "1 0:1 1:5\n0 0:2 1:1\n1 0:3 1:7\n0 0:1 1:0.5\n",
	})
	for _, m := range []struct{ data, out string }{{"named.csv", "named.json"}, {"plain.libsvm", "plain.json"}} {
		if _, errOut, code := MustExec(t, "gbdt", "train", "--data", in(m.data), "--out", in(m.out), "--rounds", "2"); code != 0 {
			t.Fatalf("train on %s: %s", m.data, errOut)
		}
	}
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"label flag", []string{"gbdt", "train", "--data", in("t.vw"), "--out", in("m.json"), "--label", "a"}, 1, "--label and --weight do not apply to VW files"},
		{"weight flag", []string{"gbdt", "train", "--data", in("t.vw"), "--out", in("m.json"), "--weight", "a"}, 1, "--label and --weight do not apply to VW files"},
		{"no labels to train on", []string{"gbdt", "train", "--data", in("nolabel.vw"), "--out", in("m.json")}, 1, "line 1: missing label"},
		{"bad value", []string{"gbdt", "train", "--data", in("bad.vw"), "--out", in("m.json")}, 1, `line 2: feature "a"`},
		// Every value would be 0: the names differ by the namespace.
		{"no name in common", []string{"gbdt", "predict", "--model", in("named.json"), "--data", in("t.vw")}, 1,
			`none of the model's 2 features (such as "a") is in the file; the file's are named like "x^a"`},
		{"no name in common, valid", []string{"gbdt", "train", "--data", in("named.csv"), "--valid", in("t.vw"), "--out", in("m.json")}, 1,
			`none of the training data's 2 features`},
		// By position a VW file's columns would be whatever it names.
		{"a model without names", []string{"gbdt", "eval", "--model", in("plain.json"), "--data", in("t.vw")}, 1,
			"the model has no feature names"},
		{"training data without names", []string{"gbdt", "train", "--data", in("plain.libsvm"), "--valid", in("t.vw"), "--out", in("m.json")}, 1,
			"the training data has no feature names"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errOut, code := MustExec(t, c.args...)
			if code != c.code || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", code, errOut, c.code, c.want)
			}
		})
	}
	// A model trained on VW predicts on lines without labels.
	if _, errOut, code := MustExec(t, "gbdt", "train", "--data", in("t.vw"), "--out", in("m.json"), "--rounds", "2"); code != 0 {
		t.Fatalf("train: %s", errOut)
	}
	out, errOut, code := MustExec(t, "gbdt", "predict", "--model", in("m.json"), "--data", in("nolabel.vw"), "--no-label")
	if code != 0 || strings.Count(out, "\n") != 2 {
		t.Errorf("predict without labels: exit %d, %q, %s", code, out, errOut)
	}
}

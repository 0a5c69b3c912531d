package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lift/gbdt"
)

const (
	higgsTrain = "../../gbdt/testdata/higgs_lgbm_binary.train.tsv.gz"
	higgsTest  = "../../gbdt/testdata/higgs_lgbm_binary.test.tsv.gz"
)

func TestGBDTTrain(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.json")
	out, errOut, code := MustExec(t, "gbdt", "train", "--data", higgsTrain, "--valid", higgsTest, "--out", model,
		"--objective", "binary:logistic", "--eta", "0.1", "--rounds", "30", "--eval-metric", "logloss,auc",
		"--early-stopping", "5", "--threads", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res struct {
		Rounds        int                           `json:"rounds"`
		BestIteration int                           `json:"best_iteration"`
		TrainSeconds  float64                       `json:"train_seconds"`
		Metrics       map[string]map[string]float64 `json:"metrics"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || strings.Count(out, "\n") != 1 {
		t.Fatalf("stdout is not one JSON object (%v): %q", err, out)
	}
	if res.Rounds < 1 || res.Rounds > 30 || res.BestIteration >= res.Rounds || res.TrainSeconds <= 0 {
		t.Errorf("result %+v", res)
	}
	for _, set := range []string{"train", "valid"} {
		if auc := res.Metrics[set]["auc"]; auc < 0.75 || auc > 1 {
			t.Errorf("%s AUC %v", set, auc)
		}
	}
	b, err := gbdt.LoadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Trees) != res.Rounds || b.BestIteration != res.BestIteration || b.Objective != gbdt.BinaryLogistic {
		t.Errorf("saved model: %d trees, best %d, %s", len(b.Trees), b.BestIteration, b.Objective)
	}
	// The model the CLI saved must score as it reported.
	out, errOut, code = MustExec(t, "gbdt", "eval", "--model", model, "--data", higgsTest)
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, errOut)
	}
	if res.BestIteration == res.Rounds-1 && !strings.Contains(out, `"auc"`) {
		t.Errorf("eval output %s", out)
	}
}

// TestGBDTTrainUndefinedMetricIsNull: AUC of one class is undefined, and
// is printed as null, as `gbdt eval` prints it, not left out.
func TestGBDTTrainUndefinedMetricIsNull(t *testing.T) {
	in := MustGBDTFiles(t, map[string]string{"one.csv": "label,a,b\n0,1,2\n0,2,3\n0,3,1\n0,4,5\n"})
	out, errOut, code := MustExec(t, "gbdt", "train", "--data", in("one.csv"), "--out", in("m.json"),
		"--objective", "binary:logistic", "--rounds", "2", "--eval-metric", "auc,logloss")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res struct {
		Metrics map[string]map[string]*float64 `json:"metrics"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	train := res.Metrics["train"]
	if auc, ok := train["auc"]; !ok || auc != nil {
		t.Errorf("train auc = %v (present %v), want null: %s", auc, ok, out)
	}
	if ll := train["logloss"]; ll == nil || *ll < 0 {
		t.Errorf("train logloss = %v, want a number: %s", ll, out)
	}
}

// MustGBDTFiles writes small data files, name -> content, into a new
// directory and returns a function giving the path of a file there.
func MustGBDTFiles(tb testing.TB, files map[string]string) func(name string) string {
	tb.Helper()
	dir := tb.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return func(name string) string { return filepath.Join(dir, name) }
}

func TestGBDTTrainErrors(t *testing.T) {
	dir := t.TempDir()
	in := MustGBDTFiles(t, map[string]string{
		// Labels outside [0, 1]: a regression target, not a probability.
		"sq.csv": "label,a,b\n-3,1,2\n4,2,3\n-3,3,1\n4,4,5\n",
		// Four named features, the label last.
		"s_hdr.csv": "a,b,c,d,label\n1,2,3,4,0\n2,3,4,5,1\n3,1,2,3,0\n4,4,4,4,1\n",
		"s.csv":     "0,1,2,3,4\n1,2,3,4,5\n0,3,1,2,3\n1,4,4,4,4\n",
		// Validation files without a header (the label is column 0).
		"v2.csv":    "0,1\n1,2\n",
		"v4.csv":    "0,1,2,3,4\n1,2,3,4,5\n",
		"v6.csv":    "0,1,2,3,4,5\n1,2,3,4,5,6\n",
		"v4_sq.csv": "-3,1,2,3,4\n4,2,3,4,5\n",
		// With a header: a different name, one column more.
		"v_names.csv": "a,b,x,d,label\n1,2,3,4,0\n2,3,4,5,1\n",
		"v_wide.csv":  "a,b,c,d,e,label\n1,2,3,4,5,0\n2,3,4,5,6,1\n",
		"v_one.csv":   "a,b,c,d,label\n1,2,3,4,0\n2,3,4,5,0\n",
		// A libsvm file ends at its largest index: fewer columns is normal.
		"v.libsvm": "0 0:1 1:2\n1 0:3\n",
	})
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"help", []string{"--help"}, 0, ""},
		{"no data", []string{"--out", "m.json"}, 2, "--data"},
		{"no out", []string{"--data", higgsTrain}, 2, "--out"},
		{"bad eta", []string{"--data", higgsTrain, "--out", "m.json", "--eta", "0"}, 2, "eta"},
		{"bad objective", []string{"--data", higgsTrain, "--out", "m.json", "--objective", "rank:pairwise"}, 2, "objective"},
		{"bad metric", []string{"--data", higgsTrain, "--out", "m.json", "--eval-metric", "auc,ndcg"}, 2, "ndcg"},
		{"bad base score", []string{"--data", higgsTrain, "--out", "m.json", "--base-score", "half"}, 2, "base-score"},
		{"early stopping without valid", []string{"--data", higgsTrain, "--out", "m.json", "--early-stopping", "3"}, 2, "--valid"},
		{"missing file", []string{"--data", filepath.Join(dir, "nope.csv"), "--out", "m.json"}, 1, "nope.csv"},
		{"label out of range", []string{"--data", higgsTrain, "--out", filepath.Join(dir, "m.json"), "--label", "1", "--objective", "binary:logistic"}, 1, "outside [0, 1]"},
		{"unknown format", []string{"--data", in("sq.csv"), "--out", in("m.json"), "--format", "bogus"}, 2, `--format "bogus"`},
		{"early stopping on an undefined metric", []string{"--data", in("s_hdr.csv"), "--valid", in("v_one.csv"), "--out", in("m.json"),
			"--objective", "binary:logistic", "--eval-metric", "auc", "--early-stopping", "2"}, 1, "early stopping on valid-auc: the metric is undefined"},
		{"logistic on labels outside [0, 1]", []string{"--data", in("sq.csv"), "--out", in("m.json"), "--objective", "binary:logistic"}, 1, "label -3 is outside [0, 1], which binary:logistic requires"},
		{"auc on labels outside [0, 1]", []string{"--data", in("sq.csv"), "--out", in("m.json"), "--eval-metric", "rmse,auc"}, 1, "metric auc: row 1: label -3 is outside [0, 1]"},
		{"logloss on labels outside [0, 1]", []string{"--data", in("sq.csv"), "--out", in("m.json"), "--eval-metric", "logloss"}, 1, "metric logloss: row 1: label -3 is outside [0, 1]"},
		{"logloss on valid labels outside [0, 1]", []string{"--data", in("s.csv"), "--valid", in("v4_sq.csv"), "--out", in("m.json"), "--eval-metric", "logloss"}, 1, "v4_sq.csv: metric logloss: row 1: label -3"},
		{"rmse on labels outside [0, 1]", []string{"--data", in("sq.csv"), "--out", in("m.json"), "--eval-metric", "rmse"}, 0, ""},
		{"valid without header, fewer columns", []string{"--data", in("s_hdr.csv"), "--valid", in("v2.csv"), "--out", in("m.json")}, 1, "1 feature columns, the training data has 4"},
		{"valid without header, more columns", []string{"--data", in("s_hdr.csv"), "--valid", in("v6.csv"), "--out", in("m.json")}, 1, "5 feature columns, the training data has 4"},
		{"valid without header, same columns", []string{"--data", in("s_hdr.csv"), "--valid", in("v4.csv"), "--out", in("m.json")}, 0, ""},
		{"neither has a header, fewer columns", []string{"--data", in("s.csv"), "--valid", in("v2.csv"), "--out", in("m.json")}, 1, "1 feature columns, the training data has 4"},
		{"neither has a header, more columns", []string{"--data", in("s.csv"), "--valid", in("v6.csv"), "--out", in("m.json")}, 1, "5 feature columns, the training data has 4"},
		{"headers, another name", []string{"--data", in("s_hdr.csv"), "--valid", in("v_names.csv"), "--out", in("m.json")}, 1, `feature column 2 is "x"`},
		{"headers, more columns", []string{"--data", in("s_hdr.csv"), "--valid", in("v_wide.csv"), "--out", in("m.json")}, 1, "5 feature columns, the training data has 4"},
		{"libsvm valid, fewer columns", []string{"--data", in("s.csv"), "--valid", in("v.libsvm"), "--out", in("m.json")}, 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errOut, code := MustExec(t, append([]string{"gbdt", "train"}, c.args...)...)
			if code != c.code || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", code, errOut, c.code, c.want)
			}
			if c.code == 1 && strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Errorf("failure is not one line: %q", errOut)
			}
		})
	}
}

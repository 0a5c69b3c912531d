package main

import (
	"encoding/json"
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

func TestGBDTTrainErrors(t *testing.T) {
	dir := t.TempDir()
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

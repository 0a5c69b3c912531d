package trainer

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"

	"lift"
	"lift/gbdt"
)

// TestCraftedCoversAreRefused: a model file whose covers (sum_hessian)
// give a node's children more than the node's own is refused at import,
// Invalid. XGBoost loads such a file and predicts with it, but TreeSHAP
// weighs children by their share of the parent's cover: its contributions
// came out infinite, and every prediction (which carries its explanation)
// failed with a 500 on every replica once the model was activated.
func TestCraftedCoversAreRefused(t *testing.T) {
	stump := gbdt.Tree{
		Left: []int32{1, -1, -1}, Right: []int32{2, -1, -1}, Parent: []int32{-1, 0, 0},
		SplitIndex: []int32{0, 0, 0}, SplitCond: []float32{0.5, 0.5, -0.5},
		DefaultLeft: []bool{true, false, false}, BaseWeight: []float32{0, 0.5, -0.5},
		LossChange: []float32{1, 0, 0}, SumHessian: []float32{10, 4, 6},
	}
	b := &gbdt.Booster{Objective: gbdt.BinaryLogistic, BaseScore: 0.5, NumFeature: len(lift.FeatureNames),
		FeatureNames: slices.Clone(lift.FeatureNames), Trees: []gbdt.Tree{stump}}
	var buf bytes.Buffer
	if err := b.Save(&buf); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseModel(buf.Bytes()); err != nil {
		t.Fatalf("the consistent stump: %v", err)
	}
	hess := regexp.MustCompile(`"sum_hessian":\[[^\]]*\]`)
	if !hess.Match(buf.Bytes()) {
		t.Fatalf("no sum_hessian in %s", buf.Bytes())
	}
	crafted := hess.ReplaceAll(buf.Bytes(), []byte(`"sum_hessian":[1E-30,1E30,1E30]`))
	_, err := ParseModel(crafted)
	if lift.KindOf(err) != lift.Invalid || !strings.Contains(lift.Message(err), "sum_hessian") {
		t.Fatalf("ParseModel(crafted covers) = %v, want Invalid naming sum_hessian", err)
	}
}

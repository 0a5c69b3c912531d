package trainer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"lift"
	"lift/gbdt"
)

// stumpModel is an XGBoost JSON model of two stumps over Lift's features
// whose leaves are +-leaf.
func stumpModel(t *testing.T, leaf float32) []byte {
	t.Helper()
	stump := gbdt.Tree{
		Left: []int32{1, -1, -1}, Right: []int32{2, -1, -1}, Parent: []int32{-1, 0, 0},
		SplitIndex: []int32{0, 0, 0}, SplitCond: []float32{0.5, leaf, -leaf},
		DefaultLeft: []bool{true, false, false}, BaseWeight: []float32{0, leaf, -leaf},
		LossChange: []float32{1, 0, 0}, SumHessian: []float32{2, 1, 1},
	}
	b := &gbdt.Booster{Objective: gbdt.BinaryLogistic, BaseScore: 0.5, NumFeature: len(lift.FeatureNames),
		FeatureNames: slices.Clone(lift.FeatureNames), Trees: []gbdt.Tree{stump, stump}}
	var buf bytes.Buffer
	if err := b.Save(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestModelsWithOverflowingMarginsAreRefused: leaves XGBoost would load
// but whose sums pass float32's range (explain would answer infinities)
// are refused at import, at activation and when served, with a 400's
// kind and a message that says why; ordinary leaves pass.
func TestModelsWithOverflowingMarginsAreRefused(t *testing.T) {
	if _, err := ParseModel(stumpModel(t, 2.5)); err != nil {
		t.Fatalf("ordinary leaves: %v", err)
	}
	huge := stumpModel(t, 3e38)
	if _, err := ParseModel(huge); lift.KindOf(err) != lift.Invalid || !strings.Contains(lift.Message(err), "leaf values are too large") {
		t.Fatalf("ParseModel(huge leaves) = %v, want Invalid naming the leaves", err)
	}
	mv := &lift.ModelVersion{Version: 7, Model: huge}
	if _, err := loadServed(mv); lift.KindOf(err) != lift.Invalid || !strings.Contains(lift.Message(err), "leaf values are too large") {
		t.Fatalf("loadServed(huge leaves) = %v, want Invalid", err)
	}

	// A model stored before this check (written to the registry directly)
	// cannot be activated either.
	ctx := context.Background()
	db := MustDemoDB(t, 10, 3)
	stored := &lift.ModelVersion{Source: "imported", Objective: string(gbdt.BinaryLogistic), Model: huge}
	if err := db.CreateModel(ctx, stored, false); err != nil {
		t.Fatal(err)
	}
	job := &Job{Store: db, Serving: &Serving{Bands: lift.DefaultBands}}
	if _, err := job.Activate(ctx, stored.Version); lift.KindOf(err) != lift.Invalid || !strings.Contains(lift.Message(err), "cannot be served") {
		t.Fatalf("Activate(huge leaves) = %v, want Invalid", err)
	}
	if v, err := db.ActiveVersion(ctx); err != nil || v != 0 {
		t.Fatalf("active version after the refused activation = %d, %v; want none", v, err)
	}
}

// TestExportWritesOnlyTheServedVersion: a promotion and the registry
// poll may export at once; the export of a model no longer served is
// skipped, so that the file never ends on an older model.
func TestExportWritesOnlyTheServedVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "served.json")
	s := &Serving{Bands: lift.DefaultBands}
	older := &lift.ModelVersion{Version: 1, Model: stumpModel(t, 1)}
	served := &lift.ModelVersion{Version: 2, Model: stumpModel(t, 2)}
	if err := s.Load(served); err != nil {
		t.Fatal(err)
	}
	j := &Job{Serving: s, ExportPath: path}
	if err := j.export(older); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("the export of a model no longer served was written")
	}
	if err := j.export(served); err != nil {
		t.Fatal(err)
	}
	b, err := gbdt.LoadFile(path)
	if err != nil || b.Trees[0].SplitCond[1] != 2 {
		t.Fatalf("exported %v, %v; want the served model (leaf 2)", b, err)
	}
}

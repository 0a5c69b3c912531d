package gbdt

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// modelJSON returns a small XGBoost JSON model with one tree whose arrays
// are given as JSON text; the other fields are a valid 1.7 layout.
type treeJSON struct {
	left, right, parents, split, cond, dleft, numNodes string
	hess                                               string // sum_hessian; zeros when empty
}

func (t treeJSON) model(numFeature, baseScore string) string {
	n := strings.Count(t.left, ",") + 1
	zeros := "[" + strings.TrimSuffix(strings.Repeat("0.0,", n), ",") + "]"
	hess := t.hess
	if hess == "" {
		hess = zeros
	}
	numNodes := t.numNodes
	if numNodes == "" {
		numNodes = fmt.Sprint(n)
	}
	return `{"learner":{"attributes":{},"feature_names":[],"feature_types":[],"gradient_booster":{"model":{` +
		`"gbtree_model_param":{"num_parallel_tree":"1","num_trees":"1","size_leaf_vector":"0"},"tree_info":[0],"trees":[{` +
		`"base_weights":` + zeros + `,"categories":[],"categories_nodes":[],"categories_segments":[],"categories_sizes":[],` +
		`"default_left":` + t.dleft + `,"id":0,"left_children":` + t.left + `,"loss_changes":` + zeros +
		`,"parents":` + t.parents + `,"right_children":` + t.right + `,"split_conditions":` + t.cond +
		`,"split_indices":` + t.split + `,"split_type":[],"sum_hessian":` + hess +
		`,"tree_param":{"num_deleted":"0","num_feature":"` + numFeature + `","num_nodes":"` + numNodes + `","size_leaf_vector":"0"}}]},"name":"gbtree"},` +
		`"learner_model_param":{"base_score":"` + baseScore + `","boost_from_average":"1","num_class":"0","num_feature":"` + numFeature + `","num_target":"1"},` +
		`"objective":{"name":"binary:logistic","reg_loss_param":{"scale_pos_weight":"1"}}},"version":[1,7,4]}`
}

// goodTree is a stump: x0 < 0.5 goes to leaf 1 (-1), else leaf 2 (+1).
var goodTree = treeJSON{
	left: "[1,-1,-1]", right: "[2,-1,-1]", parents: "[2147483647,0,0]", split: "[0,0,0]",
	cond: "[5E-1,-1E0,1E0]", dleft: "[1,0,0]",
}

func withTree(f func(t *treeJSON)) string {
	t := goodTree
	f(&t)
	return t.model("2", "5E-1")
}

// chainModel is a tree of the given depth: every left child is a leaf.
func chainModel(depth int) string {
	var l, r, p, s, c, d []string
	for i := 0; i < depth; i++ {
		node := 2 * i
		l = append(l, fmt.Sprint(node+1), "-1")
		r = append(r, fmt.Sprint(node+2), "-1")
		_ = node
	}
	l = append(l, "-1")
	r = append(r, "-1")
	n := len(l)
	// Node 2i is internal (children 2i+1 leaf, 2i+2 next), odd nodes leaves.
	for i := 0; i < n; i++ {
		switch {
		case i == 0:
			p = append(p, "2147483647")
		case i%2 == 1:
			p = append(p, fmt.Sprint(i-1))
		default:
			p = append(p, fmt.Sprint(i-2))
		}
		s = append(s, "0")
		c = append(c, "1E0")
		d = append(d, "0")
	}
	j := func(v []string) string { return "[" + strings.Join(v, ",") + "]" }
	return treeJSON{left: j(l), right: j(r), parents: j(p), split: j(s), cond: j(c), dleft: j(d)}.model("1", "5E-1")
}

var hostileModels = []struct {
	name, json, err string
}{
	{"empty", "", "truncated"},
	{"truncated", goodTree.model("2", "5E-1")[:300], "truncated"},
	{"not an object", "[1,2,3]", "not an XGBoost JSON model"},
	{"no learner", `{"version":[1,7,4]}`, `missing "learner"`},
	{"trailing garbage", goodTree.model("2", "5E-1") + "{}", "extra data"},
	{"child out of range", withTree(func(t *treeJSON) { t.right = "[7,-1,-1]" }), "child index out of range"},
	{"negative child", withTree(func(t *treeJSON) { t.left = "[-5,-1,-1]" }), "child index out of range"},
	{"cycle to root", withTree(func(t *treeJSON) { t.left = "[1,0,-1]"; t.right = "[2,2,-1]" }), "reached twice"},
	{"self loop", withTree(func(t *treeJSON) { t.left = "[0,-1,-1]" }), "reached twice"},
	{"one child", withTree(func(t *treeJSON) { t.right = "[-1,-1,-1]" }), "both be -1"},
	{"same child twice", withTree(func(t *treeJSON) { t.right = "[1,-1,-1]" }), "both 1"},
	{"mismatched lengths", withTree(func(t *treeJSON) { t.cond = "[5E-1,1E0]" }), "split_conditions has 2 entries"},
	{"num_nodes huge", withTree(func(t *treeJSON) { t.numNodes = "2147483647" }), "num_nodes"},
	{"split index >= num_feature", withTree(func(t *treeJSON) { t.split = "[2,0,0]" }), "split index 2 out of range"},
	{"negative split index", withTree(func(t *treeJSON) { t.split = "[-1,0,0]" }), "split index -1"},
	{"float overflow", withTree(func(t *treeJSON) { t.cond = "[1E39,0.0,0.0]" }), "float32"},
	{"bad default_left", withTree(func(t *treeJSON) { t.dleft = "[2,0,0]" }), "default_left"},
	{"base_score out of range", goodTree.model("2", "1.5"), "base_score"},
	{"base_score not a number", goodTree.model("2", "abc"), "base_score"},
	{"base_score vector", goodTree.model("2", "[5E-1,5E-1]"), "multi-output"},
	{"num_feature huge", goodTree.model("99999999999", "5E-1"), "num_feature"},
	{"too deep", chainModel(maxTreeDepth + 5), "deeper than"},
	{"json nesting", strings.Repeat("[", 100000), "not an XGBoost JSON model"},
	{"dart", strings.Replace(goodTree.model("2", "5E-1"), `"name":"gbtree"`, `"name":"dart"`, 1), "dart"},
	{"multiclass", strings.Replace(goodTree.model("2", "5E-1"), `"num_class":"0"`, `"num_class":"3"`, 1), "multi-output"},
	{"objective", strings.Replace(goodTree.model("2", "5E-1"), `binary:logistic`, `count:poisson`, 1), "not supported"},
	// XGBoost loads these and predicts with them; their TreeSHAP
	// contributions overflow.
	{"children's covers past the parent's", withTree(func(t *treeJSON) { t.hess = "[1E-30,1E30,1E30]" }), "add up to more than its own"},
	{"both children with the parent's cover", withTree(func(t *treeJSON) { t.hess = "[1E0,1E0,1E0]" }), "add up to more than its own"},
	{"negative cover", withTree(func(t *treeJSON) { t.hess = "[1E0,-1E0,1E0]" }), "not negative"},
	{"categorical split", strings.Replace(goodTree.model("2", "5E-1"), `"split_type":[]`, `"split_type":[1,0,0]`, 1), "categorical"},
}

// TestLoadHostile checks that malformed and hostile model files are
// refused with an error that says what is wrong.
func TestLoadHostile(t *testing.T) {
	for _, tt := range hostileModels {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Load(strings.NewReader(tt.json))
			if err == nil {
				t.Fatalf("Load accepted it: %d trees", len(b.Trees))
			}
			if !strings.Contains(err.Error(), tt.err) {
				t.Errorf("error %q does not mention %q", err, tt.err)
			}
		})
	}
}

// TestLoadAccepts checks inputs that look odd but are valid: XGBoost 3.x's
// bracketed base_score, boolean default_left, a deep but legal chain, and
// unreachable (pruned) nodes.
func TestLoadAccepts(t *testing.T) {
	tests := []struct {
		name string
		json string
		x    []float32
		want float32 // margin
	}{
		{"3.x base_score", goodTree.model("2", "[5E-1]"), []float32{0, 0}, -1},
		{"bool default_left", withTree(func(t *treeJSON) { t.dleft = "[true,false,false]" }), []float32{float32(math.NaN()), 0}, -1},
		{"missing goes right", withTree(func(t *treeJSON) { t.dleft = "[0,0,0]" }), nil, 1},
		{"at threshold goes right", goodTree.model("2", "5E-1"), []float32{0.5, 0}, 1},
		{"deep chain", chainModel(500), []float32{2}, 1},
		{"pruned node kept", withTree(func(t *treeJSON) {
			t.left, t.right, t.parents = "[1,-1,-1,-1]", "[2,-1,-1,-1]", "[2147483647,0,0,0]"
			t.split, t.cond, t.dleft = "[0,0,0,0]", "[5E-1,-1E0,1E0,3E0]", "[1,0,0,0]"
		}), []float32{1}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Load(strings.NewReader(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			if got := b.PredictMargin(tt.x); got != tt.want {
				t.Errorf("margin %v, want %v", got, tt.want)
			}
		})
	}
}

// FuzzLoad feeds arbitrary bytes to Load: it must return an error or a
// model that predicts, explains, saves and reloads to the same numbers,
// never panic. Seeds: the reference models and the hostile cases.
func FuzzLoad(f *testing.F) {
	for _, rf := range referenceFiles {
		raw, err := os.ReadFile(filepath.Join(sharedData, rf.model))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte(goodTree.model("2", "5E-1")))
	for _, h := range hostileModels {
		if len(h.json) < 10000 {
			f.Add([]byte(h.json))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Load(bytes.NewReader(data))
		if err != nil {
			return
		}
		rows := [][]float32{nil, {float32(math.NaN()), 1, -1, 1e30}}
		// Models with millions of features are legal but make each call
		// allocate megabytes; keep the fuzzer fast on them.
		if b.NumFeature <= 1<<12 {
			rows = append(rows, make([]float32, b.NumFeature))
			for _, x := range rows {
				if phi := b.Contributions(x); len(phi) != b.NumFeature+1 {
					t.Fatalf("Contributions: %d values for %d features", len(phi), b.NumFeature)
				}
			}
		}
		for _, x := range rows {
			b.PredictMargin(x)
		}
		for _, k := range importanceKinds {
			if _, err := b.Importance(k); err != nil {
				t.Fatal(err)
			}
		}
		var buf bytes.Buffer
		if err := b.Save(&buf); err != nil {
			t.Fatalf("Save of a loaded model: %v", err)
		}
		b2, err := Load(&buf)
		if err != nil {
			t.Fatalf("reloading a saved model: %v", err)
		}
		for _, x := range rows {
			if m1, m2 := b.PredictMargin(x), b2.PredictMargin(x); math.Float32bits(m1) != math.Float32bits(m2) {
				t.Fatalf("margin %v before save, %v after", m1, m2)
			}
		}
	})
}

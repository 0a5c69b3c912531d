package gbdt

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Limits on what Load accepts. They are far above any model Lift or
// XGBoost trains in practice and exist so a hostile file cannot make the
// loader or the predictor allocate without bound.
const (
	maxModelBytes  = 1 << 30 // size of the JSON text
	maxTrees       = 1 << 20
	maxNodesInTree = 1 << 24
	maxTotalNodes  = 1 << 27
	maxNumFeature  = 1 << 24
	// maxTreeDepth bounds the recursion in TreeSHAP and the length of its
	// path buffers; XGBoost itself refuses max_depth above 63 for depthwise
	// growth, and lossguide trees of this depth would be degenerate.
	maxTreeDepth = 1024
)

// rootParent is how XGBoost writes the parent of node 0.
const rootParent = math.MaxInt32

// LoadFile reads an XGBoost JSON model file (see Load).
func LoadFile(path string) (*Booster, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := Load(bufio.NewReaderSize(f, 1<<16))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// jsonModel mirrors the parts of XGBoost's JSON model schema Lift uses.
// Unknown fields are ignored so that files from newer XGBoost versions load.
type jsonModel struct {
	Learner *struct {
		Attributes      map[string]string `json:"attributes"`
		FeatureNames    []string          `json:"feature_names"`
		FeatureTypes    []string          `json:"feature_types"`
		GradientBooster *struct {
			Name  string         `json:"name"`
			Model *jsonTreeModel `json:"model"`
		} `json:"gradient_booster"`
		LearnerModelParam *struct {
			BaseScore  string `json:"base_score"`
			NumClass   string `json:"num_class"`
			NumFeature string `json:"num_feature"`
			NumTarget  string `json:"num_target"`
		} `json:"learner_model_param"`
		Objective *struct {
			Name string `json:"name"`
		} `json:"objective"`
	} `json:"learner"`
	Version []int `json:"version"`
}

type jsonTreeModel struct {
	Param *struct {
		NumTrees        string `json:"num_trees"`
		NumParallelTree string `json:"num_parallel_tree"`
	} `json:"gbtree_model_param"`
	TreeInfo []int      `json:"tree_info"`
	Trees    []jsonTree `json:"trees"`
}

type jsonTree struct {
	ID              *int       `json:"id"`
	BaseWeights     []float32  `json:"base_weights"`
	DefaultLeft     flagArray  `json:"default_left"`
	LeftChildren    []int64    `json:"left_children"`
	RightChildren   []int64    `json:"right_children"`
	Parents         []int64    `json:"parents"`
	LossChanges     []float32  `json:"loss_changes"`
	SplitConditions []float32  `json:"split_conditions"`
	SplitIndices    []int64    `json:"split_indices"`
	SplitType       []int64    `json:"split_type"`
	SumHessian      []float32  `json:"sum_hessian"`
	Categories      []int64    `json:"categories"`
	CategoriesNodes []int64    `json:"categories_nodes"`
	TreeParam       *jsonParam `json:"tree_param"`
}

type jsonParam struct {
	NumFeature     string `json:"num_feature"`
	NumNodes       string `json:"num_nodes"`
	SizeLeafVector string `json:"size_leaf_vector"`
}

// flagArray is default_left, which XGBoost writes as 0/1 integers and some
// writers as booleans.
type flagArray []bool

func (f *flagArray) UnmarshalJSON(data []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	out := make([]bool, len(raw))
	for i, r := range raw {
		switch s := string(bytes.TrimSpace(r)); s {
		case "0", "false":
		case "1", "true":
			out[i] = true
		default:
			return fmt.Errorf("default_left[%d] is %.20q, want 0, 1, true or false", i, s)
		}
	}
	*f = out
	return nil
}

// Load reads an XGBoost JSON model as saved by Booster.save_model in
// XGBoost 1.7, 2.x or 3.x, and validates it completely, so the predictor
// can trust every index: child indices in range, each node reached once
// from the root (no cycles or shared children), split features below
// num_feature, array lengths equal, sizes within fixed limits. Only
// single-output gbtree models with numeric splits and the objectives
// reg:squarederror, reg:logistic and binary:logistic are supported; others
// are refused with an error saying so.
func Load(r io.Reader) (*Booster, error) {
	lr := &io.LimitedReader{R: r, N: maxModelBytes + 1}
	dec := json.NewDecoder(lr)
	var m jsonModel
	if err := dec.Decode(&m); err != nil {
		if lr.N <= 0 {
			return nil, fmt.Errorf("model is larger than %d bytes", maxModelBytes)
		}
		return nil, fmt.Errorf("not an XGBoost JSON model: %w", describeJSONError(err))
	}
	if dec.More() {
		return nil, errors.New("not an XGBoost JSON model: extra data after the JSON object")
	}
	b, err := m.booster()
	if err != nil {
		return nil, fmt.Errorf("invalid XGBoost JSON model: %w", err)
	}
	return b, nil
}

func describeJSONError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("field %q at byte %d: cannot use JSON %s as %s", te.Field, te.Offset, te.Value, te.Type)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("syntax error at byte %d: %v", se.Offset, se)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errors.New("truncated JSON")
	}
	return err
}

func (m *jsonModel) booster() (*Booster, error) {
	l := m.Learner
	if l == nil {
		return nil, errors.New(`missing "learner"`)
	}
	if l.GradientBooster == nil {
		return nil, errors.New(`missing "learner.gradient_booster"`)
	}
	if name := l.GradientBooster.Name; name != "gbtree" {
		return nil, fmt.Errorf("gradient_booster %q is not supported (only gbtree)", name)
	}
	if l.GradientBooster.Model == nil {
		return nil, errors.New(`missing "learner.gradient_booster.model"`)
	}
	if l.LearnerModelParam == nil {
		return nil, errors.New(`missing "learner.learner_model_param"`)
	}
	if l.Objective == nil {
		return nil, errors.New(`missing "learner.objective"`)
	}
	obj := Objective(l.Objective.Name)
	switch obj {
	case SquaredError, Logistic, BinaryLogistic:
	default:
		return nil, fmt.Errorf("objective %q is not supported (want %s, %s or %s)", obj, SquaredError, Logistic, BinaryLogistic)
	}
	p := l.LearnerModelParam
	for _, f := range []struct{ name, v string }{{"num_class", p.NumClass}, {"num_target", p.NumTarget}} {
		if f.v == "" {
			continue
		}
		n, err := strconv.Atoi(f.v)
		if err != nil {
			return nil, fmt.Errorf("learner_model_param.%s %q is not an integer", f.name, f.v)
		}
		if n > 1 {
			return nil, fmt.Errorf("learner_model_param.%s is %d: multi-output models are not supported", f.name, n)
		}
	}
	nf, err := strconv.Atoi(p.NumFeature)
	if err != nil || nf < 0 || nf > maxNumFeature {
		return nil, fmt.Errorf("learner_model_param.num_feature %q is not an integer in [0, %d]", p.NumFeature, maxNumFeature)
	}
	bs, err := parseBaseScore(p.BaseScore)
	if err != nil {
		return nil, err
	}
	if (obj == Logistic || obj == BinaryLogistic) && !(bs > 0 && bs < 1) {
		return nil, fmt.Errorf("base_score %v must be in (0, 1) for %s", bs, obj)
	}
	if len(l.FeatureNames) != 0 && len(l.FeatureNames) != nf {
		return nil, fmt.Errorf("%d feature_names for num_feature %d", len(l.FeatureNames), nf)
	}
	if len(l.FeatureTypes) != 0 && len(l.FeatureTypes) != nf {
		return nil, fmt.Errorf("%d feature_types for num_feature %d", len(l.FeatureTypes), nf)
	}
	for i, t := range l.FeatureTypes {
		if t == "c" {
			return nil, fmt.Errorf("feature_types[%d] is categorical (\"c\"): categorical features are not supported", i)
		}
	}

	tm := l.GradientBooster.Model
	if len(tm.Trees) > maxTrees {
		return nil, fmt.Errorf("%d trees is more than the limit %d", len(tm.Trees), maxTrees)
	}
	if tm.Param != nil && tm.Param.NumTrees != "" {
		n, err := strconv.Atoi(tm.Param.NumTrees)
		if err != nil || n != len(tm.Trees) {
			return nil, fmt.Errorf("gbtree_model_param.num_trees %q does not match the %d trees", tm.Param.NumTrees, len(tm.Trees))
		}
	}
	if tm.TreeInfo != nil && len(tm.TreeInfo) != len(tm.Trees) {
		return nil, fmt.Errorf("tree_info has %d entries for %d trees", len(tm.TreeInfo), len(tm.Trees))
	}
	for i, g := range tm.TreeInfo {
		if g != 0 {
			return nil, fmt.Errorf("tree_info[%d] is %d: multi-class models are not supported", i, g)
		}
	}

	b := &Booster{
		Objective:     obj,
		BaseScore:     bs,
		NumFeature:    nf,
		FeatureNames:  l.FeatureNames,
		FeatureTypes:  l.FeatureTypes,
		Trees:         make([]Tree, len(tm.Trees)),
		BestIteration: len(tm.Trees) - 1,
		Attributes:    l.Attributes,
	}
	if len(b.FeatureNames) == 0 {
		b.FeatureNames = nil
	}
	if len(b.FeatureTypes) == 0 {
		b.FeatureTypes = nil
	}
	if s, ok := l.Attributes["best_iteration"]; ok {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 && n < len(tm.Trees) {
			b.BestIteration = n
		}
	}
	total := 0
	for i := range tm.Trees {
		jt := &tm.Trees[i]
		total += len(jt.LeftChildren)
		if total > maxTotalNodes {
			return nil, fmt.Errorf("more than %d nodes in all trees", maxTotalNodes)
		}
		t, err := jt.tree(i, nf)
		if err != nil {
			return nil, fmt.Errorf("tree %d: %w", i, err)
		}
		b.Trees[i] = t
	}
	return b, nil
}

// parseBaseScore reads base_score as XGBoost 1.7/2.x ("5E-1") and 3.x
// ("[5E-1]") write it.
func parseBaseScore(s string) (float32, error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
		t = strings.TrimSpace(t[1 : len(t)-1])
		if strings.Contains(t, ",") {
			return 0, fmt.Errorf("base_score %q has several values: multi-output models are not supported", s)
		}
	}
	v, err := strconv.ParseFloat(t, 32)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("base_score %q is not a finite number", s)
	}
	return float32(v), nil
}

func (jt *jsonTree) tree(pos, numFeature int) (Tree, error) {
	if jt.ID != nil && *jt.ID != pos {
		return Tree{}, fmt.Errorf("id is %d, want %d (trees must be in id order)", *jt.ID, pos)
	}
	n := len(jt.LeftChildren)
	if n == 0 {
		return Tree{}, errors.New("no nodes")
	}
	if n > maxNodesInTree {
		return Tree{}, fmt.Errorf("%d nodes is more than the limit %d", n, maxNodesInTree)
	}
	if jt.TreeParam != nil && jt.TreeParam.NumNodes != "" {
		if v, err := strconv.Atoi(jt.TreeParam.NumNodes); err != nil || v != n {
			return Tree{}, fmt.Errorf("tree_param.num_nodes %q does not match the %d nodes in left_children", jt.TreeParam.NumNodes, n)
		}
	}
	if jt.TreeParam != nil && jt.TreeParam.SizeLeafVector != "" && jt.TreeParam.SizeLeafVector != "0" && jt.TreeParam.SizeLeafVector != "1" {
		return Tree{}, fmt.Errorf("tree_param.size_leaf_vector %q: vector leaves are not supported", jt.TreeParam.SizeLeafVector)
	}
	lengths := []struct {
		name string
		n    int
	}{
		{"right_children", len(jt.RightChildren)},
		{"parents", len(jt.Parents)},
		{"split_indices", len(jt.SplitIndices)},
		{"split_conditions", len(jt.SplitConditions)},
		{"default_left", len(jt.DefaultLeft)},
		{"base_weights", len(jt.BaseWeights)},
		{"loss_changes", len(jt.LossChanges)},
		{"sum_hessian", len(jt.SumHessian)},
	}
	for _, l := range lengths {
		if l.n != n {
			return Tree{}, fmt.Errorf("%s has %d entries, left_children %d", l.name, l.n, n)
		}
	}
	if len(jt.SplitType) != 0 && len(jt.SplitType) != n {
		return Tree{}, fmt.Errorf("split_type has %d entries, left_children %d", len(jt.SplitType), n)
	}
	if len(jt.Categories) != 0 || len(jt.CategoriesNodes) != 0 {
		return Tree{}, errors.New("categorical splits are not supported")
	}
	t := Tree{
		Left:        make([]int32, n),
		Right:       make([]int32, n),
		Parent:      make([]int32, n),
		SplitIndex:  make([]int32, n),
		SplitCond:   jt.SplitConditions,
		DefaultLeft: jt.DefaultLeft,
		BaseWeight:  jt.BaseWeights,
		LossChange:  jt.LossChanges,
		SumHessian:  jt.SumHessian,
	}
	for i := 0; i < n; i++ {
		l, r, p, s := jt.LeftChildren[i], jt.RightChildren[i], jt.Parents[i], jt.SplitIndices[i]
		if l < -1 || l >= int64(n) || r < -1 || r >= int64(n) {
			return Tree{}, fmt.Errorf("node %d: child index out of range [-1, %d): left %d, right %d", i, n, l, r)
		}
		if p != rootParent && (p < -1 || p >= int64(n)) {
			return Tree{}, fmt.Errorf("node %d: parent %d out of range", i, p)
		}
		if s < 0 || s > math.MaxInt32 {
			return Tree{}, fmt.Errorf("node %d: split index %d out of range", i, s)
		}
		if len(jt.SplitType) != 0 && jt.SplitType[i] != 0 && l != -1 {
			return Tree{}, fmt.Errorf("node %d: split_type %d (categorical) is not supported", i, jt.SplitType[i])
		}
		if p == rootParent {
			p = -1
		}
		t.Left[i], t.Right[i], t.Parent[i], t.SplitIndex[i] = int32(l), int32(r), int32(p), int32(s)
	}
	if err := t.validate(numFeature); err != nil {
		return Tree{}, err
	}
	return t, nil
}

// validate checks the structure reachable from the root: children in
// range and both present or both absent, every node reached at most once
// (which rules out cycles and shared subtrees), depth within maxTreeDepth,
// split features below numFeature, finite values. Unreachable nodes (XGBoost
// keeps pruned nodes in its arrays) are ignored.
func (t *Tree) validate(numFeature int) error {
	n := len(t.Left)
	if n == 0 {
		return errors.New("no nodes")
	}
	for _, l := range []struct {
		name string
		n    int
	}{{"Right", len(t.Right)}, {"SplitIndex", len(t.SplitIndex)}, {"SplitCond", len(t.SplitCond)}, {"DefaultLeft", len(t.DefaultLeft)}} {
		if l.n != n {
			return fmt.Errorf("%s has %d entries, Left %d", l.name, l.n, n)
		}
	}
	for _, l := range []struct {
		name string
		n    int
	}{{"Parent", len(t.Parent)}, {"BaseWeight", len(t.BaseWeight)}, {"LossChange", len(t.LossChange)}, {"SumHessian", len(t.SumHessian)}} {
		if l.n != 0 && l.n != n {
			return fmt.Errorf("%s has %d entries, Left %d", l.name, l.n, n)
		}
	}
	seen := make([]bool, n)
	type item struct{ node, depth int32 }
	stack := []item{{0, 0}}
	seen[0] = true
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		i := it.node
		v := t.SplitCond[i]
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("node %d: split condition %v is not finite", i, v)
		}
		l, r := t.Left[i], t.Right[i]
		if l == -1 && r == -1 {
			continue
		}
		if l < 0 || r < 0 || int(l) >= n || int(r) >= n {
			return fmt.Errorf("node %d: left child %d and right child %d must both be -1 or both in [1, %d)", i, l, r, n)
		}
		if l == r {
			return fmt.Errorf("node %d: left and right child are both %d", i, l)
		}
		if f := t.SplitIndex[i]; f < 0 || int(f) >= numFeature {
			return fmt.Errorf("node %d: split index %d out of range [0, %d) (num_feature)", i, f, numFeature)
		}
		if it.depth+1 > maxTreeDepth {
			return fmt.Errorf("node %d: deeper than %d levels", i, maxTreeDepth)
		}
		if err := t.checkCover(i, l, r); err != nil {
			return err
		}
		for _, c := range [2]int32{l, r} {
			if seen[c] {
				return fmt.Errorf("node %d: child %d is reached twice (a cycle or a shared subtree)", i, c)
			}
			seen[c] = true
			stack = append(stack, item{c, it.depth + 1})
		}
	}
	return nil
}

// coverSlack is how far the covers of a node's children may add up past
// the node's own: each is a sum of the same rows' hessians, rounded to
// float32 on its own.
const coverSlack = 1e-3

// checkCover requires node i's cover (sum_hessian) and its children's to
// be finite, not negative, and the children's to add up to no more than
// i's. TreeSHAP weighs each child by its share of the parent's cover: with
// shares adding up to more than one, a crafted tree's contributions grow
// without bound over its depth (to infinity, failing every answer that
// explains itself), although its predictions, which ignore covers, do not.
func (t *Tree) checkCover(i, l, r int32) error {
	if len(t.SumHessian) == 0 {
		return nil
	}
	p, cl, cr := float64(t.SumHessian[i]), float64(t.SumHessian[l]), float64(t.SumHessian[r])
	for _, c := range [3]float64{p, cl, cr} {
		if !(c >= 0) || math.IsInf(c, 0) {
			return fmt.Errorf("node %d: covers (sum_hessian) %v, %v and %v of it and its children must be finite and not negative", i, p, cl, cr)
		}
	}
	if cl+cr > p*(1+coverSlack)+1e-30 {
		return fmt.Errorf("node %d: its children's covers (sum_hessian) %v and %v add up to more than its own, %v", i, cl, cr, p)
	}
	return nil
}

// Validate reports whether b is well formed: a supported objective, a
// base score the objective accepts and trees whose structure Load would
// accept. Boosters from Load are always valid; a trainer building one as a
// struct literal can call Validate in its tests.
func (b *Booster) Validate() error {
	switch b.Objective {
	case SquaredError, Logistic, BinaryLogistic:
	default:
		return fmt.Errorf("objective %q is not supported", b.Objective)
	}
	if b.Objective != SquaredError && !(b.BaseScore > 0 && b.BaseScore < 1) {
		return fmt.Errorf("base score %v must be in (0, 1) for %s", b.BaseScore, b.Objective)
	}
	if b.NumFeature < 0 || b.NumFeature > maxNumFeature {
		return fmt.Errorf("NumFeature %d out of range", b.NumFeature)
	}
	if b.FeatureNames != nil && len(b.FeatureNames) != b.NumFeature {
		return fmt.Errorf("%d feature names for %d features", len(b.FeatureNames), b.NumFeature)
	}
	for i := range b.Trees {
		if err := b.Trees[i].validate(b.NumFeature); err != nil {
			return fmt.Errorf("tree %d: %w", i, err)
		}
	}
	return nil
}

// SaveFile writes the model to path atomically: a temporary file in the
// same directory is written, synced and renamed over path, so a reader never
// sees a half-written model.
func (b *Booster) SaveFile(path string) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriterSize(f, 1<<16)
	if err = b.Save(w); err != nil {
		return err
	}
	if err = w.Flush(); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	// Sync the directory so the rename itself survives a crash; not every
	// file system supports it, so a failure here is not an error.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Save writes b as an XGBoost JSON model in the layout XGBoost 1.7 writes
// (version [1,7,4]), which XGBoost 1.7, 2.x and 3.x load. Every float is
// written with a decimal point or an exponent, as 1.7's parser requires of
// float arrays, and in the shortest form that reads back to the same
// float32, so a saved model predicts the same bits after loading.
func (b *Booster) Save(w io.Writer) error {
	if err := b.Validate(); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	e := &jsonWriter{w: bw}
	nf := strconv.Itoa(b.NumFeature)

	e.raw(`{"learner":{"attributes":{`)
	attrs := make(map[string]string, len(b.Attributes)+2)
	for k, v := range b.Attributes {
		attrs[k] = v
	}
	_, had := attrs["best_iteration"]
	if len(b.Trees) > 0 && (had || b.BestIteration != len(b.Trees)-1) {
		bi := min(max(b.BestIteration, 0), len(b.Trees)-1)
		attrs["best_iteration"] = strconv.Itoa(bi)
		attrs["best_ntree_limit"] = strconv.Itoa(bi + 1)
	}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i > 0 {
			e.raw(",")
		}
		e.str(k)
		e.raw(":")
		e.str(attrs[k])
	}
	e.raw(`},"feature_names":`)
	e.strs(b.FeatureNames)
	e.raw(`,"feature_types":`)
	types := b.FeatureTypes
	if types == nil && b.FeatureNames != nil {
		types = make([]string, len(b.FeatureNames))
		for i := range types {
			types[i] = "float"
		}
	}
	e.strs(types)
	e.raw(`,"gradient_booster":{"model":{"gbtree_model_param":{"num_parallel_tree":"1","num_trees":`)
	e.str(strconv.Itoa(len(b.Trees)))
	e.raw(`,"size_leaf_vector":"0"},"tree_info":[`)
	for i := range b.Trees {
		if i > 0 {
			e.raw(",")
		}
		e.raw("0")
	}
	e.raw(`],"trees":[`)
	for i := range b.Trees {
		if i > 0 {
			e.raw(",")
		}
		b.Trees[i].writeJSON(e, i, nf)
	}
	e.raw(`]},"name":"gbtree"},"learner_model_param":{"base_score":`)
	e.str(string(appendFloat32(nil, b.BaseScore)))
	e.raw(`,"boost_from_average":"1","num_class":"0","num_feature":`)
	e.str(nf)
	e.raw(`,"num_target":"1"},"objective":{"name":`)
	e.str(string(b.Objective))
	e.raw(`,"reg_loss_param":{"scale_pos_weight":"1"}}},"version":[1,7,4]}`)
	e.raw("\n")
	if e.err != nil {
		return e.err
	}
	return bw.Flush()
}

func (t *Tree) writeJSON(e *jsonWriter, id int, numFeature string) {
	n := len(t.Left)
	parents := t.Parent
	if len(parents) != n {
		parents = make([]int32, n)
		for i := range parents {
			parents[i] = -1
		}
		for i := 0; i < n; i++ {
			if t.Left[i] >= 0 {
				parents[t.Left[i]] = int32(i)
				parents[t.Right[i]] = int32(i)
			}
		}
	}
	e.raw(`{"base_weights":`)
	e.floats(t.BaseWeight, n)
	e.raw(`,"categories":[],"categories_nodes":[],"categories_segments":[],"categories_sizes":[],"default_left":[`)
	for i, d := range t.DefaultLeft {
		if i > 0 {
			e.raw(",")
		}
		if d {
			e.raw("1")
		} else {
			e.raw("0")
		}
	}
	e.raw(`],"id":`)
	e.raw(strconv.Itoa(id))
	e.raw(`,"left_children":`)
	e.ints(t.Left, false)
	e.raw(`,"loss_changes":`)
	e.floats(t.LossChange, n)
	e.raw(`,"parents":`)
	e.ints(parents, true)
	e.raw(`,"right_children":`)
	e.ints(t.Right, false)
	e.raw(`,"split_conditions":`)
	e.floats(t.SplitCond, n)
	e.raw(`,"split_indices":`)
	e.ints(t.SplitIndex, false)
	e.raw(`,"split_type":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			e.raw(",")
		}
		e.raw("0")
	}
	e.raw(`],"sum_hessian":`)
	e.floats(t.SumHessian, n)
	e.raw(`,"tree_param":{"num_deleted":"0","num_feature":`)
	e.str(numFeature)
	e.raw(`,"num_nodes":`)
	e.str(strconv.Itoa(n))
	e.raw(`,"size_leaf_vector":"0"}}`)
}

// jsonWriter writes JSON by hand: encoding/json would write the float
// 1 as "1", which XGBoost 1.7 refuses in a float array.
type jsonWriter struct {
	w   *bufio.Writer
	buf []byte
	err error
}

func (e *jsonWriter) raw(s string) {
	if e.err == nil {
		_, e.err = e.w.WriteString(s)
	}
}

func (e *jsonWriter) str(s string) {
	b, err := json.Marshal(s)
	if err != nil && e.err == nil {
		e.err = err
	}
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

func (e *jsonWriter) strs(ss []string) {
	e.raw("[")
	for i, s := range ss {
		if i > 0 {
			e.raw(",")
		}
		e.str(s)
	}
	e.raw("]")
}

// floats writes vs, or n zeros when vs is empty (a trainer may leave the
// statistics arrays unset; XGBoost requires them).
func (e *jsonWriter) floats(vs []float32, n int) {
	e.raw("[")
	for i := 0; i < n; i++ {
		if i > 0 {
			e.raw(",")
		}
		var v float32
		if len(vs) == n {
			v = vs[i]
		}
		e.buf = appendFloat32(e.buf[:0], v)
		if e.err == nil {
			_, e.err = e.w.Write(e.buf)
		}
	}
	e.raw("]")
}

func (e *jsonWriter) ints(vs []int32, parents bool) {
	e.raw("[")
	for i, v := range vs {
		if i > 0 {
			e.raw(",")
		}
		if parents && v < 0 {
			v = rootParent
		}
		e.buf = strconv.AppendInt(e.buf[:0], int64(v), 10)
		if e.err == nil {
			_, e.err = e.w.Write(e.buf)
		}
	}
	e.raw("]")
}

// appendFloat32 appends v in XGBoost's style (1.8596492E0): the shortest
// decimal that reads back as the same float32, always with an exponent.
// Non-finite values cannot be written in JSON; Validate keeps them out of
// split conditions and they are written as 0 elsewhere.
func appendFloat32(dst []byte, v float32) []byte {
	if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
		v = 0
	}
	dst = strconv.AppendFloat(dst, float64(v), 'E', -1, 32)
	// Go writes E+00 / E-01; shorten to XGBoost's E0 / E-1.
	i := bytes.IndexByte(dst, 'E')
	exp := dst[i+1:]
	neg := exp[0] == '-'
	digits := bytes.TrimLeft(exp[1:], "0")
	if len(digits) == 0 {
		digits = []byte("0")
	}
	out := dst[:i+1]
	if neg {
		out = append(out, '-')
	}
	return append(out, digits...)
}

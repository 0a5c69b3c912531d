package gbdt

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"lift/dataset"
)

// flatNode is one node of the compiled forest (16 bytes, four to a cache
// line). A leaf points to itself on both sides, so a walk may take more
// steps than the leaf's depth without moving: every tree is walked for a
// fixed number of steps, with no leaf test in the loop, and the walks of
// several trees interleave to hide the latency of each dependent load.
type flatNode struct {
	// value is the split threshold; -Inf at a leaf.
	value float32
	// offset is the split feature's byte offset in a row, 4*feature (0 at
	// a leaf).
	offset uint32
	// right is the right child; the left child is right-1. A leaf's right
	// is itself.
	right uint32
	// leaf is the leaf value (0 for an internal node), kept in the node so
	// a finished walk reads it from the cache line it is already on.
	leaf float32
}

// group is how many trees one walk interleaves.
const group = 8

// forest is the predictor's layout: every reachable node of every tree in
// one contiguous array, each tree in breadth-first order so the top levels
// that every row visits share cache lines.
type forest struct {
	nodes []flatNode
	// roots[t] is tree t's root in nodes; padded with a dummy leaf to a
	// whole number of groups.
	roots []uint32
	// defaultLeft[i] is 1 if a missing value goes left at node i (0 at
	// leaves); only rows with missing values read it.
	defaultLeft []uint8
	// steps[t] is how many steps reach a leaf in tree t from any row
	// (its depth); groupSteps[g] is the largest over the trees of group g.
	steps      []int32
	groupSteps []int32
	// base is the base margin the sum starts from.
	base float32
	nf   int
	// complete is the complete layout, nil if the model does not fit it
	// (see predict_complete.go).
	complete *complete
	// Inputs the layout was compiled from, to notice a Booster that was
	// changed (trees appended, base score set) after it was compiled.
	ntrees    int
	first     *Tree
	baseScore float32
	objective Objective
}

// compiled returns b's flat predictor, compiling it on first use. Boosters
// are often built as struct literals, so there is no constructor to do it;
// an atomic pointer keeps concurrent first calls safe (two goroutines may
// both compile; either result is correct).
func (b *Booster) compiled() *forest {
	p := (*unsafe.Pointer)(unsafe.Pointer(&b.flat))
	f := (*forest)(atomic.LoadPointer(p))
	if f != nil && f.ntrees == len(b.Trees) && f.baseScore == b.BaseScore && f.objective == b.Objective &&
		f.nf == b.NumFeature && (len(b.Trees) == 0 || f.first == &b.Trees[0]) {
		return f
	}
	f = b.compile()
	atomic.StorePointer(p, unsafe.Pointer(f))
	return f
}

// MarginBound is |base margin| + the sum over the trees of their largest
// |leaf value|: no margin, and no tree path's share of one, can be larger.
// XGBoost serves any finite leaves, and so does Predict (a margin past
// float32's range is infinite, a probability of 0 or 1), but a server
// that answers contributions in JSON needs them finite: see the trainer's
// check of the models it serves.
func (b *Booster) MarginBound() float64 {
	bound := math.Abs(float64(b.baseMargin()))
	for i := range b.Trees {
		t := &b.Trees[i]
		var big float64
		for j, l := range t.Left {
			if l < 0 {
				big = max(big, math.Abs(float64(t.SplitCond[j])))
			}
		}
		bound += big
	}
	return bound
}

// baseMargin is XGBoost's ProbToMargin: logit(base_score) in float32 for
// the logistic objectives, base_score itself otherwise.
func (b *Booster) baseMargin() float32 {
	switch b.Objective {
	case Logistic, BinaryLogistic:
		return float32(-math.Log(float64(1/b.BaseScore - 1)))
	}
	return b.BaseScore
}

func (b *Booster) compile() *forest {
	if err := b.Validate(); err != nil {
		// A Booster from Load is valid; an invalid one can only be a struct
		// literal built wrongly by code in this module, a programming error.
		panic(fmt.Sprintf("gbdt: predicting with an invalid Booster: %v", err))
	}
	total := 0
	for i := range b.Trees {
		total += len(b.Trees[i].Left)
	}
	f := &forest{
		nodes:       make([]flatNode, 0, total),
		defaultLeft: make([]uint8, 0, total),
		roots:       make([]uint32, len(b.Trees)),
		steps:       make([]int32, len(b.Trees)),
		base:        b.baseMargin(),
		nf:          b.NumFeature,
		ntrees:      len(b.Trees),
		baseScore:   b.BaseScore,
		objective:   b.Objective,
	}
	if len(b.Trees) > 0 {
		f.first = &b.Trees[0]
	}
	var queue, depth []int32 // original node ids in breadth-first order
	for ti := range b.Trees {
		t := &b.Trees[ti]
		start := uint32(len(f.nodes))
		f.roots[ti] = start
		queue = append(queue[:0], 0)
		depth = append(depth[:0], 0)
		for qi := 0; qi < len(queue); qi++ {
			i := queue[qi]
			self := start + uint32(qi)
			n := flatNode{value: float32(math.Inf(-1)), right: self}
			var dl uint8
			if t.Left[i] >= 0 {
				n.value = t.SplitCond[i]
				n.offset = 4 * uint32(t.SplitIndex[i])
				if t.DefaultLeft[i] {
					dl = 1
				}
				n.right = start + uint32(len(queue)) + 1
				queue = append(queue, t.Left[i], t.Right[i])
				depth = append(depth, depth[qi]+1, depth[qi]+1)
				f.steps[ti] = max(f.steps[ti], depth[qi]+1)
			} else {
				n.leaf = t.SplitCond[i]
			}
			f.nodes = append(f.nodes, n)
			f.defaultLeft = append(f.defaultLeft, dl)
		}
	}
	// Pad the last group with walks that start and stay at a dummy leaf, so
	// every group interleaves eight walks; only real trees' leaves are added.
	if rest := len(f.roots) % group; rest != 0 {
		dummy := uint32(len(f.nodes))
		f.nodes = append(f.nodes, flatNode{value: float32(math.Inf(-1)), right: dummy})
		f.defaultLeft = append(f.defaultLeft, 0)
		for range group - rest {
			f.roots = append(f.roots, dummy)
			f.steps = append(f.steps, 0)
		}
	}
	for g := 0; g+group <= len(f.roots); g += group {
		f.groupSteps = append(f.groupSteps, slices.Max(f.steps[g:g+group]))
	}
	f.complete = compileComplete(b, f)
	return f
}

// next takes one step from node i for row x, which must hold at least nf
// values; dl is forest.defaultLeft. The comparison is XGBoost's: left iff x < threshold in float32; a
// NaN goes the default way. The left child is always right-1; a leaf's
// threshold is -Inf and it has no default-left bit, so a walk that reaches
// it stays put. The step has no branches (an unpredictable threshold test
// is the cost of tree walking), and the arrays are addressed without bounds
// checks: compile validated every child index and split feature, and
// callers pad short rows, so every access is in range.
func next(nodes unsafe.Pointer, dl []uint8, i uint32, x unsafe.Pointer) uint32 {
	n := (*flatNode)(unsafe.Add(nodes, uintptr(i)*unsafe.Sizeof(flatNode{})))
	v := *(*float32)(unsafe.Add(x, uintptr(n.offset)))
	return n.right - (b2u(v < n.value) | b2u(v != v)&uint32(dl[i]))
}

// nextDense is next for a row with no missing values: a third fewer
// instructions per step, which is most of the time a walk takes.
func nextDense(nodes unsafe.Pointer, i uint32, x unsafe.Pointer) uint32 {
	n := (*flatNode)(unsafe.Add(nodes, uintptr(i)*unsafe.Sizeof(flatNode{})))
	v := *(*float32)(unsafe.Add(x, uintptr(n.offset)))
	return n.right - b2u(v < n.value)
}

// b2u is 1 for true, 0 for false, without a branch.
func b2u(b bool) uint32 { return uint32(*(*uint8)(unsafe.Pointer(&b))) }

// margin sums the leaves of every tree for row x into sum, in tree order.
// x must have at least nf values (see rowMargin for shorter rows). It walks
// the complete layout when the model has one, else the linked layout.
func (f *forest) margin(sum float32, x []float32) float32 {
	if f.complete != nil {
		return f.complete.margin(sum, x[:f.nf])
	}
	xp := f.rowPointer(x)
	if hasNaN(x[:f.nf]) {
		for g := range f.groupSteps {
			sum = f.addGroup(g, xp, sum)
		}
	} else {
		for g := range f.groupSteps {
			sum = f.addGroupDense(g, xp, sum)
		}
	}
	return sum
}

func hasNaN(x []float32) bool {
	for _, v := range x {
		if v != v {
			return true
		}
	}
	return false
}

// rowPointer returns the address of x's values for next.
func (f *forest) rowPointer(x []float32) unsafe.Pointer {
	if len(x) > 0 {
		return unsafe.Pointer(&x[0])
	}
	// Every tree is a single leaf (nf is 0); the walks read x[0] only to
	// stay put, so give them something to read.
	return unsafe.Pointer(&zeroRow[0])
}

var zeroRow [1]float32

// addGroup walks the trees of group g for the row at xp, interleaved so
// the eight dependent chains of loads overlap, and adds their leaves to
// sum in tree order. addGroupDense is the same for a row without missing
// values; the two are written out separately so each inlines its step.
func (f *forest) addGroup(g int, xp unsafe.Pointer, sum float32) float32 {
	nodes, dl := unsafe.Pointer(&f.nodes[0]), f.defaultLeft
	t := g * group
	r := f.roots[t : t+group : t+group]
	i0, i1, i2, i3, i4, i5, i6, i7 := r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]
	for range f.groupSteps[g] {
		i0 = next(nodes, dl, i0, xp)
		i1 = next(nodes, dl, i1, xp)
		i2 = next(nodes, dl, i2, xp)
		i3 = next(nodes, dl, i3, xp)
		i4 = next(nodes, dl, i4, xp)
		i5 = next(nodes, dl, i5, xp)
		i6 = next(nodes, dl, i6, xp)
		i7 = next(nodes, dl, i7, xp)
	}
	return f.addLeaves(g, sum, [group]uint32{i0, i1, i2, i3, i4, i5, i6, i7})
}

func (f *forest) addGroupDense(g int, xp unsafe.Pointer, sum float32) float32 {
	nodes := unsafe.Pointer(&f.nodes[0])
	t := g * group
	r := f.roots[t : t+group : t+group]
	i0, i1, i2, i3, i4, i5, i6, i7 := r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]
	for range f.groupSteps[g] {
		i0 = nextDense(nodes, i0, xp)
		i1 = nextDense(nodes, i1, xp)
		i2 = nextDense(nodes, i2, xp)
		i3 = nextDense(nodes, i3, xp)
		i4 = nextDense(nodes, i4, xp)
		i5 = nextDense(nodes, i5, xp)
		i6 = nextDense(nodes, i6, xp)
		i7 = nextDense(nodes, i7, xp)
	}
	return f.addLeaves(g, sum, [group]uint32{i0, i1, i2, i3, i4, i5, i6, i7})
}

// addLeaves adds the leaves the walks of group g reached to sum, in tree
// order, leaving out the padding walks of the last group.
func (f *forest) addLeaves(g int, sum float32, at [group]uint32) float32 {
	n := min(f.ntrees-g*group, group)
	for _, i := range at[:n] {
		sum += f.nodes[i].leaf
	}
	return sum
}

// padded returns x if it has all nf features, else a copy in buf padded
// with NaN (missing).
func (f *forest) padded(x []float32, buf *[]float32) []float32 {
	if len(x) >= f.nf {
		return x
	}
	if cap(*buf) < f.nf {
		*buf = make([]float32, f.nf)
	}
	p := (*buf)[:f.nf]
	copy(p, x)
	for i := len(x); i < f.nf; i++ {
		p[i] = float32(math.NaN())
	}
	return p
}

// shortRow pools the buffers that pad rows shorter than NumFeature.
var shortRow = sync.Pool{New: func() any { return new([]float32) }}

func (f *forest) rowMargin(x []float32) float32 {
	if len(x) >= f.nf {
		return f.margin(f.base, x)
	}
	buf := shortRow.Get().(*[]float32)
	m := f.margin(f.base, f.padded(x, buf))
	shortRow.Put(buf)
	return m
}

// PredictMargin returns the raw margin for one row: the base margin plus
// each tree's leaf value, summed in float32 in tree order, bit for bit what
// XGBoost computes. x holds NumFeature values; a NaN, or a feature past the
// end of a shorter x, is missing. It is safe for concurrent use and does not
// allocate once the predictor is compiled (on the first call). The
// compiled form is rebuilt when the trees slice, base score, objective or
// feature count change, but not when a tree's arrays are edited in place:
// do not edit trees after predicting with them.
func (b *Booster) PredictMargin(x []float32) float32 {
	return b.compiled().rowMargin(x)
}

// Predict returns the prediction for one row: the margin passed through
// the objective's transformation, computed as XGBoost does it (the
// sigmoid 1/(1+exp(-m)) in float32 for the logistic objectives).
func (b *Booster) Predict(x []float32) float32 {
	f := b.compiled()
	return transform(f.objective, f.rowMargin(x))
}

func transform(obj Objective, m float32) float32 {
	switch obj {
	case Logistic, BinaryLogistic:
		return sigmoid(m)
	}
	return m
}

func sigmoid(m float32) float32 {
	return 1 / (float32(math.Exp(-float64(m))) + 1)
}

// batchBlock is how many rows share one pass over the trees: a tree's top
// levels stay in cache while each of the block's rows walks it.
const batchBlock = 64

// PredictBatch predicts every row of d: margins if margin is true, else
// transformed predictions, each equal to what PredictMargin or Predict gives
// for that row. threads goroutines share the work (<= 0 means GOMAXPROCS).
// Columns beyond NumFeature are ignored; features beyond d.Cols are missing.
func (b *Booster) PredictBatch(d *dataset.Dense, margin bool, threads int) []float32 {
	f := b.compiled()
	out := make([]float32, d.Rows)
	if d.Rows == 0 {
		return out
	}
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	blocks := (d.Rows + batchBlock - 1) / batchBlock
	threads = min(threads, blocks)
	work := func(lo, hi int) {
		f.block(d, lo, hi, out)
		if !margin && f.objective != SquaredError {
			for i := lo; i < hi; i++ {
				out[i] = sigmoid(out[i])
			}
		}
	}
	if threads == 1 {
		for lo := 0; lo < d.Rows; lo += batchBlock {
			work(lo, min(lo+batchBlock, d.Rows))
		}
		return out
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1) - 1)
				if k >= blocks {
					return
				}
				lo := k * batchBlock
				work(lo, min(lo+batchBlock, d.Rows))
			}
		}()
	}
	wg.Wait()
	return out
}

// block computes the margins of rows [lo, hi). (Walking a block of rows
// group by group of trees, to keep a group's nodes in L1 cache, measured
// slower than row by row: the whole model of 100 depth-6 trees fits in L2.)
func (f *forest) block(d *dataset.Dense, lo, hi int, out []float32) {
	cols := d.Cols
	var buf []float32
	for i := lo; i < hi; i++ {
		out[i] = f.margin(f.base, f.padded(d.X[i*cols:(i+1)*cols], &buf))
	}
}

// Truncate returns a Booster with the first n trees of b (n is clamped to
// [0, len(b.Trees)]), sharing b's tree data: the model early stopping chose
// is b.Truncate(b.BestIteration + 1).
func (b *Booster) Truncate(n int) *Booster {
	n = min(max(n, 0), len(b.Trees))
	t := &Booster{
		Objective:     b.Objective,
		BaseScore:     b.BaseScore,
		NumFeature:    b.NumFeature,
		FeatureNames:  b.FeatureNames,
		FeatureTypes:  b.FeatureTypes,
		Trees:         b.Trees[:n:n],
		BestIteration: min(b.BestIteration, n-1),
	}
	if b.Attributes != nil {
		t.Attributes = make(map[string]string, len(b.Attributes))
		for k, v := range b.Attributes {
			t.Attributes[k] = v
		}
		if _, ok := t.Attributes["best_iteration"]; ok && n > 0 {
			t.Attributes["best_iteration"] = fmt.Sprint(t.BestIteration)
			t.Attributes["best_ntree_limit"] = fmt.Sprint(t.BestIteration + 1)
		}
	}
	return t
}

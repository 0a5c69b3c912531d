package gbdt

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"lift/dataset"
)

// flatNode is one node of the compiled forest. Siblings are adjacent, so a
// node stores only its left child; the right child is the next node.
type flatNode struct {
	// value is the split threshold of an internal node or the leaf value.
	value float32
	// feature is the split feature; the top bit set means a missing value
	// goes left.
	feature uint32
	// left is the index of the left child in forest.nodes, or 0 for a
	// leaf (node 0 is the first tree's root, never anyone's child).
	left int32
}

const defaultLeftBit = 1 << 31

// forest is the predictor's layout: every reachable node of every tree in
// one contiguous array, each tree in breadth-first order so the top levels
// that every row visits share cache lines.
type forest struct {
	nodes []flatNode
	roots []int32
	// base is the base margin the sum starts from.
	base float32
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
		(len(b.Trees) == 0 || f.first == &b.Trees[0]) {
		return f
	}
	f = b.compile()
	atomic.StorePointer(p, unsafe.Pointer(f))
	return f
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
		nodes:     make([]flatNode, 0, total),
		roots:     make([]int32, len(b.Trees)),
		base:      b.baseMargin(),
		ntrees:    len(b.Trees),
		baseScore: b.BaseScore,
		objective: b.Objective,
	}
	if len(b.Trees) > 0 {
		f.first = &b.Trees[0]
	}
	var queue []int32 // original node ids in breadth-first order
	for ti := range b.Trees {
		t := &b.Trees[ti]
		start := int32(len(f.nodes))
		f.roots[ti] = start
		queue = append(queue[:0], 0)
		for qi := 0; qi < len(queue); qi++ {
			i := queue[qi]
			n := flatNode{value: t.SplitCond[i]}
			if t.Left[i] >= 0 {
				n.feature = uint32(t.SplitIndex[i])
				if t.DefaultLeft[i] {
					n.feature |= defaultLeftBit
				}
				// Children are appended to the queue as a pair, so their
				// flat positions are adjacent.
				n.left = start + int32(len(queue))
				queue = append(queue, t.Left[i], t.Right[i])
			}
			f.nodes = append(f.nodes, n)
		}
	}
	return f
}

// leaf walks one tree from root for row x and returns its leaf value. A
// feature beyond len(x) or a NaN is missing. The comparison is XGBoost's:
// left iff x < threshold in float32.
func (f *forest) leaf(root int32, x []float32) float32 {
	nodes := f.nodes
	i := root
	for {
		n := nodes[i]
		if n.left == 0 {
			return n.value
		}
		feat := n.feature &^ defaultLeftBit
		next := n.left + 1 - int32(n.feature>>31) // the missing-value direction
		if int(feat) < len(x) {
			v := x[feat]
			if v < n.value {
				next = n.left
			} else if v == v {
				next = n.left + 1
			}
		}
		i = next
	}
}

func (f *forest) margin(x []float32) float32 {
	sum := f.base
	for _, r := range f.roots {
		sum += f.leaf(r, x)
	}
	return sum
}

// PredictMargin returns the raw margin for one row: the base margin plus
// each tree's leaf value, summed in float32 in tree order, bit for bit what
// XGBoost computes. x holds NumFeature values; a NaN, or a feature past the
// end of a shorter x, is missing. It is safe for concurrent use and does not
// allocate once the predictor is compiled (on the first call).
func (b *Booster) PredictMargin(x []float32) float32 {
	return b.compiled().margin(x)
}

// Predict returns the prediction for one row: the margin passed through
// the objective's transformation, computed as XGBoost does it (the
// sigmoid 1/(1+exp(-m)) in float32 for the logistic objectives).
func (b *Booster) Predict(x []float32) float32 {
	f := b.compiled()
	return transform(f.objective, f.margin(x))
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

// block computes the margins of rows [lo, hi) tree by tree.
func (f *forest) block(d *dataset.Dense, lo, hi int, out []float32) {
	for i := lo; i < hi; i++ {
		out[i] = f.base
	}
	cols := d.Cols
	for _, r := range f.roots {
		for i := lo; i < hi; i++ {
			out[i] += f.leaf(r, d.X[i*cols:(i+1)*cols])
		}
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

package gbdt

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"lift/dataset"
)

// randomForest returns a model of ntrees complete trees of the given depth
// over nf features, with thresholds and rows drawn from the same normal
// distribution so rows reach every leaf.
func randomForest(rng *rand.Rand, ntrees, depth, nf int) *Booster {
	b := &Booster{Objective: BinaryLogistic, BaseScore: 0.5, NumFeature: nf}
	n := 1<<(depth+1) - 1
	for range ntrees {
		t := Tree{
			Left: make([]int32, n), Right: make([]int32, n), SplitIndex: make([]int32, n),
			SplitCond: make([]float32, n), DefaultLeft: make([]bool, n), SumHessian: make([]float32, n),
		}
		for i := n - 1; i >= 0; i-- {
			if l := 2*i + 1; l < n {
				t.Left[i], t.Right[i] = int32(l), int32(l+1)
				t.SplitIndex[i] = int32(rng.IntN(nf))
				t.SplitCond[i] = float32(rng.NormFloat64())
				t.DefaultLeft[i] = rng.IntN(2) == 0
				t.SumHessian[i] = t.SumHessian[l] + t.SumHessian[l+1]
			} else {
				t.Left[i], t.Right[i] = -1, -1
				t.SplitCond[i] = float32(rng.NormFloat64() * 0.1)
				t.SumHessian[i] = float32(1 + rng.IntN(20))
			}
		}
		b.Trees = append(b.Trees, t)
	}
	return b
}

func randomRows(rng *rand.Rand, rows, cols int, missing float64) *dataset.Dense {
	d := &dataset.Dense{Rows: rows, Cols: cols, X: make([]float32, rows*cols), Label: make([]float32, rows)}
	for i := range d.X {
		d.X[i] = float32(rng.NormFloat64())
		if rng.Float64() < missing {
			d.X[i] = float32(math.NaN())
		}
	}
	return d
}

// naiveMargin walks the original (unflattened) trees: the definition the
// compiled predictor must agree with.
func naiveMargin(b *Booster, x []float32) float32 {
	sum := b.baseMargin()
	for ti := range b.Trees {
		t := &b.Trees[ti]
		i := int32(0)
		for t.Left[i] >= 0 {
			f := t.SplitIndex[i]
			var v float32 = float32(math.NaN())
			if int(f) < len(x) {
				v = x[f]
			}
			switch {
			case v != v:
				if t.DefaultLeft[i] {
					i = t.Left[i]
				} else {
					i = t.Right[i]
				}
			case v < t.SplitCond[i]:
				i = t.Left[i]
			default:
				i = t.Right[i]
			}
		}
		sum += t.SplitCond[i]
	}
	return sum
}

func TestPredictAgreesWithTreeWalk(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	b := randomForest(rng, 20, 5, 10)
	d := randomRows(rng, 1000, 10, 0.1)
	for _, threads := range []int{1, 3} {
		batch := b.PredictBatch(d, true, threads)
		for i := 0; i < d.Rows; i++ {
			want := naiveMargin(b, d.Row(i))
			if got := b.PredictMargin(d.Row(i)); got != want || batch[i] != want {
				t.Fatalf("threads %d row %d: PredictMargin %v, PredictBatch %v, tree walk %v", threads, i, got, batch[i], want)
			}
		}
	}
	// A row shorter than NumFeature: the absent features are missing.
	short := []float32{0.3, -1}
	if got, want := b.PredictMargin(short), naiveMargin(b, short); got != want {
		t.Errorf("short row: %v, want %v", got, want)
	}
}

// randomSparseTree returns a tree of at most the given depth whose nodes
// split with probability split, on thresholds drawn by value.
func randomSparseTree(rng *rand.Rand, depth, nf int, split float64, value func() float32) Tree {
	var t Tree
	var grow func(level int) int32
	grow = func(level int) int32 {
		i := int32(len(t.Left))
		t.Left, t.Right = append(t.Left, -1), append(t.Right, -1)
		t.SplitIndex, t.DefaultLeft = append(t.SplitIndex, 0), append(t.DefaultLeft, rng.IntN(2) == 0)
		t.SplitCond = append(t.SplitCond, value())
		if level < depth && rng.Float64() < split {
			t.SplitIndex[i] = int32(rng.IntN(nf))
			l := grow(level + 1)
			r := grow(level + 1)
			t.Left[i], t.Right[i] = l, r
		}
		return i
	}
	grow(0)
	return t
}

// TestPredictCompleteLayout checks the complete layout against the tree
// walk, bit for bit, on sparse trees of every depth it takes and one it
// does not, groups of different depths, a last group short of eight trees,
// and rows that hit the thresholds exactly, signed zeros, infinities and
// missing values.
func TestPredictCompleteLayout(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	special := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 0.5, 1e-45, -1e-45, math.MaxFloat32, -math.MaxFloat32}
	value := func() float32 {
		if rng.IntN(2) == 0 {
			return special[rng.IntN(len(special))]
		}
		return float32(rng.NormFloat64())
	}
	const nf = 7
	rows := make([][]float32, 2000)
	for i := range rows {
		rows[i] = make([]float32, nf)
		for j := range rows[i] {
			rows[i][j] = value()
			switch rng.IntN(20) {
			case 0:
				rows[i][j] = float32(math.Inf(1 - 2*rng.IntN(2)))
			case 1:
				rows[i][j] = float32(math.NaN())
			}
		}
	}
	for depth := 0; depth <= maxCompleteDepth+1; depth++ {
		b := &Booster{Objective: SquaredError, BaseScore: 0.5, NumFeature: nf}
		for ti := range 21 {
			// Groups of different depths: the second group is shallower.
			// The first tree of a group is complete, so the group has
			// exactly that depth.
			d, split := depth, 0.8
			if ti/group == 1 {
				d = depth / 2
			}
			if ti%group == 0 {
				split = 1
			}
			b.Trees = append(b.Trees, randomSparseTree(rng, d, nf, split, value))
		}
		if got, want := b.compiled().complete != nil, depth <= maxCompleteDepth; got != want {
			t.Fatalf("depth %d: complete layout %v, want %v", depth, got, want)
		}
		d := &dataset.Dense{Rows: len(rows), Cols: nf}
		for _, r := range rows {
			d.X = append(d.X, r...)
		}
		batch := b.PredictBatch(d, true, 1)
		for i, x := range rows {
			want := naiveMargin(b, x)
			if got := b.PredictMargin(x); math.Float32bits(got) != math.Float32bits(want) || math.Float32bits(batch[i]) != math.Float32bits(want) {
				t.Fatalf("depth %d row %v: PredictMargin %v, PredictBatch %v, tree walk %v", depth, x, got, batch[i], want)
			}
		}
	}
}

// TestPredictKeepsNegativeZero: padding trees must not turn a -0 margin
// into +0 (XGBoost's sum stays -0).
func TestPredictKeepsNegativeZero(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	leaf := Tree{Left: []int32{-1}, Right: []int32{-1}, SplitIndex: []int32{0}, SplitCond: []float32{negZero}, DefaultLeft: []bool{false}}
	b := &Booster{Objective: SquaredError, BaseScore: negZero, NumFeature: 1, Trees: []Tree{leaf}}
	if got := b.PredictMargin([]float32{1}); math.Float32bits(got) != math.Float32bits(negZero) {
		t.Errorf("margin %v (bits %#x), want -0", got, math.Float32bits(got))
	}
}

func TestPredictManyFeatures(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	nf := maxCompleteFeatures + 1
	b := randomForest(rng, 9, 3, nf)
	if b.compiled().complete != nil {
		t.Fatalf("%d features: complete layout, want the linked one", nf)
	}
	d := randomRows(rng, 100, nf, 0.1)
	for i := range d.Rows {
		if got, want := b.PredictMargin(d.Row(i)), naiveMargin(b, d.Row(i)); got != want {
			t.Fatalf("row %d: %v, want %v", i, got, want)
		}
	}
}

func TestPredictNoAllocation(t *testing.T) {
	b := randomForest(rand.New(rand.NewPCG(3, 4)), 10, 4, 8)
	x := make([]float32, 8)
	b.PredictMargin(x)
	if n := testing.AllocsPerRun(100, func() { b.PredictMargin(x); b.Predict(x) }); n != 0 {
		t.Errorf("PredictMargin allocates %v times per call", n)
	}
}

// TestPredictNoticesChangedBooster: the compiled layout is rebuilt when the
// trainer appends trees or sets the base score after a first prediction.
func TestPredictNoticesChangedBooster(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	full := randomForest(rng, 6, 3, 4)
	b := &Booster{Objective: full.Objective, BaseScore: 0.5, NumFeature: 4, Trees: full.Trees[:2:6]}
	x := []float32{0.1, 0.2, -0.3, 0.4}
	b.PredictMargin(x)
	b.Trees = append(b.Trees, full.Trees[2:]...)
	b.BaseScore = 0.7
	if got, want := b.PredictMargin(x), naiveMargin(b, x); got != want {
		t.Errorf("after appending trees: %v, want %v", got, want)
	}
	if got, want := b.Truncate(3).PredictMargin(x), naiveMargin(b.Truncate(3), x); got != want {
		t.Errorf("Truncate(3): %v, want %v", got, want)
	}
}

func TestPredictConcurrentFirstUse(t *testing.T) {
	b := randomForest(rand.New(rand.NewPCG(7, 8)), 10, 4, 8)
	x := make([]float32, 8)
	want := naiveMargin(b, x)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := b.PredictMargin(x); got != want {
				t.Errorf("%v, want %v", got, want)
			}
		}()
	}
	wg.Wait()
}

// The benchmark model matches the anchor in BENCHMARKS.md: 100 trees of
// depth 6 on 28 features.
func benchModel() (*Booster, *dataset.Dense) {
	rng := rand.New(rand.NewPCG(42, 42))
	return randomForest(rng, 100, 6, 28), randomRows(rng, 100_000, 28, 0)
}

func BenchmarkPredictMargin(b *testing.B) {
	m, d := benchModel()
	var sink float32
	i := 0
	for b.Loop() {
		sink += m.PredictMargin(d.Row(i))
		i++
		if i == d.Rows {
			i = 0
		}
	}
	_ = sink
}

// BenchmarkPredictMarginMissing: a tenth of the values missing, so most
// rows have one.
func BenchmarkPredictMarginMissing(b *testing.B) {
	m, _ := benchModel()
	d := randomRows(rand.New(rand.NewPCG(43, 43)), 10_000, 28, 0.1)
	var sink float32
	i := 0
	for b.Loop() {
		sink += m.PredictMargin(d.Row(i))
		i = (i + 1) % d.Rows
	}
	_ = sink
}

func BenchmarkPredictBatch(b *testing.B) {
	m, d := benchModel()
	for b.Loop() {
		m.PredictBatch(d, true, 1)
	}
	b.ReportMetric(float64(d.Rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkContributions(b *testing.B) {
	m, d := benchModel()
	i := 0
	for b.Loop() {
		m.Contributions(d.Row(i))
		i = (i + 1) % d.Rows
	}
}

// TestPredictSparseDeepModelKeepsLinkedLayout: a group costs the same
// whatever its trees hold, so a model of depth-8 chains among single
// leaves would make the complete layout hundreds of times larger than the
// model; it must keep the linked layout, and predict the same.
func TestPredictSparseDeepModelKeepsLinkedLayout(t *testing.T) {
	const depth = maxCompleteDepth
	chain := Tree{}
	for i := range depth {
		// Node 2i splits; its left child 2i+1 is a leaf, its right child
		// 2i+2 goes on.
		chain.Left = append(chain.Left, int32(2*i+1), -1)
		chain.Right = append(chain.Right, int32(2*i+2), -1)
		chain.SplitIndex = append(chain.SplitIndex, int32(i%4), 0)
		chain.SplitCond = append(chain.SplitCond, float32(i)/8, float32(i))
		chain.DefaultLeft = append(chain.DefaultLeft, i%2 == 0, false)
	}
	chain.Left = append(chain.Left, -1)
	chain.Right = append(chain.Right, -1)
	chain.SplitIndex = append(chain.SplitIndex, 0)
	chain.SplitCond = append(chain.SplitCond, 9)
	chain.DefaultLeft = append(chain.DefaultLeft, false)
	leaf := Tree{Left: []int32{-1}, Right: []int32{-1}, SplitIndex: []int32{0}, SplitCond: []float32{0.25}, DefaultLeft: []bool{false}}
	b := &Booster{Objective: SquaredError, BaseScore: 0.5, NumFeature: 4}
	for range 100 {
		b.Trees = append(b.Trees, chain)
		for range group - 1 {
			b.Trees = append(b.Trees, leaf)
		}
	}
	if b.compiled().complete != nil {
		t.Fatal("a model of sparse depth-8 trees got the complete layout")
	}
	rng := rand.New(rand.NewPCG(13, 14))
	d := randomRows(rng, 200, 4, 0.1)
	for i := range d.Rows {
		if got, want := b.PredictMargin(d.Row(i)), naiveMargin(b, d.Row(i)); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("row %d: %v, want %v", i, got, want)
		}
	}
}

package gbdt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"

	"lift/dataset"
)

// EvalSet is a data set evaluated after every round, under a name such as
// "train" or "valid".
type EvalSet struct {
	Name string
	Data *dataset.Dense
}

// TrainResult reports how training went.
type TrainResult struct {
	// Rounds is the number of trees trained (fewer than Params.Rounds when
	// early stopping ended training).
	Rounds int
	// BestIteration is the 0-based round with the best value of the
	// early-stopping metric, or the last round without early stopping.
	BestIteration int
	// History holds, per evaluation set name and metric, one value per round.
	History map[string]map[string][]float64
	// Metrics holds, per evaluation set name and metric, the value at
	// BestIteration.
	Metrics map[string]map[string]float64
}

// ErrDiverged is in the chain of Train's error when a tree it grew holds
// a value beyond float32's range, so that no one could use the model: a
// learning rate, or labels, too large for the data. The caller's
// parameters or labels are at fault, not the code; test with errors.Is.
var ErrDiverged = errors.New("training diverged")

// divergedError is Train's error for a tree that failed validation; it
// reads as the round and the node at fault, and is ErrDiverged.
type divergedError struct {
	round int // 1-based
	err   error
}

func (e *divergedError) Error() string {
	return fmt.Sprintf("round %d: %v (is eta, or are the labels, too large?)", e.round, e.err)
}

func (e *divergedError) Unwrap() []error { return []error{e.err, ErrDiverged} }

// Train fits a boosted tree ensemble to train with XGBoost's hist
// algorithm. After every round it evaluates Params' metrics on evals (an
// eval set whose Data is train itself reuses the training predictions);
// with early stopping it watches the last metric on the last eval set and
// stops once it has not improved for Params.EarlyStopping rounds. The
// returned Booster holds every trained tree and BestIteration; progress
// (nil for none) gets a line every 10 rounds. Train returns ctx.Err() when
// ctx is cancelled between rounds. The model depends only on the data,
// the parameters and the seed, not on the number of threads.
func Train(ctx context.Context, p Params, train *dataset.Dense, evals []EvalSet, progress io.Writer) (*Booster, *TrainResult, error) {
	if err := p.Validate(); err != nil {
		return nil, nil, err
	}
	obj := p.objective()
	if err := checkData("training data", train, obj); err != nil {
		return nil, nil, err
	}
	if train.Weight != nil {
		var sum float64
		for _, w := range train.Weight {
			sum += float64(w)
		}
		if !(sum > 0) {
			return nil, nil, errors.New("training data: every weight is 0; at least one row needs a positive weight")
		}
	}
	for _, e := range evals {
		what := fmt.Sprintf("eval set %q", e.Name)
		if e.Data != train {
			if err := checkData(what, e.Data, obj); err != nil {
				return nil, nil, err
			}
		}
		for _, m := range p.metrics() {
			if err := CheckMetricLabels(m, e.Data.Label); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", what, err)
			}
		}
	}
	if p.EarlyStopping > 0 && len(evals) == 0 {
		return nil, nil, errors.New("early stopping needs at least one evaluation set")
	}
	threads := p.Threads
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	base := float32(0.5)
	if !math.IsNaN(p.BaseScore) {
		base = float32(p.BaseScore)
	}
	tm := newTeam(threads)
	defer tm.close()
	c, err := buildCuts(train, p.MaxBin, tm)
	if err != nil {
		return nil, nil, fmt.Errorf("training data: %w", err)
	}
	if newHistLayout(c).maxSlots() <= 256 {
		return trainWith(ctx, p, obj, base, train, evals, progress, tm, newGrower(p, c, quantise[uint8](train, c, tm), tm))
	}
	return trainWith(ctx, p, obj, base, train, evals, progress, tm, newGrower(p, c, quantise[uint16](train, c, tm), tm))
}

// checkData rejects data Train cannot learn from, with a message naming
// the data set and the row.
func checkData(what string, d *dataset.Dense, obj Objective) error {
	switch {
	case d == nil:
		return fmt.Errorf("%s: no data", what)
	case d.Rows <= 0:
		return fmt.Errorf("%s: no rows", what)
	case d.Cols <= 0:
		return fmt.Errorf("%s: no feature columns", what)
	case len(d.X) != d.Rows*d.Cols:
		return fmt.Errorf("%s: %d values for %d rows x %d columns", what, len(d.X), d.Rows, d.Cols)
	case len(d.Label) != d.Rows:
		return fmt.Errorf("%s: %d labels for %d rows", what, len(d.Label), d.Rows)
	case d.Weight != nil && len(d.Weight) != d.Rows:
		return fmt.Errorf("%s: %d weights for %d rows", what, len(d.Weight), d.Rows)
	}
	if err := obj.checkLabels(d.Label, d.Weight); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// evalState is an evaluation set's running margins.
type evalState struct {
	name    string
	d       *dataset.Dense
	isTrain bool
	margin  []float32
	pred    []float32
}

func trainWith[B binIndex](ctx context.Context, p Params, obj Objective, base float32, train *dataset.Dense, evals []EvalSet, progress io.Writer, tm *team, g *grower[B]) (*Booster, *TrainResult, error) {
	n := train.Rows
	baseMargin := obj.baseMargin(base)
	margin := make([]float32, n)
	for i := range margin {
		margin[i] = baseMargin
	}
	grad := make([]gradPair, n)
	g.margin = margin
	metrics := p.metrics()

	states := make([]*evalState, len(evals))
	res := &TrainResult{History: map[string]map[string][]float64{}, Metrics: map[string]map[string]float64{}}
	for i, e := range evals {
		s := &evalState{name: e.Name, d: e.Data, isTrain: e.Data == train}
		if s.isTrain {
			s.margin = margin
		} else {
			s.margin = make([]float32, e.Data.Rows)
			for j := range s.margin {
				s.margin[j] = baseMargin
			}
		}
		s.pred = make([]float32, e.Data.Rows)
		states[i] = s
		if res.History[e.Name] == nil {
			res.History[e.Name] = map[string][]float64{}
		}
	}

	rng := rand.New(rand.NewPCG(p.Seed, 0x6c696674)) // "lift"
	nfeat := max(1, int(p.ColsampleBytree*float64(train.Cols)))
	allFeats := make([]int, train.Cols)
	for f := range allFeats {
		allFeats[f] = f
	}
	var sample []uint32
	var inSample []bool
	if p.Subsample < 1 {
		inSample = make([]bool, n)
		sample = make([]uint32, 0, n) // non-nil: grow treats nil as "every row"
	}

	b := &Booster{
		Objective:  obj,
		BaseScore:  base,
		NumFeature: train.Cols,
	}
	if len(train.Names) == train.Cols {
		b.FeatureNames = append([]string(nil), train.Names...)
	}

	bestScore := math.NaN()
	best, stale := 0, 0
	for round := 0; round < p.Rounds; round++ {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		tm.parallelFor((n+chunkRows-1)/chunkRows, func(t, _ int) {
			obj.gradients(grad, margin, train.Label, train.Weight, t*chunkRows, min((t+1)*chunkRows, n))
		})

		// Sampling draws from one seeded stream in a fixed order, so the
		// model is the same for any number of threads.
		if inSample != nil {
			sample = sample[:0]
			for i := range n {
				inSample[i] = rng.Float64() < p.Subsample
				if inSample[i] {
					sample = append(sample, uint32(i))
				}
			}
		}
		g.feats = allFeats
		if nfeat < train.Cols {
			perm := rng.Perm(train.Cols)[:nfeat]
			g.feats = make([]int, nfeat)
			copy(g.feats, perm)
			slices.Sort(g.feats)
		}
		t := g.grow(grad, sample)
		// A learning rate or labels large enough to take a leaf value
		// past float32's range make a model no one can use: an error
		// here, not a panic when it is first used.
		if err := t.validate(train.Cols); err != nil {
			return nil, nil, &divergedError{round: round + 1, err: err}
		}
		b.Trees = append(b.Trees, t)

		// Training predictions: each leaf adds its value to its rows (the
		// grower has done so for the leaves marked applied).
		leaves := g.leaves
		tm.parallelFor(len(leaves), func(i, _ int) {
			nd := leaves[i]
			if nd.applied {
				return
			}
			v := t.SplitCond[nd.id]
			for _, r := range g.rows[nd.buf][nd.begin:nd.end] {
				margin[r] += v
			}
		})
		if inSample != nil {
			tm.parallelFor((n+chunkRows-1)/chunkRows, func(c, _ int) {
				for r := c * chunkRows; r < min((c+1)*chunkRows, n); r++ {
					if !inSample[r] {
						margin[r] += t.SplitCond[g.leafOfRow(&t, r)]
					}
				}
			})
		}

		for _, s := range states {
			if s.isTrain {
				tm.parallelFor((n+chunkRows-1)/chunkRows, func(c, _ int) {
					lo, hi := c*chunkRows, min((c+1)*chunkRows, n)
					obj.transforms(s.pred[lo:hi], s.margin[lo:hi])
				})
			} else {
				addTree(&t, s.d, s.margin, s.pred, obj, tm)
			}
			// The metrics are independent: compute them side by side.
			vals := make([]float64, len(metrics))
			errs := make([]error, len(metrics))
			tm.parallelFor(len(metrics), func(i, _ int) {
				vals[i], errs[i] = Metric(metrics[i], s.pred, s.d.Label, s.d.Weight)
			})
			for i, name := range metrics {
				if errs[i] != nil {
					return nil, nil, fmt.Errorf("eval set %q: %w", s.name, errs[i])
				}
				res.History[s.name][name] = append(res.History[s.name][name], vals[i])
			}
		}
		res.Rounds = round + 1
		res.BestIteration = round

		if progress != nil && (round%10 == 9 || round == p.Rounds-1) {
			fmt.Fprintf(progress, "[%d]", round)
			for _, s := range states {
				for _, name := range metrics {
					h := res.History[s.name][name]
					fmt.Fprintf(progress, "\t%s-%s:%.5f", s.name, name, h[len(h)-1])
				}
			}
			fmt.Fprintln(progress)
		}

		if p.EarlyStopping > 0 {
			last := states[len(states)-1]
			name := metrics[len(metrics)-1]
			h := res.History[last.name][name]
			score := h[len(h)-1]
			if math.IsNaN(score) {
				// NaN never improves: training would stop at the first
				// round without saying why.
				hint := ""
				if name == "auc" {
					hint = " (AUC needs both classes in it)"
				}
				return nil, nil, fmt.Errorf("early stopping on %s-%s: the metric is undefined for that data%s", last.name, name, hint)
			}
			improved := round == 0 || (maximize(name) && score > bestScore) || (!maximize(name) && score < bestScore)
			if improved {
				bestScore, best, stale = score, round, 0
			} else {
				stale++
			}
			res.BestIteration = best
			if stale >= p.EarlyStopping {
				if progress != nil {
					fmt.Fprintf(progress, "stopping: %s-%s has not improved for %d rounds; best round %d (%.5f)\n", last.name, name, stale, best, bestScore)
				}
				break
			}
		}
	}
	b.BestIteration = res.BestIteration
	if p.EarlyStopping > 0 {
		b.Attributes = map[string]string{
			"best_iteration": strconv.Itoa(res.BestIteration),
			"best_score":     strconv.FormatFloat(bestScore, 'g', -1, 64),
		}
	}
	for name, ms := range res.History {
		res.Metrics[name] = map[string]float64{}
		for m, h := range ms {
			res.Metrics[name][m] = h[res.BestIteration]
		}
	}
	return b, res, nil
}

// addTree adds tree t's leaf values to the margins of d's rows, walking
// the raw values as the predictor does (x < cond goes left; NaN, or a
// feature beyond the row, follows the default direction), and sets pred
// to the objective's transform of the new margins.
func addTree(t *Tree, d *dataset.Dense, margin, pred []float32, obj Objective, tm *team) {
	const chunk = 4096
	w, ok := newWalkTree(t, d.Cols)
	tm.parallelFor((d.Rows+chunk-1)/chunk, func(c, _ int) {
		lo, hi := c*chunk, min((c+1)*chunk, d.Rows)
		r := lo
		if ok {
			for ; r+4 <= hi; r += 4 {
				l0, l1, l2, l3 := w.leaves4(d.X[r*d.Cols:(r+4)*d.Cols], d.Cols)
				margin[r] += t.SplitCond[l0]
				margin[r+1] += t.SplitCond[l1]
				margin[r+2] += t.SplitCond[l2]
				margin[r+3] += t.SplitCond[l3]
			}
		}
		for ; r < hi; r++ {
			margin[r] += t.SplitCond[leafOf(t, d.Row(r))]
		}
		obj.transforms(pred[lo:hi], margin[lo:hi])
	})
}

// walkTree is a tree laid out for walking four rows at once without
// branches: a leaf's children are itself, so a row that reaches a leaf
// stays there for the remaining steps.
type walkTree struct {
	nodes []walkNode
	depth int
}

type walkNode struct {
	feature     int32
	cond        float32
	left, right int32
	defaultLeft int32 // 1 if a missing value goes left
}

// newWalkTree lays t out for leaves4, or reports false when a split
// feature lies beyond the rows' cols (those rows take leafOf).
func newWalkTree(t *Tree, cols int) (walkTree, bool) {
	w := walkTree{nodes: make([]walkNode, len(t.Left))}
	depth := make([]int, len(t.Left))
	for i := range t.Left {
		if p := t.Parent[i]; p >= 0 {
			depth[i] = depth[p] + 1
		}
		w.depth = max(w.depth, depth[i])
		if t.Left[i] < 0 {
			w.nodes[i] = walkNode{left: int32(i), right: int32(i)}
			continue
		}
		if int(t.SplitIndex[i]) >= cols {
			return walkTree{}, false
		}
		dl := int32(0)
		if t.DefaultLeft[i] {
			dl = 1
		}
		w.nodes[i] = walkNode{t.SplitIndex[i], t.SplitCond[i], t.Left[i], t.Right[i], dl}
	}
	return w, true
}

// leaves4 returns the leaves of the four rows x[0:cols], ..., x[3*cols:4*cols].
// The four walks are independent chains of loads, which the CPU overlaps.
func (w *walkTree) leaves4(x []float32, cols int) (int32, int32, int32, int32) {
	x0, x1, x2, x3 := x[:cols], x[cols:2*cols], x[2*cols:3*cols], x[3*cols:4*cols]
	var n0, n1, n2, n3 int32
	for range w.depth {
		n0 = w.step(n0, x0)
		n1 = w.step(n1, x1)
		n2 = w.step(n2, x2)
		n3 = w.step(n3, x3)
	}
	return n0, n1, n2, n3
}

// step moves a row from node n to its child, by arithmetic rather than
// a branch on the comparison.
func (w *walkTree) step(n int32, x []float32) int32 {
	nd := &w.nodes[n]
	v := x[nd.feature]
	var left int32
	if v < nd.cond {
		left = 1
	}
	if v != v {
		left = nd.defaultLeft
	}
	return nd.right + (nd.left-nd.right)&-left
}

func leafOf(t *Tree, x []float32) int32 {
	nid := int32(0)
	for t.Left[nid] >= 0 {
		f := int(t.SplitIndex[nid])
		var left bool
		if f >= len(x) || x[f] != x[f] {
			left = t.DefaultLeft[nid]
		} else {
			left = x[f] < t.SplitCond[nid]
		}
		if left {
			nid = t.Left[nid]
		} else {
			nid = t.Right[nid]
		}
	}
	return nid
}

package gbdt

// growNode is a node of the tree being grown. Its rows are the segment
// [begin, end) of one of the grower's two row buffers (buf), with their
// bins alongside.
type growNode struct {
	id         int32
	depth      int
	begin, end int
	buf        int
	sum        histBin
	rootGain   float32
	hist       []histBin
	split      splitCandidate
	// applied: the partition has already added this leaf's value to its
	// rows' margins, and did not record its rows.
	applied bool
}

func (n *growNode) rows() int { return n.end - n.begin }

// nodeBins returns the bins of nd's rows and the row indices to read them
// by: the quantised matrix and the row ids for the root, the node's own
// contiguous copy (nil indices) below it.
func (g *grower[B]) nodeBins(nd *growNode, lo, hi int) ([]B, []uint32) {
	if nd.id == 0 && g.rootAll {
		return g.m.bins[lo*g.m.stride : hi*g.m.stride], nil
	}
	if nd.id == 0 {
		return g.m.bins, g.rows[nd.buf][lo:hi]
	}
	return g.part[nd.buf][lo*g.m.stride : hi*g.m.stride], nil
}

// nodeGrad returns the gradients of nd's rows lo..hi-1 in node order:
// a slice of the gradients themselves for the root of an unsampled tree,
// else gathered by row id into worker w's buffer. Gathering only the rows
// a histogram reads costs less than moving every row's gradients along
// with it at every level.
func (g *grower[B]) nodeGrad(nd *growNode, lo, hi, w int) []gradPair {
	if nd.id == 0 && g.rootAll {
		return g.grad[lo:hi]
	}
	if cap(g.ghBuf[w]) < hi-lo {
		g.ghBuf[w] = make([]gradPair, hi-lo, max(hi-lo, 2*histChunkRows))
	}
	buf := g.ghBuf[w][:hi-lo]
	rows := g.rows[nd.buf][lo:hi]
	rows = rows[:len(buf)]
	for k, r := range rows {
		buf[k] = g.grad[r]
	}
	return buf
}

// binSplit is a split in bin space, used to route training rows.
type binSplit struct {
	feature     int32
	leftBin     int32
	defaultLeft bool
}

// grower grows one tree at a time, depth-wise, on the quantised data.
type grower[B binIndex] struct {
	sp       splitParams
	maxDepth int
	c        *cuts
	m        *binMatrix[B]
	layout   histLayout
	team     *team
	pool     histPool

	// rows and part are ping-pong buffers: a level's partition reads
	// one and writes the other, so no segment is copied back. part holds
	// each row's bins in node order, so that below the root a histogram
	// reads its rows' bins sequentially instead of gathering them.
	rows    [2][]uint32
	grad    []gradPair   // this tree's gradients, by row id
	rootAll bool         // the root holds every row, in order
	ghBuf   [][]gradPair // per worker: a histogram task's gradients in node order
	ghSlab  []gradPair   // gradients of the nodes built by feature blocks
	part    [2][]B
	goLeft  []uint8 // 1: the row goes left
	feats   []int   // features this tree may split on, ascending
	splits  []binSplit
	leaves  []*growNode
	// margin, when set, receives the values of the leaves at max_depth
	// directly from the last partition (see applyLeaves).
	margin  []float32
	cands   []splitCandidate
	partCnt []int
}

func newGrower[B binIndex](p Params, c *cuts, m *binMatrix[B], tm *team) *grower[B] {
	l := newHistLayout(c)
	if _, ok := any(m.bins).([]uint8); ok {
		l = l.widen()
	}
	return &grower[B]{
		sp:       newSplitParams(p),
		maxDepth: p.MaxDepth,
		c:        c,
		m:        m,
		layout:   l,
		team:     tm,
		pool:     histPool{size: l.total},
		rows:     [2][]uint32{make([]uint32, m.rows), make([]uint32, m.rows)},
		ghBuf:    make([][]gradPair, tm.threads),
		// One spare row per worker past the end takes the bins that the
		// partition discards (one per worker: they write concurrently).
		part:   [2][]B{make([]B, len(m.bins)+m.stride*tm.threads), make([]B, len(m.bins)+m.stride*tm.threads)},
		goLeft: make([]uint8, m.rows),
	}
}

// grow builds one tree from the gradients grad of the rows in sample (nil
// means every row). The leaves, with their row segments, are left in
// g.leaves for the caller's prediction update, except those marked
// applied: with g.margin set, the leaves at max_depth add their values to
// g.margin as their rows are routed to them.
func (g *grower[B]) grow(grad []gradPair, sample []uint32) Tree {
	n := g.m.rows
	g.grad = grad
	rows := g.rows[0]
	g.rootAll = sample == nil
	if sample == nil {
		g.team.parallelFor((n+chunkRows-1)/chunkRows, func(t, _ int) {
			for i := t * chunkRows; i < min((t+1)*chunkRows, n); i++ {
				rows[i] = uint32(i)
			}
		})
	} else {
		n = len(sample)
		copy(rows, sample)
	}
	var t Tree
	g.splits = g.splits[:0]
	g.leaves = g.leaves[:0]
	root := &growNode{id: 0, begin: 0, end: n}
	root.hist = g.pool.get()
	g.buildHists([]*growNode{root})
	// The root's totals are the sum over one feature's slots, as XGBoost
	// computes them for dense data; every feature sums to the same rows.
	for _, s := range root.hist[g.layout.off[0]:g.layout.off[1]] {
		root.sum = root.sum.add(s)
	}
	root.rootGain = float32(g.sp.gain(root.sum))
	w := g.sp.weight(root.sum)
	appendLeaf(&t, -1, g.sp.eta*w, w, root.sum.h)
	if g.maxDepth > 0 {
		g.evalSplits([]*growNode{root})
	}

	level := []*growNode{root}
	for len(level) > 0 {
		var expand, next []*growNode
		for _, nd := range level {
			if nd.depth < g.maxDepth && g.sp.valid(&nd.split) {
				expand = append(expand, nd)
			} else {
				g.pool.put(nd.hist)
				nd.hist = nil
				g.leaves = append(g.leaves, nd)
			}
		}
		if len(expand) == 0 {
			break
		}
		for _, nd := range expand {
			s := &nd.split
			wl, wr := g.sp.weight(s.left), g.sp.weight(s.right)
			l := &growNode{depth: nd.depth + 1, buf: 1 - nd.buf, sum: s.left}
			r := &growNode{depth: nd.depth + 1, buf: 1 - nd.buf, sum: s.right}
			l.id = appendLeaf(&t, nd.id, wl*g.sp.eta, wl*g.sp.eta, s.left.h)
			r.id = appendLeaf(&t, nd.id, wr*g.sp.eta, wr*g.sp.eta, s.right.h)
			splitLeaf(&t, nd.id, l.id, r.id, s, g.sp.weight(nd.sum))
			for len(g.splits) <= int(nd.id) {
				g.splits = append(g.splits, binSplit{})
			}
			g.splits[nd.id] = binSplit{int32(s.feature), int32(s.leftBin), s.defaultLeft}
			l.rootGain = float32(g.sp.gain(s.left))
			r.rootGain = float32(g.sp.gain(s.right))
			next = append(next, l, r)
		}
		if g.margin != nil && expand[0].depth+1 == g.maxDepth {
			g.applyLeaves(expand, next, &t)
		} else {
			g.partition(expand, next)
		}

		// Children at max_depth are leaves and need no histogram. For the
		// others, build the smaller child's histogram and derive its
		// sibling's by subtraction from the parent.
		var build []*growNode
		var eval []*growNode
		for i := range expand {
			l, r := next[2*i], next[2*i+1]
			if l.depth < g.maxDepth {
				small := l
				if r.rows() < l.rows() {
					small = r
				}
				small.hist = g.pool.get()
				build = append(build, small)
				eval = append(eval, l, r)
			}
		}
		g.buildHists(build)
		for i, nd := range expand {
			l, r := next[2*i], next[2*i+1]
			if l.depth < g.maxDepth {
				small, big := l, r
				if r.hist != nil {
					small, big = r, l
				}
				big.hist = g.pool.get()
				subtractHist(big.hist, nd.hist, small.hist)
			}
			g.pool.put(nd.hist)
			nd.hist = nil
		}
		g.evalSplits(eval)
		level = next
	}
	return t
}

// chunkRows is the unit of parallel work over rows.
const chunkRows = 16384

// histChunkRows is the row chunk of a big node's histogram: chunks are
// built into their own histograms in parallel, each row's cache line read
// once, and summed in chunk order. Chunking depends only on the node's
// size, so the sums are the same for any number of threads.
const histChunkRows = 32768

// buildHists builds the histograms of nodes (already allocated) in
// parallel. A small node is split by feature blocks, each feature summed
// in row order by one goroutine; a big node by row chunks.
func (g *grower[B]) buildHists(nodes []*growNode) {
	type task struct {
		nd     *growNode
		lo, hi int // rows, relative to the node
		f0, f1 int
		dst    []histBin
		gh     []gradPair // the node's gradients, gathered once for its blocks
	}
	var tasks []task
	F := g.m.cols
	var chunked []int // first task of each chunked node
	// A node split by feature blocks has its gradients gathered once, into
	// the slab, rather than once per block.
	type gather struct {
		nd     *growNode
		lo, hi int // rows, relative to the node
		dst    []gradPair
	}
	var gathers []gather
	slabUsed := 0
	for _, nd := range nodes {
		n := nd.rows()
		if n >= 2*histChunkRows {
			chunked = append(chunked, len(tasks))
			for lo := 0; lo < n; lo += histChunkRows {
				tasks = append(tasks, task{nd, lo, min(lo+histChunkRows, n), 0, F, g.pool.get(), nil})
			}
			continue
		}
		clear(nd.hist)
		blocks := 1
		if n*F >= 1<<15 {
			blocks = min(F, 2*g.team.threads)
		}
		var gh []gradPair
		if blocks > 1 && (nd.id != 0 || !g.rootAll) {
			if len(g.ghSlab) < g.m.rows {
				g.ghSlab = make([]gradPair, g.m.rows)
			}
			gh = g.ghSlab[slabUsed : slabUsed+n]
			slabUsed += n
			for lo := 0; lo < n; lo += chunkRows {
				hi := min(lo+chunkRows, n)
				gathers = append(gathers, gather{nd, lo, hi, gh[lo:hi]})
			}
		}
		for b := range blocks {
			tasks = append(tasks, task{nd, 0, n, b * F / blocks, (b + 1) * F / blocks, nd.hist, gh})
		}
	}
	g.team.parallelFor(len(gathers), func(i, _ int) {
		t := gathers[i]
		rows := g.rows[t.nd.buf][t.nd.begin+t.lo : t.nd.begin+t.hi]
		dst := t.dst[:len(rows)]
		for k, r := range rows {
			dst[k] = g.grad[r]
		}
	})
	g.team.parallelFor(len(tasks), func(i, w int) {
		t := tasks[i]
		nd := t.nd
		if t.dst != nil && &t.dst[0] != &nd.hist[0] {
			clear(t.dst)
		}
		lo, hi := nd.begin+t.lo, nd.begin+t.hi
		bins, rows := g.nodeBins(nd, lo, hi)
		gh := t.gh
		if gh == nil {
			gh = g.nodeGrad(nd, lo, hi, w)
		}
		if b8, ok := any(bins).([]uint8); ok && g.layout.wide {
			buildHistWide(t.dst, b8, g.m.stride, rows, gh, t.f0, t.f1)
		} else {
			buildHist(t.dst, bins, g.m.stride, rows, gh, g.layout.off, t.f0, t.f1)
		}
	})
	// Sum each chunked node's chunks in order, in parallel over slots.
	for _, first := range chunked {
		nd := tasks[first].nd
		last := first
		for last < len(tasks) && tasks[last].nd == nd {
			last++
		}
		parts := tasks[first:last]
		const span = 2048
		g.team.parallelFor((len(nd.hist)+span-1)/span, func(s, _ int) {
			lo, hi := s*span, min((s+1)*span, len(nd.hist))
			dst := nd.hist[lo:hi]
			copy(dst, parts[0].dst[lo:hi])
			for _, p := range parts[1:] {
				src := p.dst[lo:hi]
				for i := range dst {
					dst[i].g += src[i].g
					dst[i].h += src[i].h
				}
			}
		})
		for _, p := range parts {
			g.pool.put(p.dst)
		}
	}
}

// evalSplits finds every node's best split over the tree's features.
func (g *grower[B]) evalSplits(nodes []*growNode) {
	nf := len(g.feats)
	if cap(g.cands) < len(nodes)*nf {
		g.cands = make([]splitCandidate, len(nodes)*nf)
	}
	cands := g.cands[:len(nodes)*nf]
	g.team.parallelFor(len(nodes)*nf, func(i, _ int) {
		nd, f := nodes[i/nf], g.feats[i%nf]
		h := nd.hist[g.layout.off[f]:g.layout.off[f+1]]
		cv := g.c.vals[g.c.ptr[f]:g.c.ptr[f+1]]
		cands[i] = g.sp.evalFeature(h, len(cv), g.c.missing[f], cv, g.c.minVals[f], f, nd.sum, nd.rootGain)
	})
	for j, nd := range nodes {
		best := splitCandidate{}
		for _, c := range cands[j*nf : (j+1)*nf] {
			if best.better(c.lossChg, c.feature) {
				best = c
			}
		}
		nd.split = best
	}
}

// partition moves each expanded node's rows (and their bins) into its two
// children, stably, from the node's buffer into the other one. Big nodes
// are cut into chunks: a first pass decides each row's side, a second
// scatters at offsets known from the per-chunk counts.
func (g *grower[B]) partition(expand, next []*growNode) {
	// Children at max_depth are leaves: they need their rows but no bins.
	// One level above, only the smaller child's bins are read again (by
	// its histogram; the larger one's is a subtraction, and the sides of
	// its rows come from the columns), so only its rows' bins move.
	withBins := expand[0].depth+1 < g.maxDepth
	allBins := expand[0].depth+2 < g.maxDepth
	type task struct {
		nd     int
		lo, hi int
	}
	var tasks []task
	for i, nd := range expand {
		for lo := nd.begin; lo < nd.end; lo += chunkRows {
			tasks = append(tasks, task{i, lo, min(lo+chunkRows, nd.end)})
		}
	}
	if cap(g.partCnt) < len(tasks) {
		g.partCnt = make([]int, len(tasks))
	}
	cnt := g.partCnt[:len(tasks)]
	g.team.parallelFor(len(tasks), func(i, _ int) {
		t := tasks[i]
		nd := expand[t.nd]
		col, side := g.sideRule(nd)
		rows := g.rows[nd.buf][t.lo:t.hi]
		goLeft := g.goLeft[t.lo:t.hi]
		goLeft = goLeft[:len(rows)]
		c := 0
		for k, r := range rows {
			s := side.of(col[r])
			goLeft[k] = s
			c += int(s)
		}
		cnt[i] = c
	})
	// Offsets: each chunk's lefts follow the earlier chunks' lefts; rights
	// start after all of the node's lefts.
	leftOff := make([]int, len(tasks))
	rightOff := make([]int, len(tasks))
	want := make([]int, len(tasks))
	for i := 0; i < len(tasks); {
		nd := expand[tasks[i].nd]
		j := i
		nLeft := 0
		for ; j < len(tasks) && tasks[j].nd == tasks[i].nd; j++ {
			nLeft += cnt[j]
		}
		l, r := nd.begin, nd.begin+nLeft
		for k := i; k < j; k++ {
			leftOff[k], rightOff[k] = l, r
			l += cnt[k]
			r += (tasks[k].hi - tasks[k].lo) - cnt[k]
		}
		lc, rc := next[2*tasks[i].nd], next[2*tasks[i].nd+1]
		lc.begin, lc.end = nd.begin, nd.begin+nLeft
		rc.begin, rc.end = nd.begin+nLeft, nd.end
		// want is the side whose bins move: both (2), left (1) or right (0).
		w := 2
		if !allBins {
			w = 0
			if lc.rows() <= rc.rows() {
				w = 1
			}
		}
		for k := i; k < j; k++ {
			want[k] = w
		}
		i = j
	}
	g.team.parallelFor(len(tasks), func(i, worker int) {
		t := tasks[i]
		nd := expand[t.nd]
		srcR, dstR := g.rows[nd.buf], g.rows[1-nd.buf]
		l, r := leftOff[i], rightOff[i]
		w := want[i]
		var bins []B
		var rows []uint32
		if withBins {
			bins, rows = g.nodeBins(nd, t.lo, t.hi)
		}
		// Rows move word by word; the destination is chosen by arithmetic,
		// as a branch on a random side would mispredict half the time.
		words := len(asWords(g.m.bins[:g.m.stride]))
		dstW := asWords(g.part[1-nd.buf])
		var srcW []uint64
		if withBins {
			srcW = asWords(bins)
		}
		goLeft := g.goLeft[t.lo:t.hi]
		srcR = srcR[t.lo:t.hi]
		switch {
		case !withBins:
			scatterRows(goLeft, srcR, dstR, l, r)
		case rows == nil && words == 4:
			scatter4(goLeft, srcR, srcW, dstR, dstW, l, r, w, g.m.rows+worker, cnt[i])
		default:
			for k, side8 := range goLeft {
				side := int(side8)
				d := r + (l-r)&-side
				l += side
				r += 1 - side
				dstR[d] = srcR[k]
				if w == 2 || side == w {
					s := k
					if rows != nil {
						s = int(rows[s])
					}
					copy(dstW[d*words:(d+1)*words], srcW[s*words:(s+1)*words])
				}
			}
		}
	})
}

// sideRule routes rows in bin space by a node's split.
type sideRule[B binIndex] struct {
	missing     B
	hasMissing  bool
	defaultLeft bool
	leftBin     int
}

// of returns 1 if a row with bin b goes left, else 0.
func (s sideRule[B]) of(b B) uint8 {
	var left bool
	if s.hasMissing && b == s.missing {
		left = s.defaultLeft
	} else {
		left = int(b) <= s.leftBin
	}
	var side uint8
	if left {
		side = 1
	}
	return side
}

// sideRule returns nd's split feature's column and the rule that routes a
// bin of it. The side comes from the column, gathered by row id: rows
// ascend within a node, so the reads move forward through a column of one
// byte per row.
func (g *grower[B]) sideRule(nd *growNode) ([]B, sideRule[B]) {
	s := g.splits[nd.id]
	f := int(s.feature)
	return g.m.byCol[f*g.m.rows : (f+1)*g.m.rows], sideRule[B]{B(g.c.nbins(f)), g.c.missing[f], s.defaultLeft, int(s.leftBin)}
}

// applyLeaves replaces the last partition, whose children are leaves at
// max_depth: each row of an expanded node adds its leaf's value to its
// margin where partition would have moved it to the leaf's segment for
// the caller to do the same, saving the partition's second pass and the
// caller's.
func (g *grower[B]) applyLeaves(expand, next []*growNode, t *Tree) {
	type task struct {
		nd     int
		lo, hi int
	}
	var tasks []task
	for i, nd := range expand {
		next[2*i].applied, next[2*i+1].applied = true, true
		for lo := nd.begin; lo < nd.end; lo += chunkRows {
			tasks = append(tasks, task{i, lo, min(lo+chunkRows, nd.end)})
		}
	}
	g.team.parallelFor(len(tasks), func(i, _ int) {
		tk := tasks[i]
		nd := expand[tk.nd]
		col, side := g.sideRule(nd)
		v := [2]float32{t.SplitCond[next[2*tk.nd+1].id], t.SplitCond[next[2*tk.nd].id]}
		for _, r := range g.rows[nd.buf][tk.lo:tk.hi] {
			g.margin[r] += v[side.of(col[r])]
		}
	})
}

// scatterRows moves rows and gradients to their sides: row k goes to
// position l (left) or r (right), each advancing, stably.
func scatterRows(goLeft []uint8, srcR, dstR []uint32, l, r int) {
	srcR = srcR[:len(goLeft)]
	for k, side8 := range goLeft {
		side := int(side8)
		d := r + (l-r)&-side
		l += side
		r += 1 - side
		dstR[d] = srcR[k]
	}
}

// scatter4Go is scatterRows that also moves each row's four words of bins
// (srcW, in row order) to dstW. With w < 2 only the bins of side w (1:
// left, 0: right) are needed: the others go to row spare of dstW (past
// the rows, the calling worker's own), so the loop does not branch on the
// side. scatter4 is this loop, in assembly on amd64.
func scatter4Go(goLeft []uint8, srcR []uint32, srcW []uint64, dstR []uint32, dstW []uint64, l, r, w, spare int) {
	srcR = srcR[:len(goLeft)]
	srcW = srcW[:4*len(goLeft)]
	all := 0
	if w == 2 {
		all = -1
	}
	for k, side8 := range goLeft {
		side := int(side8)
		d := r + (l-r)&-side
		l += side
		r += 1 - side
		dstR[d] = srcR[k]
		// keep is -1 when the row's bins are needed.
		keep := all | -(1 ^ (side^w)&1)
		db := spare + (d-spare)&keep
		src := srcW[4*k : 4*k+4]
		dst := dstW[4*db : 4*db+4]
		dst[0], dst[1], dst[2], dst[3] = src[0], src[1], src[2], src[3]
	}
}

// leafOfRow routes training row r through t in bin space; it serves rows
// left out by subsampling, whose leaves the partition does not record.
func (g *grower[B]) leafOfRow(t *Tree, r int) int32 {
	row := g.m.bins[r*g.m.stride : (r+1)*g.m.stride]
	nid := int32(0)
	for t.Left[nid] >= 0 {
		s := g.splits[nid]
		b := row[s.feature]
		var left bool
		if g.c.missing[s.feature] && int(b) == g.c.nbins(int(s.feature)) {
			left = s.defaultLeft
		} else {
			left = int32(b) <= s.leftBin
		}
		if left {
			nid = t.Left[nid]
		} else {
			nid = t.Right[nid]
		}
	}
	return nid
}

// appendLeaf appends a leaf with value leaf, base weight baseWeight and cover
// hess under parent, returning its id.
func appendLeaf(t *Tree, parent int32, leaf, baseWeight float32, hess float64) int32 {
	id := int32(len(t.Left))
	t.Left = append(t.Left, -1)
	t.Right = append(t.Right, -1)
	t.Parent = append(t.Parent, parent)
	t.SplitIndex = append(t.SplitIndex, 0)
	t.SplitCond = append(t.SplitCond, leaf)
	t.DefaultLeft = append(t.DefaultLeft, false)
	t.BaseWeight = append(t.BaseWeight, baseWeight)
	t.LossChange = append(t.LossChange, 0)
	t.SumHessian = append(t.SumHessian, float32(hess))
	return id
}

// splitLeaf turns leaf id into an internal node. As in XGBoost, an internal
// node's base weight is its unscaled weight, while a leaf's is the leaf
// value (eta times the weight).
func splitLeaf(t *Tree, id, left, right int32, s *splitCandidate, weight float32) {
	t.Left[id], t.Right[id] = left, right
	t.SplitIndex[id] = int32(s.feature)
	t.SplitCond[id] = s.cond
	t.DefaultLeft[id] = s.defaultLeft
	t.BaseWeight[id] = weight
	t.LossChange[id] = s.lossChg
}

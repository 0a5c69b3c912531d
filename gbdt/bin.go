package gbdt

import (
	"fmt"
	"math"
	"slices"
	"unsafe"

	"lift/dataset"
)

// cuts are the histogram bin boundaries, built as XGBoost's hist method
// builds them so that split thresholds coincide with XGBoost's. A value x
// of feature f falls in bin b when vals[ptr[f]+b-1] <= x < vals[ptr[f]+b];
// the last cut of each feature lies above its largest value. A split
// "left iff bin <= b" is therefore the float comparison x < vals[ptr[f]+b].
type cuts struct {
	ptr     []int     // feature f's cuts are vals[ptr[f]:ptr[f+1]]
	vals    []float32 // ascending within a feature
	minVals []float32 // below every value of the feature
	missing []bool    // the feature has a missing value in the training data
}

func (c *cuts) nbins(f int) int { return c.ptr[f+1] - c.ptr[f] }

// summaryEntry is one entry of XGBoost's weighted quantile summary
// (WQSummary): the rank range of value and its own weight. XGBoost keeps
// ranks in float32; so do we, to reproduce its cuts.
type summaryEntry struct {
	rmin, rmax, wmin float32
	value            float32
}

// prune reduces a summary to at most maxsize entries, choosing the entries
// nearest to evenly spaced ranks, as XGBoost's WQSummary::SetPrune does.
func prune(src []summaryEntry, maxsize int) []summaryEntry {
	if len(src) <= maxsize {
		return src
	}
	begin := src[0].rmax
	span := src[len(src)-1].rmin - src[0].rmax
	n := maxsize - 1
	out := make([]summaryEntry, 0, maxsize)
	out = append(out, src[0])
	i, last := 1, 0
	for k := 1; k < n; k++ {
		dx2 := 2 * ((float32(k)*span)/float32(n) + begin)
		for i < len(src)-1 && dx2 >= src[i+1].rmax+src[i+1].rmin {
			i++
		}
		if i == len(src)-1 {
			break
		}
		if dx2 < (src[i].rmin+src[i].wmin)+(src[i+1].rmax-src[i+1].wmin) {
			if i != last {
				out = append(out, src[i])
				last = i
			}
		} else if i+1 != last {
			out = append(out, src[i+1])
			last = i + 1
		}
	}
	if last != len(src)-1 {
		out = append(out, src[len(src)-1])
	}
	return out
}

// featureCuts computes one feature's cut values from its sorted
// (value, weight) summary, following XGBoost 1.7's MakeCuts: prune to
// max_bin*8 entries, then to max_bin+1, take entries 1.. as cuts and
// close with a cut above the largest value. columnSize is the number of
// non-missing values.
func featureCuts(sum []summaryEntry, columnSize, maxBin int) (vals []float32, minVal float32) {
	if len(sum) == 0 {
		const mval = 1e-5
		return []float32{mval + (mval + 1e-5)}, mval
	}
	intermediate := min(columnSize, maxBin*8)
	sum = prune(sum, intermediate)
	maxNumBins := min(intermediate, maxBin)
	sum = prune(sum, maxNumBins+1)
	mval := sum[0].value
	minVal = mval - (float32(math.Abs(float64(mval))) + 1e-5)
	required := min(len(sum), maxNumBins)
	for i := 1; i < required; i++ {
		if c := sum[i].value; i == 1 || c > vals[len(vals)-1] {
			vals = append(vals, c)
		}
	}
	top := sum[len(sum)-1].value
	vals = append(vals, top+(float32(math.Abs(float64(top)))+1e-5))
	return vals, minVal
}

// wqSketch is XGBoost's streaming weighted quantile sketch
// (WQuantileSketch) for one feature, reproduced step by step, float32
// ranks included, so that Lift's cuts are XGBoost's cuts. Values arrive in
// row order into a queue of 2*limit entries; a full queue is summarised
// and merged into a hierarchy of pruned summaries (levels).
type wqSketch struct {
	limit   int
	queue   []uint64 // orderedBits(value)<<32 | weight bits, so a plain sort orders by value
	levels  [][]summaryEntry
	scratch []uint64
}

// radixSortHigh sorts keys by their high 32 bits (an LSD radix sort, 8
// bits a pass, skipping bytes every key shares); the low bits, a weight,
// may end in any order. It returns the scratch buffer for reuse.
func radixSortHigh(keys, scratch []uint64) []uint64 {
	if len(keys) < 64 {
		slices.Sort(keys)
		return scratch
	}
	if cap(scratch) < len(keys) {
		scratch = make([]uint64, len(keys))
	}
	src, dst := keys, scratch[:len(keys)]
	for shift := 32; shift < 64; shift += 8 {
		var count [256]int
		for _, k := range src {
			count[byte(k>>shift)]++
		}
		if count[byte(src[0]>>shift)] == len(src) {
			continue
		}
		pos := 0
		for i, c := range count {
			count[i] = pos
			pos += c
		}
		for _, k := range src {
			b := byte(k >> shift)
			dst[count[b]] = k
			count[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
	return scratch
}

// kFactor is XGBoost's ratio of sketch entries to bins.
const kFactor = 8

// init sizes the sketch for maxn values as XGBoost's LimitSizeLevel does.
func (s *wqSketch) init(maxn, maxBin int) {
	nbins := max(min(maxBin, maxn), 1)
	eps := 1.0 / float64(float32(nbins)*kFactor)
	limit := 0
	for nlevel := 1; ; nlevel++ {
		limit = min(maxn, int(math.Ceil(float64(nlevel)/eps))+1)
		if (1<<nlevel)*limit >= maxn {
			break
		}
	}
	s.limit = limit
	s.queue = make([]uint64, 0, 2*limit)
	s.levels = s.levels[:0]
}

func (s *wqSketch) push(x, w float32) {
	if w == 0 {
		return
	}
	n := len(s.queue)
	if n > 0 && fromOrderedBits(uint32(s.queue[n-1]>>32)) == x {
		last := math.Float32frombits(uint32(s.queue[n-1])) + w
		s.queue[n-1] = s.queue[n-1]&^0xffffffff | uint64(math.Float32bits(last))
		return
	}
	if n == 2*s.limit {
		s.pushSummary(s.summarise())
		s.queue = s.queue[:0]
	}
	s.queue = append(s.queue, uint64(orderedBits(x))<<32|uint64(math.Float32bits(w)))
}

// summarise turns the queue into an exact summary of its values.
func (s *wqSketch) summarise() []summaryEntry {
	q := s.queue
	s.scratch = radixSortHigh(q, s.scratch)
	out := make([]summaryEntry, 0, len(q))
	var wsum float32
	for i := 0; i < len(q); {
		hi := q[i] >> 32
		var w float32
		for ; i < len(q) && q[i]>>32 == hi; i++ {
			w += math.Float32frombits(uint32(q[i]))
		}
		out = append(out, summaryEntry{rmin: wsum, rmax: wsum + w, wmin: w, value: fromOrderedBits(uint32(hi))})
		wsum += w
	}
	return out
}

// pushSummary merges a full queue's summary into the levels (PushTemp).
func (s *wqSketch) pushSummary(temp []summaryEntry) {
	for l := 1; ; l++ {
		for len(s.levels) < l+1 {
			s.levels = append(s.levels, nil)
		}
		if len(s.levels[l]) == 0 {
			s.levels[l] = prune(temp, s.limit)
			return
		}
		temp = combine(prune(temp, s.limit), s.levels[l])
		if len(temp) > s.limit {
			s.levels[l] = nil
			continue
		}
		s.levels[l] = temp
		return
	}
}

// summary returns the sketch's final summary (GetSummary).
func (s *wqSketch) summary() []summaryEntry {
	out := s.summarise()
	if len(s.levels) == 0 {
		return prune(out, s.limit)
	}
	acc := prune(out, s.limit)
	for l := 1; l < len(s.levels); l++ {
		if len(s.levels[l]) == 0 {
			continue
		}
		if len(acc) == 0 {
			acc = s.levels[l]
		} else {
			acc = prune(combine(acc, s.levels[l]), s.limit)
		}
	}
	return acc
}

// combine merges two summaries (WQSummary::SetCombine), then repairs rank
// bounds that rounding left inconsistent (FixError).
func combine(a, b []summaryEntry) []summaryEntry {
	if len(a) == 0 {
		return b
	}
	if len(b) == 0 {
		return a
	}
	out := make([]summaryEntry, 0, len(a)+len(b))
	i, j := 0, 0
	var aprev, bprev float32
	for i < len(a) && j < len(b) {
		switch x, y := a[i], b[j]; {
		case x.value == y.value:
			out = append(out, summaryEntry{x.rmin + y.rmin, x.rmax + y.rmax, x.wmin + y.wmin, x.value})
			aprev, bprev = x.rmin+x.wmin, y.rmin+y.wmin
			i++
			j++
		case x.value < y.value:
			out = append(out, summaryEntry{x.rmin + bprev, x.rmax + (y.rmax - y.wmin), x.wmin, x.value})
			aprev = x.rmin + x.wmin
			i++
		default:
			out = append(out, summaryEntry{y.rmin + aprev, y.rmax + (x.rmax - x.wmin), y.wmin, y.value})
			bprev = y.rmin + y.wmin
			j++
		}
	}
	if i < len(a) {
		brmax := b[len(b)-1].rmin + b[len(b)-1].wmin
		for ; i < len(a); i++ {
			out = append(out, summaryEntry{a[i].rmin + bprev, a[i].rmax + brmax, a[i].wmin, a[i].value})
		}
	}
	if j < len(b) {
		armax := a[len(a)-1].rmin + a[len(a)-1].wmin
		for ; j < len(b); j++ {
			out = append(out, summaryEntry{b[j].rmin + aprev, b[j].rmax + armax, b[j].wmin, b[j].value})
		}
	}
	var prevMin, prevMax float32
	for k := range out {
		e := &out[k]
		if e.rmin < prevMin {
			e.rmin = prevMin
		} else {
			prevMin = e.rmin
		}
		if e.rmax < prevMax {
			e.rmax = prevMax
		}
		if next := e.rmin + e.wmin; e.rmax < next {
			e.rmax = next
		}
		prevMax = e.rmax
	}
	return out
}

// fromOrderedBits inverts orderedBits.
func fromOrderedBits(b uint32) float32 {
	if b&(1<<31) != 0 {
		return math.Float32frombits(b &^ (1 << 31))
	}
	return math.Float32frombits(^b)
}

// buildCuts sketches every feature of d. A first pass counts each
// feature's values (a sketch's size depends on it) and rejects ±Inf; then
// each worker streams a block of features through their sketches in row
// order, reading the row-major matrix once per block rather than once per
// feature.
func buildCuts(d *dataset.Dense, maxBin int, tm *team) (*cuts, error) {
	F := d.Cols
	nchunks := (d.Rows + chunkRows - 1) / chunkRows
	counts := make([]int, nchunks*F)
	missingIn := make([]bool, nchunks*F)
	errs := make([]error, nchunks)
	tm.parallelFor(nchunks, func(c, _ int) {
		cnt, miss := counts[c*F:(c+1)*F], missingIn[c*F:(c+1)*F]
		for r := c * chunkRows; r < min((c+1)*chunkRows, d.Rows); r++ {
			for f, x := range d.Row(r) {
				switch {
				case x != x:
					miss[f] = true
				case math.IsInf(float64(x), 0):
					errs[c] = fmt.Errorf("row %d, feature %d: value is %v; features must be finite or missing (NaN)", r+1, f, x)
					return
				default:
					cnt[f]++
				}
			}
		}
	})
	for _, err := range errs {
		if err != nil {
			return nil, err // the first bad row's chunk comes first
		}
	}
	n := make([]int, F)
	missing := make([]bool, F)
	for c := range nchunks {
		for f := range F {
			n[f] += counts[c*F+f]
			missing[f] = missing[f] || missingIn[c*F+f]
		}
	}

	vals := make([][]float32, F)
	minVals := make([]float32, F)
	blocks := min(F, tm.threads)
	tm.parallelFor(blocks, func(b, _ int) {
		f0, f1 := b*F/blocks, (b+1)*F/blocks
		sk := make([]wqSketch, f1-f0)
		for i := range sk {
			sk[i].init(n[f0+i], maxBin)
		}
		for r := range d.Rows {
			w := float32(1)
			if d.Weight != nil {
				w = d.Weight[r]
			}
			for i, x := range d.X[r*F+f0 : r*F+f1] {
				if x == x {
					sk[i].push(x, w)
				}
			}
		}
		for i := range sk {
			vals[f0+i], minVals[f0+i] = featureCuts(sk[i].summary(), n[f0+i], maxBin)
		}
	})
	c := &cuts{ptr: make([]int, F+1), minVals: minVals, missing: missing}
	for f := range F {
		c.ptr[f+1] = c.ptr[f] + len(vals[f])
		c.vals = append(c.vals, vals[f]...)
	}
	return c, nil
}

// binIndex is the storage type of a bin number: uint8 when every feature
// has at most 256 bins counting the missing bin, else uint16.
type binIndex interface{ ~uint8 | ~uint16 }

// binMatrix is the training data quantised to bins, row-major: row r's
// bins are bins[r*cols : (r+1)*cols], so building a histogram reads one
// cache line per row. A missing value has bin nbins(f), one past the
// feature's last real bin, so it gets its own histogram slot.
type binMatrix[B binIndex] struct {
	rows, cols int
	// stride is the row length in bins, cols padded to a whole number of
	// 8-byte words so that the partition can move a row word by word.
	stride int
	bins   []B
	// byCol holds the same bins column-major, feature f's at
	// byCol[f*rows : (f+1)*rows]: deciding a split's side reads one byte
	// of a 1 MB column per row instead of a row's whole cache line.
	byCol []B
}

// asWords views a bin slice whose length is a whole number of words as
// 8-byte words.
func asWords[B binIndex](b []B) []uint64 {
	if len(b) == 0 {
		return nil
	}
	n := len(b) * int(unsafe.Sizeof(b[0])) / 8
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

func binOrMissing[B binIndex](b int, x float32, missing B) B {
	if x != x {
		return missing
	}
	return B(b)
}

// upperBin4 is upperBin for four values at once, on order-preserving
// integer keys (orderedBits) of the cuts and values. Each step is
// arithmetic (a sign mask), not a branch that would mispredict half the
// time, and the four independent searches overlap in the CPU.
func upperBin4(v []uint32, x0, x1, x2, x3 uint32) (int, int, int, int) {
	l0, l1, l2, l3, n := 0, 0, 0, 0, len(v)
	for n > 1 {
		half := n >> 1
		l0 += half &^ int((int64(x0)-int64(v[l0+half-1]))>>63)
		l1 += half &^ int((int64(x1)-int64(v[l1+half-1]))>>63)
		l2 += half &^ int((int64(x2)-int64(v[l2+half-1]))>>63)
		l3 += half &^ int((int64(x3)-int64(v[l3+half-1]))>>63)
		n -= half
	}
	last := len(v) - 1
	if v[l0] <= x0 && l0 < last {
		l0++
	}
	if v[l1] <= x1 && l1 < last {
		l1++
	}
	if v[l2] <= x2 && l2 < last {
		l2++
	}
	if v[l3] <= x3 && l3 < last {
		l3++
	}
	return l0, l1, l2, l3
}

// upperBin returns the index of the first cut above x, clamped to the last
// bin, without data-dependent branches (the comparison becomes a
// conditional move).
func upperBin(v []float32, x float32) int {
	lo, n := 0, len(v)
	for n > 1 {
		half := n >> 1
		if v[lo+half-1] <= x {
			lo += half
		}
		n -= half
	}
	if v[lo] <= x && lo < len(v)-1 {
		lo++
	}
	return lo
}

// quantise maps every value of d to its bin.
func quantise[B binIndex](d *dataset.Dense, c *cuts, tm *team) *binMatrix[B] {
	perWord := 8 / int(unsafe.Sizeof(B(0)))
	stride := (d.Cols + perWord - 1) / perWord * perWord
	m := &binMatrix[B]{rows: d.Rows, cols: d.Cols, stride: stride, bins: make([]B, d.Rows*stride), byCol: make([]B, d.Rows*d.Cols)}
	const chunk = 4096
	keys := make([]uint32, len(c.vals))
	for i, v := range c.vals {
		keys[i] = orderedBits(v)
	}
	tm.parallelFor((d.Rows+chunk-1)/chunk, func(t, _ int) {
		lo, hi := t*chunk, min((t+1)*chunk, d.Rows)
		for f := range d.Cols {
			v := c.vals[c.ptr[f]:c.ptr[f+1]]
			vk := keys[c.ptr[f]:c.ptr[f+1]]
			missing := B(c.nbins(f))
			r := lo
			// Four searches in lockstep: each is a chain of dependent
			// loads, so interleaving them lets the CPU overlap the chains.
			for ; r+4 <= hi; r += 4 {
				x0, x1, x2, x3 := d.X[r*d.Cols+f], d.X[(r+1)*d.Cols+f], d.X[(r+2)*d.Cols+f], d.X[(r+3)*d.Cols+f]
				b0, b1, b2, b3 := upperBin4(vk, orderedBits(x0), orderedBits(x1), orderedBits(x2), orderedBits(x3))
				m.bins[r*stride+f] = binOrMissing(b0, x0, missing)
				m.bins[(r+1)*stride+f] = binOrMissing(b1, x1, missing)
				m.bins[(r+2)*stride+f] = binOrMissing(b2, x2, missing)
				m.bins[(r+3)*stride+f] = binOrMissing(b3, x3, missing)
			}
			for ; r < hi; r++ {
				x := d.X[r*d.Cols+f]
				m.bins[r*stride+f] = binOrMissing(upperBin(v, x), x, missing)
			}
			col := m.byCol[f*d.Rows : (f+1)*d.Rows]
			for r := lo; r < hi; r++ {
				col[r] = m.bins[r*stride+f]
			}
		}
	})
	return m
}

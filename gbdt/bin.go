package gbdt

import (
	"fmt"
	"math"
	"slices"
	"sort"

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

// bin returns the bin of x for feature f (x not NaN): the first cut above
// x, clamped to the last bin as XGBoost's SearchBin does.
func (c *cuts) bin(f int, x float32) int {
	v := c.vals[c.ptr[f]:c.ptr[f+1]]
	b := sort.Search(len(v), func(i int) bool { return v[i] > x })
	if b == len(v) {
		b--
	}
	return b
}

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

// binScratch is one worker's reusable buffers for sketching a feature.
type binScratch struct {
	keys []uint64
	sum  []summaryEntry
}

// sketchFeature builds feature f's exact weighted summary: every distinct
// value with its weight. (XGBoost's streaming sketch is exact up to
// max_bin*16 values per feature; beyond that ours stays exact where
// XGBoost's is an approximation.) It reports ±Inf values as errors.
func sketchFeature(d *dataset.Dense, f int, s *binScratch) ([]summaryEntry, int, bool, error) {
	keys := s.keys[:0]
	missing := false
	for r := range d.Rows {
		x := d.X[r*d.Cols+f]
		if x != x {
			missing = true
			continue
		}
		if math.IsInf(float64(x), 0) {
			return nil, 0, false, fmt.Errorf("row %d, feature %d: value is %v; features must be finite or missing (NaN)", r+1, f, x)
		}
		keys = append(keys, uint64(orderedBits(x))<<32|uint64(r))
	}
	s.keys = keys
	slices.Sort(keys)
	sum := s.sum[:0]
	var wsum float32
	for i := 0; i < len(keys); {
		hi := keys[i] >> 32
		var w float32
		for ; i < len(keys) && keys[i]>>32 == hi; i++ {
			if d.Weight != nil {
				w += d.Weight[uint32(keys[i])]
			} else {
				w++
			}
		}
		sum = append(sum, summaryEntry{rmin: wsum, rmax: wsum + w, wmin: w, value: fromOrderedBits(uint32(hi))})
		wsum += w
	}
	s.sum = sum
	return sum, len(keys), missing, nil
}

// fromOrderedBits inverts orderedBits.
func fromOrderedBits(b uint32) float32 {
	if b&(1<<31) != 0 {
		return math.Float32frombits(b &^ (1 << 31))
	}
	return math.Float32frombits(^b)
}

// buildCuts sketches every feature of d in parallel.
func buildCuts(d *dataset.Dense, maxBin, threads int) (*cuts, error) {
	F := d.Cols
	vals := make([][]float32, F)
	minVals := make([]float32, F)
	missing := make([]bool, F)
	errs := make([]error, F)
	scratch := make([]binScratch, threads)
	parallelFor(F, threads, func(f, w int) {
		sum, n, miss, err := sketchFeature(d, f, &scratch[w])
		if err != nil {
			errs[f] = err
			return
		}
		vals[f], minVals[f] = featureCuts(sum, n, maxBin)
		missing[f] = miss
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
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
// bins are bins[r*cols : (r+1)*cols]. A missing value has bin nbins(f),
// one past the feature's last real bin, so it gets its own histogram slot.
type binMatrix[B binIndex] struct {
	rows, cols int
	bins       []B
}

// quantise maps every value of d to its bin.
func quantise[B binIndex](d *dataset.Dense, c *cuts, threads int) *binMatrix[B] {
	m := &binMatrix[B]{rows: d.Rows, cols: d.Cols, bins: make([]B, d.Rows*d.Cols)}
	const chunk = 4096
	parallelFor((d.Rows+chunk-1)/chunk, threads, func(t, _ int) {
		lo, hi := t*chunk, min((t+1)*chunk, d.Rows)
		for i := lo * d.Cols; i < hi*d.Cols; i++ {
			f := i % d.Cols
			x := d.X[i]
			if x != x {
				m.bins[i] = B(c.nbins(f))
				continue
			}
			v := c.vals[c.ptr[f]:c.ptr[f+1]]
			// The first cut above x, clamped to the last bin.
			lo, hi := 0, len(v)-1
			for lo < hi {
				if mid := int(uint(lo+hi) >> 1); v[mid] > x {
					hi = mid
				} else {
					lo = mid + 1
				}
			}
			m.bins[i] = B(lo)
		}
	})
	return m
}

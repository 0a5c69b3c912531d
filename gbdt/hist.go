package gbdt

import (
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// histBin is one histogram slot: the sums of the gradients and hessians
// of the rows whose value falls in the bin. Sums are float64, as in
// XGBoost, so that histogram subtraction stays accurate.
type histBin struct{ g, h float64 }

func (a histBin) add(b histBin) histBin { return histBin{a.g + b.g, a.h + b.h} }
func (a histBin) sub(b histBin) histBin { return histBin{a.g - b.g, a.h - b.h} }

// histLayout places each feature's bins in one flat histogram: feature f
// owns slots off[f] .. off[f+1]-1, its real bins first and then, when the
// feature has missing values, one slot for them.
type histLayout struct {
	off   []int
	total int
	// wide: every feature owns 256 slots (off[f] = 256*f), so that a
	// uint8 bin indexes its feature's slots directly (see buildHistWide).
	wide bool
}

func newHistLayout(c *cuts) histLayout {
	F := len(c.ptr) - 1
	l := histLayout{off: make([]int, F+1)}
	for f := range F {
		n := c.nbins(f)
		if c.missing[f] {
			n++
		}
		l.off[f+1] = l.off[f] + n
	}
	l.total = l.off[F]
	return l
}

// widen gives every feature 256 slots when that at most doubles the
// histogram and every feature fits.
func (l histLayout) widen() histLayout {
	F := len(l.off) - 1
	if l.maxSlots() > 256 || 256*F > 2*l.total {
		return l
	}
	w := histLayout{off: make([]int, F+1), total: 256 * F, wide: true}
	for f := range w.off {
		w.off[f] = 256 * f
	}
	return w
}

// maxSlots is the largest number of slots any feature has; it decides
// whether bin numbers fit in a uint8.
func (l histLayout) maxSlots() int {
	m := 0
	for f := 0; f+1 < len(l.off); f++ {
		m = max(m, l.off[f+1]-l.off[f])
	}
	return m
}

// buildHist adds the gradients gh of a node's rows into hist for features
// [f0, f1). The rows' bins are either bins[k*cols:] for the k-th row
// (rows == nil: the node's own contiguous copy, read sequentially) or
// bins[rows[k]*cols:] (the quantised matrix, for the root). Each (node,
// feature) histogram is summed in row order by one goroutine, or in fixed
// row chunks, so the sums do not depend on the number of threads.
func buildHist[B binIndex](hist []histBin, bins []B, cols int, rows []uint32, gh []gradPair, off []int, f0, f1 int) {
	offs := off[f0:f1]
	for k := range gh {
		r := k
		if rows != nil {
			r = int(rows[k])
		}
		g, h := float64(gh[k].g), float64(gh[k].h)
		row := bins[r*cols+f0 : r*cols+f1]
		row = row[:len(offs)]
		for j, b := range row {
			s := &hist[offs[j]+int(b)]
			s.g += g
			s.h += h
		}
	}
}

// buildHistWide is buildHist for uint8 bins and a wide layout: feature j's
// slot for bin b is hist[j][b], an address computed from j and b alone,
// with no offset to load and no bounds to check. That makes an update
// about a fifth cheaper than through the offsets.
func buildHistWide(hist []histBin, bins []uint8, cols int, rows []uint32, gh []gradPair, f0, f1 int) {
	// A wide histogram is a whole number of 256-slot arrays; viewing it
	// as such lets a byte index them without a bounds check.
	wide := unsafe.Slice((*[256]histBin)(unsafe.Pointer(unsafe.SliceData(hist))), len(hist)/256)
	wide = wide[f0:f1]
	k := 0
	if rows == nil {
		k = wideContiguous(hist, wide, bins, cols, gh, f0, f1)
	}
	for ; k < len(gh); k++ {
		r := k
		if rows != nil {
			r = int(rows[k])
		}
		g, h := float64(gh[k].g), float64(gh[k].h)
		row := bins[r*cols+f0 : r*cols+f1]
		row = row[:len(wide)]
		for j, b := range row {
			s := &wide[j][b]
			s.g += g
			s.h += h
		}
	}
}

// subtractHist sets dst = parent - child, deriving a sibling's histogram
// without touching its rows.
func subtractHist(dst, parent, child []histBin) {
	child = child[:len(dst)]
	parent = parent[:len(dst)]
	for i := range dst {
		dst[i] = histBin{parent[i].g - child[i].g, parent[i].h - child[i].h}
	}
}

// histPool recycles histograms between nodes and trees so that growing a
// tree allocates nothing once the pool is warm.
type histPool struct {
	size int
	free [][]histBin
}

func (p *histPool) get() []histBin {
	if n := len(p.free); n > 0 {
		h := p.free[n-1]
		p.free = p.free[:n-1]
		return h
	}
	return make([]histBin, p.size)
}

func (p *histPool) put(h []histBin) {
	if h != nil {
		p.free = append(p.free, h)
	}
}

// team is a fixed set of worker goroutines for one training run, so that
// the many short parallel steps of growing a tree reuse goroutines instead
// of starting new ones.
type team struct {
	threads int
	jobs    chan *job
	// cur is the newest job, for workers that look for work before they
	// sleep: waking a sleeping goroutine takes tens of microseconds, and
	// growing one tree takes hundreds of short parallel steps.
	cur atomic.Pointer[job]
}

// job is one parallelFor call: n tasks handed out by an atomic counter.
type job struct {
	n       int
	next    atomic.Int64
	pending sync.WaitGroup
	fn      func(i, worker int)
}

func (j *job) run(w int) {
	for {
		i := int(j.next.Add(1) - 1)
		if i >= j.n {
			return
		}
		j.fn(i, w)
		j.pending.Done()
	}
}

// newTeam starts threads-1 workers; the caller of parallelFor is the
// last. Stop them with close.
func newTeam(threads int) *team {
	t := &team{threads: max(threads, 1), jobs: make(chan *job, max(threads, 1))}
	for w := 1; w < t.threads; w++ {
		go func() {
			for {
				if j := t.spinForJob(); j != nil {
					j.run(w)
					continue
				}
				j, ok := <-t.jobs
				if !ok {
					return
				}
				j.run(w) // may have been run already: then it finds no tasks left
			}
		}()
	}
	return t
}

// spinWait bounds how long an idle worker looks for a new job before it
// sleeps on the channel.
const spinWait = 200 * time.Microsecond

// spinForJob returns the newest job if it has tasks left or gets some
// within spinWait, nil otherwise.
func (t *team) spinForJob() *job {
	var deadline time.Time
	for i := 0; ; i++ {
		if j := t.cur.Load(); j != nil && j.next.Load() < int64(j.n) {
			return j
		}
		if i%64 == 0 {
			now := time.Now()
			if deadline.IsZero() {
				deadline = now.Add(spinWait)
			} else if now.After(deadline) {
				return nil
			}
		}
	}
}

func (t *team) close() { close(t.jobs) }

// parallelFor calls fn(i, worker) for i in [0, n); worker in
// [0, threads) lets fn use per-worker scratch. Tasks are handed out
// dynamically, so fn must not depend on which worker runs which task for
// anything but scratch space. The caller works too and waits for the
// tasks, not for the workers: on a busy machine a worker that wakes late
// finds nothing left to do, and nobody waited for it.
func (t *team) parallelFor(n int, fn func(i, worker int)) {
	if t.threads <= 1 || n <= 1 {
		for i := range n {
			fn(i, 0)
		}
		return
	}
	j := &job{n: n, fn: fn}
	j.pending.Add(n)
	t.cur.Store(j)
	for range min(t.threads, n) - 1 {
		select {
		case t.jobs <- j:
		default: // every worker is still busy with an earlier job
		}
	}
	j.run(0)
	j.pending.Wait()
}

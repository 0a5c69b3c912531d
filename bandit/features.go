package bandit

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// featurizer turns a context and an action into the regression oracle's
// input vector φ.
//
// Base features are registered by name in order of first appearance while
// learning (dense vector entry i is "#i"; an action feature k is "@k"; the
// interaction of context feature n with action feature k is "n*@k", as VW's
// -q between the shared and the action namespace). Each base feature is
// divided by a power-of-two scale that tracks its largest absolute value,
// so features on 0..15 and 0..100 are learnt alike; the scale only grows,
// and when it does the models are re-expressed in the new coordinates
// exactly (a power of two changes no bits).
//
// φ starts with a constant 1. With Quadratic, base feature j contributes
// the block (z_j, z_0·z_j, …, z_j·z_j), so φ only ever grows at its end as
// features appear.
type featurizer struct {
	Quadratic bool           `json:"quadratic"`
	Names     []string       `json:"names"`
	Scales    []float64      `json:"scales"` // 0 = never seen non-zero
	index     map[string]int // name -> base index
	vecIdx    []int          // context vector position -> base index (-1: over the cap)
	// maxDim, when set, is the longest φ may grow: a feature that would
	// take it further is not registered, and so never learnt (see
	// Linear.LimitDim).
	maxDim int
}

func (f *featurizer) rebuild() {
	f.index = make(map[string]int, len(f.Names))
	f.vecIdx = f.vecIdx[:0]
	for i, n := range f.Names {
		f.index[n] = i
	}
	for i := 0; ; i++ {
		j, ok := f.index["#"+strconv.Itoa(i)]
		if !ok {
			break
		}
		f.vecIdx = append(f.vecIdx, j)
	}
}

// dim returns the length of φ for m base features.
func (f *featurizer) dim(m int) int {
	if f.Quadratic {
		return 1 + m*(m+3)/2
	}
	return 1 + m
}

// budget is how long φ may grow with name registered: the whole of
// maxDim for an action feature ("@k"), three quarters of it for context
// features and interactions. Contexts are many and client-named, and one
// that filled the bound alone would leave no room for the few action
// features that tell variants apart in a shared model.
func (f *featurizer) budget(name string) int {
	if strings.HasPrefix(name, "@") {
		return f.maxDim
	}
	return f.maxDim * 3 / 4
}

// lookup returns the base index of name, registering it when learning.
func (f *featurizer) lookup(name string, register bool) int {
	if j, ok := f.index[name]; ok {
		return j
	}
	if !register || (f.maxDim > 0 && f.dim(len(f.Names)+1) > f.budget(name)) {
		return -1
	}
	if f.index == nil {
		f.index = map[string]int{}
	}
	j := len(f.Names)
	f.Names = append(f.Names, name)
	f.Scales = append(f.Scales, 0)
	f.index[name] = j
	return j
}

func (f *featurizer) vectorIndex(i int, register bool) int {
	if i < len(f.vecIdx) {
		return f.vecIdx[i]
	}
	if !register {
		return -1
	}
	for len(f.vecIdx) <= i {
		f.vecIdx = append(f.vecIdx, f.lookup("#"+strconv.Itoa(len(f.vecIdx)), true))
	}
	return f.vecIdx[i]
}

// base writes the raw base feature values of (ctx, action) into z (grown
// as needed, zeroed) and returns it. With register, unseen names are
// added; otherwise they are ignored, as their weights are still zero.
func (f *featurizer) base(z []float64, ctx Context, a *Action, register bool) []float64 {
	z = z[:0]
	// The dense vector, the common case, is written straight through.
	if len(ctx.Vector) > 0 {
		if register {
			f.vectorIndex(len(ctx.Vector)-1, true)
		}
		for i, v := range ctx.Vector {
			if v == 0 {
				continue
			}
			var j int
			if i < len(f.vecIdx) {
				if j = f.vecIdx[i]; j < 0 {
					continue // a position over the cap
				}
			} else if j = f.lookup("#"+strconv.Itoa(i), false); j < 0 {
				continue // a position never learnt from
			}
			for len(z) <= j {
				z = append(z, 0)
			}
			z[j] += v
		}
	}
	put := func(j int, v float64) {
		if j < 0 || v == 0 {
			return
		}
		for len(z) <= j {
			z = append(z, 0)
		}
		z[j] += v
	}
	// Names are registered in sorted order so that the same data always
	// gives the same layout, whatever Go's map order.
	ctxKeys := sortedKeys(ctx.Features, register)
	for _, k := range ctxKeys {
		put(f.lookup(k, register), ctx.Features[k])
	}
	if a != nil && len(a.Features) > 0 {
		for _, k := range sortedKeys(a.Features, register) {
			v := a.Features[k]
			ak := "@" + k
			put(f.lookup(ak, register), v)
			for i, cv := range ctx.Vector {
				if cv != 0 {
					put(f.lookup("#"+strconv.Itoa(i)+"*"+ak, register), cv*v)
				}
			}
			for _, n := range ctxKeys {
				if cv := ctx.Features[n]; cv != 0 {
					put(f.lookup(n+"*"+ak, register), cv*v)
				}
			}
		}
	}
	for len(z) < len(f.Names) && register {
		z = append(z, 0)
	}
	return z
}

// observe grows the scales to cover the raw base values z and returns the
// per-coordinate factors of φ to re-express the models with, or nil when
// no scale changed.
func (f *featurizer) observe(z []float64) []float64 {
	var changed []int
	var ratio []float64
	for j, v := range z {
		a := math.Abs(v)
		s := f.Scales[j]
		if a <= s || a == 0 {
			continue
		}
		ns := pow2AtLeast(a)
		if s != 0 {
			if changed == nil {
				ratio = make([]float64, len(f.Scales))
				for i := range ratio {
					ratio[i] = 1
				}
			}
			changed = append(changed, j)
			ratio[j] = s / ns
		}
		f.Scales[j] = ns
	}
	if changed == nil {
		return nil
	}
	m := len(f.Scales)
	c := make([]float64, f.dim(m))
	c[0] = 1
	for j := 0; j < m; j++ {
		off := f.offset(j)
		c[off] = ratio[j]
		if f.Quadratic {
			for i := 0; i <= j; i++ {
				c[off+1+i] = ratio[i] * ratio[j]
			}
		}
	}
	return c
}

func (f *featurizer) offset(j int) int {
	if f.Quadratic {
		return 1 + j*(j+3)/2
	}
	return 1 + j
}

// expand writes φ for the raw base values z into phi and returns it.
func (f *featurizer) expand(phi, z []float64) []float64 {
	m := len(z)
	d := f.dim(m)
	if cap(phi) < d {
		phi = make([]float64, d)
	}
	phi = phi[:d]
	phi[0] = 1
	if !f.Quadratic {
		for j, v := range z {
			if s := f.Scales[j]; s != 0 && v != 0 {
				phi[1+j] = v / s
			} else {
				phi[1+j] = 0
			}
		}
		return phi
	}
	// First the scaled base values at their own positions, then their
	// products, which sit at other positions of the same blocks.
	for j, v := range z {
		off := 1 + j*(j+3)/2
		if s := f.Scales[j]; s != 0 && v != 0 {
			phi[off] = v / s
		} else {
			phi[off] = 0
		}
	}
	for j := range z {
		off := 1 + j*(j+3)/2
		zj := phi[off]
		blk := phi[off+1 : off+2+j]
		if zj == 0 {
			clear(blk)
			continue
		}
		for i := range blk {
			blk[i] = phi[1+i*(i+3)/2] * zj
		}
	}
	return phi
}

// pow2AtLeast returns the smallest power of two >= a (a > 0).
func pow2AtLeast(a float64) float64 {
	frac, exp := math.Frexp(a) // a = frac·2^exp, frac in [0.5, 1)
	if frac == 0.5 {
		return math.Ldexp(1, exp-1)
	}
	return math.Ldexp(1, exp)
}

// sortedKeys returns m's keys, sorted when order matters (while learning).
func sortedKeys(m map[string]float64, sorted bool) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	if sorted {
		slices.Sort(keys)
	}
	return keys
}

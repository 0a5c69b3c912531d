package bandit

import (
	"errors"
	"fmt"
)

// Merge adds the sufficient statistics of other (X'WX, X'Wy and counts of
// every action's model) into p and re-solves p's models exactly.
//
// This is how replicas share learning through a database: each replica
// learns into a fresh policy with p's configuration (its delta), and
// periodically the stored policy merges the delta; replicas then restore
// the merged snapshot and start a new delta. Sums commute, so deltas may
// arrive in any order. Features are aligned by name, and scales by the
// larger of the two, so the replicas need not have seen the same features.
// The ridge prior is applied once, in p's coordinates.
func (p *Linear) Merge(other *Linear) error {
	if p == other {
		return errors.New("merge: a policy cannot merge itself")
	}
	if p.cfg.Quadratic != other.cfg.Quadratic || p.cfg.Ridge != other.cfg.Ridge {
		return fmt.Errorf("merge: feature maps differ (quadratic %v vs %v, ridge %v vs %v)",
			p.cfg.Quadratic, other.cfg.Quadratic, p.cfg.Ridge, other.cfg.Ridge)
	}
	other.mu.RLock()
	defer other.mu.RUnlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	st, ot := &p.st, &other.st

	// Register other's features in p and grow p's scales to cover them.
	base := make([]int, len(ot.Feat.Names))
	z := make([]float64, 0, len(st.Feat.Names)+len(base))
	if st.Feat.maxDim > 0 { // would every new name be registered? (nothing changes if not)
		m := len(st.Feat.Names)
		for _, name := range ot.Feat.Names {
			if st.Feat.lookup(name, false) >= 0 {
				continue
			}
			if st.Feat.dim(m+1) > st.Feat.budget(name) {
				return fmt.Errorf("merge: feature %q would take the model past its bound of %d dimensions", name, st.Feat.maxDim)
			}
			m++
		}
	}
	for j, name := range ot.Feat.Names {
		base[j] = st.Feat.lookup(name, true)
	}
	z = z[:len(st.Feat.Names)]
	for j, s := range ot.Feat.Scales {
		z[base[j]] = s
	}
	if c := st.Feat.observe(z); c != nil {
		for _, m := range st.Models {
			m.rescale(c)
		}
		if st.Shared != nil {
			st.Shared.rescale(c)
		}
	}

	// Map each coordinate of other's φ to p's, with the factor that
	// converts other's scaling to p's.
	f := func(j int) float64 {
		if s := st.Feat.Scales[base[j]]; s != 0 {
			return ot.Feat.Scales[j] / s
		}
		return 0 // never non-zero in other either
	}
	dimP := st.Feat.dim(len(st.Feat.Names))
	idx := make([]int, ot.Feat.dim(len(base)))
	fac := make([]float64, len(idx))
	idx[0], fac[0] = 0, 1
	for j := range base {
		oo, po := ot.Feat.offset(j), st.Feat.offset(base[j])
		idx[oo], fac[oo] = po, f(j)
		if st.Feat.Quadratic {
			for i := 0; i <= j; i++ {
				a, b := base[i], base[j]
				if a > b {
					a, b = b, a
				}
				idx[oo+1+i], fac[oo+1+i] = st.Feat.offset(b)+1+a, f(i)*f(j)
			}
		}
	}

	add := func(dst **ridge, src *ridge) error {
		if *dst == nil {
			*dst = newRidge(dimP, p.cfg.Ridge)
		}
		t := *dst
		t.grow(dimP)
		d, sd := t.D, src.D
		for k := 0; k < sd; k++ {
			ik := idx[k]
			t.XtY[ik] += fac[k] * src.XtY[k]
			for l := 0; l < sd; l++ {
				if v := src.XtX[k*sd+l]; v != 0 {
					t.XtX[ik*d+idx[l]] += fac[k] * fac[l] * v
				}
			}
		}
		t.N += src.N
		t.SumW += src.SumW
		return t.refresh()
	}
	for id, m := range ot.Models {
		dst := st.Models[id]
		if err := add(&dst, m); err != nil {
			return fmt.Errorf("merge: action %q: %w", id, err)
		}
		st.Models[id] = dst
	}
	if ot.Shared != nil {
		if err := add(&st.Shared, ot.Shared); err != nil {
			return fmt.Errorf("merge: shared model: %w", err)
		}
	}
	st.T += ot.T
	// Dense vector positions may have been registered by name above.
	st.Feat.rebuild()
	return nil
}

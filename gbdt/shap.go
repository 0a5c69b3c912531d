package gbdt

// Contributions returns the TreeSHAP values of row x: one per feature, then
// the bias (the base margin plus each tree's expected value), summing to
// PredictMargin(x) up to float rounding. It is the path-dependent,
// polynomial-time algorithm of Lundberg et al. (2020), using each node's
// SumHessian as its cover, which is what XGBoost's pred_contribs computes.
// A tree whose statistics were not kept (SumHessian empty) splits its cover
// evenly between children.
func (b *Booster) Contributions(x []float32) []float32 {
	phi := make([]float64, b.NumFeature+1)
	phi[b.NumFeature] = float64(b.baseMargin())
	s := &shapState{x: x, phi: phi}
	for i := range b.Trees {
		t := &b.Trees[i]
		s.t = t
		s.means = nodeMeans(t, s.means)
		phi[b.NumFeature] += s.means[0]
		s.path = s.path[:0]
		s.recurse(0, 0, 1, 1, -1)
	}
	out := make([]float32, len(phi))
	for i, v := range phi {
		out[i] = float32(v)
	}
	return out
}

// pathElem is one feature on the path from the root: the fraction of the
// cover ("zero" paths, the feature unknown) and of the row ("one" paths)
// that flows through it, and the permutation weight of this path length.
type pathElem struct {
	feature   int32
	zero, one float64
	weight    float64
}

type shapState struct {
	t     *Tree
	x     []float32
	phi   []float64
	means []float64
	// path holds the current path in segments: each recursion level
	// appends a copy of its parent's path, so unwinding never disturbs
	// the caller's copy.
	path []pathElem
}

// coverFraction is the share of node's cover that flows to child.
func coverFraction(t *Tree, node, child int32) float64 {
	if len(t.SumHessian) == 0 || t.SumHessian[node] <= 0 {
		return 0.5
	}
	return float64(t.SumHessian[child]) / float64(t.SumHessian[node])
}

// nodeMeans sets m[i] to the cover-weighted mean leaf value under node i.
func nodeMeans(t *Tree, m []float64) []float64 {
	m = append(m[:0], make([]float64, len(t.Left))...)
	var fill func(i int32) float64
	fill = func(i int32) float64 {
		if t.Left[i] < 0 {
			m[i] = float64(t.SplitCond[i])
			return m[i]
		}
		l, r := t.Left[i], t.Right[i]
		m[i] = coverFraction(t, i, l)*fill(l) + coverFraction(t, i, r)*fill(r)
		return m[i]
	}
	fill(0)
	return m
}

// missing reports whether feature f of the row is missing.
func (s *shapState) value(f int32) (float32, bool) {
	if int(f) >= len(s.x) {
		return 0, false
	}
	v := s.x[f]
	return v, v == v
}

// recurse visits node with the path so far in s.path[start:], extending it
// by feature with fractions zero and one.
func (s *shapState) recurse(node int32, start int, zero, one float64, feature int32) {
	t := s.t
	// Copy the parent's path to a new segment and extend it.
	parent := s.path[start:]
	base := len(s.path)
	s.path = append(s.path, parent...)
	s.extend(base, zero, one, feature)
	m := s.path[base:]
	if t.Left[node] < 0 {
		leaf := float64(t.SplitCond[node])
		for i := 1; i < len(m); i++ {
			w := unwoundSum(m, i)
			s.phi[m[i].feature] += w * (m[i].one - m[i].zero) * leaf
		}
		s.path = s.path[:base]
		return
	}
	f := t.SplitIndex[node]
	hot, cold := t.Right[node], t.Left[node]
	if v, ok := s.value(f); !ok {
		if t.DefaultLeft[node] {
			hot, cold = cold, hot
		}
	} else if v < t.SplitCond[node] {
		hot, cold = cold, hot
	}
	iz, io := 1.0, 1.0
	for k := 1; k < len(m); k++ {
		if m[k].feature == f {
			iz, io = m[k].zero, m[k].one
			s.unwind(base, k)
			break
		}
	}
	s.recurse(hot, base, iz*coverFraction(t, node, hot), io, f)
	s.recurse(cold, base, iz*coverFraction(t, node, cold), 0, f)
	s.path = s.path[:base]
}

// extend appends feature to the path in s.path[base:], updating the
// permutation weights of every shorter subset.
func (s *shapState) extend(base int, zero, one float64, feature int32) {
	l := len(s.path) - base
	w := 0.0
	if l == 0 {
		w = 1
	}
	s.path = append(s.path, pathElem{feature: feature, zero: zero, one: one, weight: w})
	m := s.path[base:]
	for i := l - 1; i >= 0; i-- {
		m[i+1].weight += one * m[i].weight * float64(i+1) / float64(l+1)
		m[i].weight = zero * m[i].weight * float64(l-i) / float64(l+1)
	}
}

// unwind removes element k from the path in s.path[base:], undoing its
// extend.
func (s *shapState) unwind(base, k int) {
	m := s.path[base:]
	l := len(m) - 1
	one, zero := m[k].one, m[k].zero
	n := m[l].weight
	for j := l - 1; j >= 0; j-- {
		if one != 0 {
			t := m[j].weight
			m[j].weight = n * float64(l+1) / (float64(j+1) * one)
			n = t - m[j].weight*zero*float64(l-j)/float64(l+1)
		} else if zero != 0 {
			m[j].weight = m[j].weight * float64(l+1) / (zero * float64(l-j))
		}
	}
	for j := k; j < l; j++ {
		m[j].feature, m[j].zero, m[j].one = m[j+1].feature, m[j+1].zero, m[j+1].one
	}
	s.path = s.path[:len(s.path)-1]
}

// unwoundSum is the total weight of the path with element k removed,
// computed without modifying the path.
func unwoundSum(m []pathElem, k int) float64 {
	l := len(m) - 1
	one, zero := m[k].one, m[k].zero
	n := m[l].weight
	total := 0.0
	if one != 0 {
		for j := l - 1; j >= 0; j-- {
			t := n / (float64(j+1) * one)
			total += t
			n = m[j].weight - t*zero*float64(l-j)
		}
	} else if zero != 0 {
		for j := l - 1; j >= 0; j-- {
			total += m[j].weight / (zero * float64(l-j))
		}
	}
	return total * float64(l+1)
}

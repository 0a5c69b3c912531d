package bandit

import (
	"errors"
	"fmt"
	"math"
)

// ridge is an exact weighted ridge regression learnt online.
//
// It keeps the additive sufficient statistics X'WX and X'Wy (which replicas
// can sum through a database) and, for speed, the inverse of X'WX + λI and
// the solution θ, updated with the Sherman–Morrison identity in O(d²) per
// example. Prediction is O(d); the prediction's variance is O(d²).
type ridge struct {
	D      int       `json:"d"`
	Lambda float64   `json:"lambda"`
	N      int64     `json:"n"`     // examples learnt
	SumW   float64   `json:"sum_w"` // total importance weight
	XtX    []float64 `json:"xtx"`   // D×D row-major, X'WX
	XtY    []float64 `json:"xty"`   // X'Wy
	AInv   []float64 `json:"ainv"`  // (X'WX + λI)⁻¹
	Theta  []float64 `json:"theta"` // AInv·X'Wy
	u      []float64 // scratch for Sherman–Morrison, not state
}

func newRidge(d int, lambda float64) *ridge {
	r := &ridge{Lambda: lambda}
	r.grow(d)
	return r
}

// grow extends the model to d dimensions. A new coordinate has never been
// non-zero, so its rows of X'WX are zero and the inverse grows exactly by a
// diagonal 1/λ block.
func (r *ridge) grow(d int) {
	if d <= r.D {
		return
	}
	old := r.D
	xtx := make([]float64, d*d)
	ainv := make([]float64, d*d)
	for i := 0; i < old; i++ {
		copy(xtx[i*d:i*d+old], r.XtX[i*old:(i+1)*old])
		copy(ainv[i*d:i*d+old], r.AInv[i*old:(i+1)*old])
	}
	for i := old; i < d; i++ {
		ainv[i*d+i] = 1 / r.Lambda
	}
	r.XtX, r.AInv = xtx, ainv
	r.XtY = append(r.XtY, make([]float64, d-old)...)
	r.Theta = append(r.Theta, make([]float64, d-old)...)
	r.D = d
	r.u = make([]float64, d)
}

// predict returns x'θ. Coordinates beyond D count as zero weight.
func (r *ridge) predict(x []float64) float64 {
	n := min(len(x), r.D)
	var s float64
	th := r.Theta[:n]
	for i, v := range x[:n] {
		s += v * th[i]
	}
	return s
}

// variance returns x'(X'WX+λI)⁻¹x, the width of the estimate at x; an
// unseen coordinate contributes its prior 1/λ.
func (r *ridge) variance(x []float64) float64 {
	d := r.D
	n := min(len(x), d)
	// AInv is symmetric: x'Mx = Σ x_i² M_ii + 2 Σ_{i<j} x_i x_j M_ij,
	// half the work of the plain double loop.
	var s float64
	for i := 0; i < n; i++ {
		xi := x[i]
		if xi == 0 {
			continue
		}
		row := r.AInv[i*d : i*d+n]
		var t float64
		for j := i + 1; j < n; j++ {
			t += row[j] * x[j]
		}
		s += xi * (row[i]*xi + 2*t)
	}
	for _, v := range x[n:] {
		s += v * v / r.Lambda
	}
	return max(s, 0)
}

// update learns (x, y) with importance weight w > 0.
func (r *ridge) update(x []float64, y, w float64) {
	r.grow(len(x))
	d := r.D
	x = x[:d:d]
	u := r.u[:d]
	// u = AInv·x, using only the non-zero coordinates of x (sparse rows
	// are common: optdigits is half zeros).
	clear(u)
	for j, v := range x {
		if v == 0 {
			continue
		}
		for i := 0; i < d; i++ {
			u[i] += r.AInv[i*d+j] * v
		}
	}
	var xu, pred float64
	for i, v := range x {
		xu += v * u[i]
		pred += v * r.Theta[i]
	}
	k := 1 / (1/w + xu)
	resid := (y - pred) * k
	for i := 0; i < d; i++ {
		ui := u[i]
		if ui == 0 {
			continue
		}
		r.Theta[i] += ui * resid
		row := r.AInv[i*d : (i+1)*d]
		c := ui * k
		for j := range row {
			row[j] -= c * u[j]
		}
	}
	for i, xi := range x {
		if xi == 0 {
			continue
		}
		wx := w * xi
		row := r.XtX[i*d : (i+1)*d]
		for j, v := range x {
			row[j] += wx * v
		}
		r.XtY[i] += wx * y
	}
	r.N++
	r.SumW += w
}

// rescale applies the change of coordinates x'_i = x_i·c_i to the
// statistics, so that the model predicts the same from the rescaled inputs.
// With c a power of two, every operation is exact.
func (r *ridge) rescale(c []float64) {
	d := r.D
	for i := 0; i < min(d, len(c)); i++ {
		ci := c[i]
		if ci == 1 {
			continue
		}
		r.Theta[i] /= ci
		r.XtY[i] *= ci
		for j := 0; j < d; j++ {
			r.AInv[i*d+j] /= ci
			r.AInv[j*d+i] /= ci
			r.XtX[i*d+j] *= ci
			r.XtX[j*d+i] *= ci
		}
	}
}

// refresh recomputes the inverse and θ from the sufficient statistics, as
// after merging statistics from other replicas.
func (r *ridge) refresh() error {
	d := r.D
	a := make([]float64, d*d)
	copy(a, r.XtX)
	for i := 0; i < d; i++ {
		a[i*d+i] += r.Lambda
	}
	inv, err := invertSPD(a, d)
	if err != nil {
		return err
	}
	r.AInv = inv
	for i := 0; i < d; i++ {
		var s float64
		for j := 0; j < d; j++ {
			s += inv[i*d+j] * r.XtY[j]
		}
		r.Theta[i] = s
	}
	return nil
}

// check reports a restored ridge whose arrays do not fit its dimension.
func (r *ridge) check() error {
	d := r.D
	if d < 0 || d > 1<<14 || len(r.XtX) != d*d || len(r.AInv) != d*d || len(r.XtY) != d || len(r.Theta) != d {
		return fmt.Errorf("ridge model arrays do not match dimension %d", d)
	}
	if !(r.Lambda > 0) {
		return fmt.Errorf("ridge lambda %v is not positive", r.Lambda)
	}
	r.u = make([]float64, d)
	return nil
}

// invertSPD inverts the symmetric positive-definite d×d matrix a by
// Cholesky decomposition.
func invertSPD(a []float64, d int) ([]float64, error) {
	l := make([]float64, d*d)
	for j := 0; j < d; j++ {
		s := a[j*d+j]
		for k := 0; k < j; k++ {
			s -= l[j*d+k] * l[j*d+k]
		}
		if !(s > 0) || math.IsInf(s, 0) {
			return nil, errors.New("ridge matrix is not positive definite")
		}
		ljj := math.Sqrt(s)
		l[j*d+j] = ljj
		for i := j + 1; i < d; i++ {
			s := a[i*d+j]
			for k := 0; k < j; k++ {
				s -= l[i*d+k] * l[j*d+k]
			}
			l[i*d+j] = s / ljj
		}
	}
	// inv = L⁻ᵀ L⁻¹: solve for each unit vector.
	inv := make([]float64, d*d)
	col := make([]float64, d)
	for c := 0; c < d; c++ {
		clear(col)
		col[c] = 1
		for i := 0; i < d; i++ { // forward: L y = e_c
			s := col[i]
			for k := 0; k < i; k++ {
				s -= l[i*d+k] * col[k]
			}
			col[i] = s / l[i*d+i]
		}
		for i := d - 1; i >= 0; i-- { // back: Lᵀ x = y
			s := col[i]
			for k := i + 1; k < d; k++ {
				s -= l[k*d+i] * col[k]
			}
			col[i] = s / l[i*d+i]
		}
		for i := 0; i < d; i++ {
			inv[i*d+c] = col[i]
		}
	}
	return inv, nil
}

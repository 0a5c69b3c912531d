package gbdt

import (
	"math/rand/v2"
	"testing"
)

// TestLogisticGradientsMatchSigmoid32 checks that the logistic gradient's
// inline exponential gives the float32 results of math.Exp, on which
// tree-by-tree parity with XGBoost rests, over ordinary, tiny and extreme
// margins (beyond ±700 the loop falls back to math.Exp).
func TestLogisticGradientsMatchSigmoid32(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const n = 1 << 20
	margin, label, gp := make([]float32, n), make([]float32, n), make([]gradPair, n)
	for i := range margin {
		switch i % 4 {
		case 0:
			margin[i] = float32(rng.NormFloat64() * 4)
		case 1:
			margin[i] = float32((rng.Float64()*2 - 1) * 800)
		case 2:
			margin[i] = rng.Float32()*2e-3 - 1e-3
		default:
			margin[i] = float32(rng.NormFloat64() * 30)
		}
		label[i] = float32(rng.IntN(2))
	}
	BinaryLogistic.gradients(gp, margin, label, nil, 0, n)
	for i, m := range margin {
		p := sigmoid32(m)
		want := gradPair{p - label[i], max(p*(1-p), 1e-16)}
		if gp[i] != want {
			t.Fatalf("margin %v: gradient %v, want %v (from sigmoid32)", m, gp[i], want)
		}
	}
}

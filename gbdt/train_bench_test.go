package gbdt

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"lift/dataset"
)

// synthData is a seeded classification set: 10 informative features, 8
// linear mixtures of them and 10 noise features.
func synthData(rows int, seed uint64) *dataset.Dense {
	const cols = 28
	rng := rand.New(rand.NewPCG(seed, 3))
	d := &dataset.Dense{Rows: rows, Cols: cols, X: make([]float32, rows*cols), Label: make([]float32, rows)}
	for r := range rows {
		x := d.Row(r)
		logit := 0.0
		for i := range 10 {
			v := rng.NormFloat64()
			x[i] = float32(v)
			logit += v * float64(i%3-1)
		}
		for i := 10; i < 18; i++ {
			x[i] = x[i-10] + x[i-9] + float32(0.1*rng.NormFloat64())
		}
		for i := 18; i < cols; i++ {
			x[i] = float32(rng.NormFloat64())
		}
		logit += 1.5*float64(x[0]*x[1]) + math.Sin(2*float64(x[3]))
		if rng.Float64() < 1/(1+math.Exp(-2*logit)) {
			d.Label[r] = 1
		}
	}
	return d
}

// BenchmarkTrain times config A (binary:logistic, depth 6, eta 0.1) for 20
// rounds on 200,000 synthetic rows with 2 threads, binning included.
func BenchmarkTrain(b *testing.B) {
	d := synthData(200_000, 1)
	p := configA()
	p.Rounds, p.Threads, p.EvalMetrics = 20, 2, nil
	for b.Loop() {
		if _, _, err := Train(context.Background(), p, d, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTrainBig(b *testing.B) {
	d := synthData(1_000_000, 1)
	v := synthData(100_000, 2)
	p := configA()
	p.Rounds, p.Threads = 10, 2
	for b.Loop() {
		if _, _, err := Train(context.Background(), p, d, []EvalSet{{"valid", v}}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTrainHiggs times config A (100 rounds) on the Higgs subset with
// 2 threads, the small-data case where per-node costs dominate.
func BenchmarkTrainHiggs(b *testing.B) {
	d := MustReadData(b, "higgs_lgbm_binary.train.tsv.gz")
	p := configA()
	p.Threads, p.EvalMetrics = 2, nil
	for b.Loop() {
		if _, _, err := Train(context.Background(), p, d, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAUC times AUC on 100,000 rows, evaluated every round.
func BenchmarkAUC(b *testing.B) {
	rng := rand.New(rand.NewPCG(4, 5))
	pred, label := make([]float32, 100_000), make([]float32, 100_000)
	for i := range pred {
		pred[i] = rng.Float32()
		if rng.Float32() < pred[i] {
			label[i] = 1
		}
	}
	for b.Loop() {
		AUC(pred, label, nil)
	}
}

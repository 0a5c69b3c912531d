package bandit

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// BenchmarkDecideLearn measures one decision plus one learn step, the
// unit of INTERFACE.md's decisions/s, for K=10 actions and 16 dense
// context features (the pendigits shape).
func BenchmarkDecideLearn(b *testing.B) {
	for _, spec := range []string{"default", "linucb", "squarecb", "epsilon-greedy", "lin-ts", "thompson", "default,quadratic=true"} {
		b.Run(spec, func(b *testing.B) {
			p := MustParsePolicy(b, spec)
			rng := rand.New(rand.NewPCG(1, 2))
			const k, d, n = 10, 16, 1024
			acts := make([]Action, k)
			for i := range acts {
				acts[i].ID = strconv.Itoa(i)
			}
			ctxs := make([]Context, n)
			ids := make([]string, n)
			for i := range ctxs {
				v := make([]float64, d)
				for j := range v {
					v[j] = float64(rng.IntN(101))
				}
				ctxs[i] = Context{Vector: v}
				ids[i] = strconv.Itoa(i)
			}
			i := 0
			for b.Loop() {
				c := ctxs[i%n]
				dec, err := Decide(p, ids[i%n], c, acts, 1)
				if err != nil {
					b.Fatal(err)
				}
				r := 0.0
				if dec.Index == int(c.Vector[0])%k {
					r = 1
				}
				if err := p.Learn(Event{Context: c, Actions: acts, Chosen: dec.Index, Reward: r, Probability: dec.Probability}); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
		})
	}
}

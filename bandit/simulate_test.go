package bandit

import (
	"context"
	"os"
	"slices"
	"testing"

	"lift/dataset"
)

func MustReadMulticlass(tb testing.TB, path string) *dataset.Multiclass {
	tb.Helper()
	f, err := dataset.Open(path)
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("shared bandit data: %v", err)
		}
		tb.Skipf("shared bandit data not present: %v", err)
	}
	defer f.Close()
	m, err := dataset.ReadVWMulticlass(f)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// TestDefaultBeatsVW plays the default policy on the shared cbify data in
// file order and holds it to the best Vowpal Wabbit configuration of
// BENCHMARKS.md on each set (the full 3-order check is bench/bandit.sh).
// The run is seeded, so the loss is a fixed number; the bound is VW's.
func TestDefaultBeatsVW(t *testing.T) {
	for _, tt := range []struct {
		name   string
		vwBest float64
	}{{"letter", 0.754}, {"pendigits", 0.321}, {"optdigits", 0.169}} {
		t.Run(tt.name, func(t *testing.T) {
			data := MustReadMulticlass(t, "/work/shared/data/bandit/"+tt.name+".vw.gz")
			res, err := Simulate(context.Background(), MustParsePolicy(t, "default"), data, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: loss %.4f (VW best %.3f, uniform %.3f)", tt.name, res.Loss, tt.vwBest, 1-1/float64(data.K))
			if res.Rounds != data.Rows || res.Loss > tt.vwBest {
				t.Errorf("%d rounds, loss %.4f; want %d rounds, loss <= %.3f", res.Rounds, res.Loss, data.Rows, tt.vwBest)
			}
		})
	}
}

func TestSimulateIsReproducible(t *testing.T) {
	data := MustReadMulticlass(t, "/work/shared/data/bandit/optdigits.vw.gz")
	order := ShuffledOrder(data.Rows, 3)
	run := func(seed uint64) float64 {
		res, err := Simulate(context.Background(), MustParsePolicy(t, "squarecb"), data, order[:1000], seed)
		if err != nil {
			t.Fatal(err)
		}
		return res.Loss
	}
	if a, b := run(1), run(1); a != b {
		t.Errorf("same seed, losses %v and %v", a, b)
	}
	if a, b := run(1), run(2); a == b {
		t.Errorf("seeds 1 and 2 gave the identical loss %v", a)
	}
}

func TestShuffledOrder(t *testing.T) {
	a, b, c := ShuffledOrder(100, 1), ShuffledOrder(100, 1), ShuffledOrder(100, 2)
	if !slices.Equal(a, b) || slices.Equal(a, c) {
		t.Error("the shuffle is not a function of its seed")
	}
	s := slices.Clone(a)
	slices.Sort(s)
	for i, v := range s {
		if v != i {
			t.Fatalf("not a permutation: %v", a)
		}
	}
}

package gbdt

import (
	"math/rand/v2"
	"testing"
)

// benchHistInput returns a 1M x 28 uint8 bin matrix with 256 bins per
// feature, every row, and a random eighth of the rows (a deep node's
// sorted subset).
func benchHistInput() (*binMatrix[uint8], []int, []uint32, []uint32, []gradPair) {
	const rows, cols = 1_000_000, 28
	rng := rand.New(rand.NewPCG(1, 2))
	m := &binMatrix[uint8]{rows: rows, cols: cols, bins: make([]uint8, rows*cols)}
	for i := range m.bins {
		m.bins[i] = uint8(rng.IntN(256))
	}
	off := make([]int, cols+1)
	for f := range cols {
		off[f+1] = off[f] + 256
	}
	all := make([]uint32, rows)
	var sub []uint32
	for i := range all {
		all[i] = uint32(i)
		if rng.IntN(8) == 0 {
			sub = append(sub, uint32(i))
		}
	}
	gh := make([]gradPair, rows)
	for i := range gh {
		gh[i] = gradPair{float32(rng.NormFloat64()), 0.25}
	}
	return m, off, all, sub, gh
}

func BenchmarkBuildHist(b *testing.B) {
	m, off, all, sub, gh := benchHistInput()
	hist := make([]histBin, off[len(off)-1])
	for _, c := range []struct {
		name string
		rows []uint32
	}{{"all", all}, {"eighth", sub}, {"contiguous", nil}} {
		b.Run(c.name, func(b *testing.B) {
			n := len(c.rows)
			if c.rows == nil {
				n = len(sub) // a node's own copy of its rows' bins
			}
			for b.Loop() {
				buildHist(hist, m.bins, m.cols, c.rows, gh[:n], off, 0, m.cols)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n*m.cols), "ns/update")
		})
		b.Run(c.name+"/wide", func(b *testing.B) {
			n := len(c.rows)
			if c.rows == nil {
				n = len(sub)
			}
			for b.Loop() {
				buildHistWide(hist, m.bins, m.cols, c.rows, gh[:n], 0, m.cols)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n*m.cols), "ns/update")
		})
	}
}

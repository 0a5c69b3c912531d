package gbdt

import (
	"math/rand/v2"
	"testing"
)

// TestBuildHistWideMatchesGeneric: the wide kernel (assembly on amd64)
// gives bit for bit the sums of the generic loop, for every feature range
// and row count, on bins that repeat often (so the order of additions
// into one slot matters).
func TestBuildHistWideMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	const cols = 13
	for _, n := range []int{0, 1, 2, 3, 7, 100, 1001} {
		bins := make([]uint8, n*cols)
		for i := range bins {
			bins[i] = uint8(rng.IntN(6) * 50) // few distinct bins
		}
		gh := make([]gradPair, n)
		for i := range gh {
			gh[i] = gradPair{float32(rng.NormFloat64() * 1e3), float32(rng.Float64())}
		}
		off := make([]int, cols+1)
		for f := range cols {
			off[f+1] = off[f] + 256
		}
		for _, fr := range [][2]int{{0, cols}, {0, 1}, {3, 8}, {5, 9}, {12, 13}, {4, 4}} {
			want := make([]histBin, cols*256)
			got := make([]histBin, cols*256)
			for i := range want {
				want[i] = histBin{rng.Float64(), rng.Float64()}
				got[i] = want[i]
			}
			buildHist(want, bins, cols, nil, gh, off, fr[0], fr[1])
			buildHistWide(got, bins, cols, nil, gh, fr[0], fr[1])
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%d rows, features %v: slot %d = %+v, want %+v", n, fr, i, got[i], want[i])
				}
			}
		}
	}
}

// TestScatter4MatchesGo: the partition's move (assembly on amd64) puts
// every row index and every word of bins where the Go loop does, for each
// choice of the side whose bins are kept.
func TestScatter4MatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for _, n := range []int{1, 2, 5, 64, 1000} {
		goLeft := make([]uint8, n)
		nLeft := 0
		for i := range goLeft {
			goLeft[i] = uint8(rng.IntN(2))
			nLeft += int(goLeft[i])
		}
		srcR := make([]uint32, n)
		srcW := make([]uint64, 4*n)
		for i := range srcR {
			srcR[i] = rng.Uint32()
		}
		for i := range srcW {
			srcW[i] = rng.Uint64()
		}
		const base, spare = 3, 3 + 2000 + 1 // rows start at 3; the spare row is past them
		for w := range 3 {
			wantR := make([]uint32, spare+2)
			wantW := make([]uint64, 4*(spare+2))
			gotR := make([]uint32, spare+2)
			gotW := make([]uint64, 4*(spare+2))
			for i := range wantW {
				wantW[i] = uint64(i)
				gotW[i] = uint64(i)
			}
			scatter4Go(goLeft, srcR, srcW, wantR, wantW, base, base+nLeft, w, spare)
			scatter4(goLeft, srcR, srcW, gotR, gotW, base, base+nLeft, w, spare, nLeft)
			for i := range gotR {
				if gotR[i] != wantR[i] {
					t.Fatalf("n %d, w %d: row index %d = %d, want %d", n, w, i, gotR[i], wantR[i])
				}
			}
			for i := range gotW {
				if gotW[i] != wantW[i] {
					t.Fatalf("n %d, w %d: word %d = %d, want %d", n, w, i, gotW[i], wantW[i])
				}
			}
		}
	}
}

//go:build !amd64

package gbdt

// wideContiguous is buildHistWide's loop over a node's own contiguous
// rows (row k's bins at bins[k*cols:]); it returns how many rows it did.
// Two rows at a time, feature by feature: half the loop overhead per
// update. A bin's sums still see the rows in order.
func wideContiguous(_ []histBin, wide [][256]histBin, bins []uint8, cols int, gh []gradPair, f0, f1 int) int {
	k := 0
	for ; k+2 <= len(gh); k += 2 {
		g0, h0 := float64(gh[k].g), float64(gh[k].h)
		g1, h1 := float64(gh[k+1].g), float64(gh[k+1].h)
		row0 := bins[k*cols+f0 : k*cols+f1]
		row0 = row0[:len(wide)]
		row1 := bins[(k+1)*cols+f0 : (k+1)*cols+f1]
		row1 = row1[:len(wide)]
		for j, b := range row0 {
			s := &wide[j][b]
			s.g += g0
			s.h += h0
			s = &wide[j][row1[j]]
			s.g += g1
			s.h += h1
		}
	}
	return k
}

// scatter4 is scatter4Go (nLeft, how many rows go left, serves the amd64
// version's bounds check).
func scatter4(goLeft []uint8, srcR []uint32, srcW []uint64, dstR []uint32, dstW []uint64, l, r, w, spare, _ int) {
	scatter4Go(goLeft, srcR, srcW, dstR, dstW, l, r, w, spare)
}

package gbdt

// histWideRows adds gh[k] for each of n rows into the wide histogram
// starting at hist (feature f0's bin 0), reading row k's nf bins at
// bins[k*stride:]. Written in assembly: a histBin's two sums take one
// 16-byte add instead of two 8-byte ones.
//
//go:noescape
func histWideRows(hist *histBin, bins *uint8, stride int, gh *gradPair, n int, nf int)

// wideContiguous is buildHistWide's loop over a node's own contiguous
// rows (row k's bins at bins[k*cols:]); it returns how many rows it did.
func wideContiguous(hist []histBin, _ [][256]histBin, bins []uint8, cols int, gh []gradPair, f0, f1 int) int {
	n := len(gh)
	if n == 0 || f1 <= f0 {
		return n
	}
	// The bounds the assembly relies on, checked once.
	_ = bins[(n-1)*cols+f1-1]
	_ = hist[f1*256-1]
	histWideRows(&hist[f0*256], &bins[f0], cols, &gh[0], n, f1-f0)
	return n
}

// scatter4 is scatter4Go in assembly; nLeft is how many of goLeft are 1
// (its values are 0 or 1), which bounds every index the loop writes.
func scatter4(goLeft []uint8, srcR []uint32, srcW []uint64, dstR []uint32, dstW []uint64, l, r, w, spare, nLeft int) {
	n := len(goLeft)
	if n == 0 {
		return
	}
	end := max(l+nLeft, r+n-nLeft, spare+1)
	if nLeft < 0 || nLeft > n || l < 0 || r < 0 || spare < 0 || len(srcR) < n || len(srcW) < 4*n ||
		len(dstR) < max(l+nLeft, r+n-nLeft) || len(dstW) < 4*end {
		panic("gbdt: scatter4 out of bounds")
	}
	keepL, keepR := 0, 0
	if w == 2 || w == 1 {
		keepL = -1
	}
	if w == 2 || w == 0 {
		keepR = -1
	}
	scatter4Rows(&goLeft[0], &srcR[0], &srcW[0], &dstR[0], &dstW[0], n, l, r, spare, keepL, keepR)
}

//go:noescape
func scatter4Rows(goLeft *uint8, srcR *uint32, srcW *uint64, dstR *uint32, dstW *uint64, n, l, r, spare, keepL, keepR int)

// Package watermark holds the one operation shared by the positions that
// only move forward (a store's synced prediction id, an experiment's
// stored reward seq).
package watermark

import "sync/atomic"

// Raise sets a to v if v is larger, whatever other goroutines do
// meanwhile.
func Raise(a *atomic.Int64, v int64) {
	for old := a.Load(); v > old; old = a.Load() {
		if a.CompareAndSwap(old, v) {
			return
		}
	}
}

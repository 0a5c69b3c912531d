// Package groupcommit gathers the writes waiting at the same moment, so
// that one transaction, and one sync to the disk, serves them all: the
// stores' writers use it to batch concurrent calls.
package groupcommit

import "runtime"

// Gather appends to batch every request already waiting on ch, up to max
// in all, without blocking. It first yields the processor once, so that
// goroutines about to send get in line: a commit costs about as much as
// several statements, so larger batches are cheaper per write.
func Gather[T any](ch <-chan T, batch []T, max int) []T {
	runtime.Gosched()
	for len(batch) < max {
		select {
		case r, ok := <-ch:
			if !ok {
				return batch
			}
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// Package groupcommit gathers the writes waiting at the same moment, so
// that one transaction, and one sync to the disk, serves them all: the
// stores' writers use it to batch concurrent calls.
package groupcommit

import (
	"context"
	"runtime"
)

// Request is one caller's write, Item, waiting for its group's commit.
type Request[T any] struct {
	Ctx  context.Context
	Item T
	done chan error
}

// Answer tells the caller how its write ended.
func (r *Request[T]) Answer(err error) { r.done <- err }

// Submit queues item on ch for the writer and waits for its answer. It
// gives up with ctx's error when ctx ends first, and with closedErr when
// closed is closed (the writer has stopped) first. Once the writer has
// the item, it waits for the answer whatever ctx does: the caller learns
// whether its write was made.
func Submit[T any](ctx context.Context, ch chan<- *Request[T], closed <-chan struct{}, closedErr error, item T) error {
	return submit(ctx, ch, closed, closedErr, item, false)
}

// SubmitUntil is Submit that also stops waiting for the answer when ctx
// ends, with ctx's error: the write may still be made after. For writes a
// caller can repeat safely (idempotent by a key of their own) or lose
// unacknowledged.
func SubmitUntil[T any](ctx context.Context, ch chan<- *Request[T], closed <-chan struct{}, closedErr error, item T) error {
	return submit(ctx, ch, closed, closedErr, item, true)
}

func submit[T any](ctx context.Context, ch chan<- *Request[T], closed <-chan struct{}, closedErr error, item T, until bool) error {
	r := &Request[T]{Ctx: ctx, Item: item, done: make(chan error, 1)}
	select {
	case ch <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-closed:
		return closedErr
	}
	if !until {
		return <-r.done
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Gather appends to batch every request already waiting on ch, up to max
// in all, without blocking. It first yields the processor once, so that
// goroutines about to send get in line: a commit costs about as much as
// several statements, so larger batches are cheaper per write.
func Gather[T any](ch <-chan T, batch []T, max int) []T {
	runtime.Gosched()
	return Drain(ch, batch, max)
}

// Drain appends to batch every value already waiting on ch, up to max in
// all, without blocking (and without yielding first, as Gather does). A
// closed channel ends the batch.
func Drain[T any](ch <-chan T, batch []T, max int) []T {
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

// Live answers the requests of batch whose callers have given up, with
// their contexts' errors, and returns the others.
func Live[T any](batch []*Request[T]) []*Request[T] {
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.Ctx.Err(); err != nil {
			r.Answer(err)
		} else {
			live = append(live, r)
		}
	}
	return live
}

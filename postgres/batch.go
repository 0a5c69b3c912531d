package postgres

import (
	"context"
	"errors"
	"time"

	"lift"
	"lift/internal/groupcommit"
)

// commitBatches takes what callers queue on ch, all of those waiting at
// once (up to max), and writes them with all, one statement, then answers
// every caller: with the error all gives for its item (if it gives any:
// an item the statement skipped), else nil. When the statement fails,
// each item whose caller still waits is written on its own with one, so
// that one caller's error is never another's. It returns when ctx ends,
// after the batch in hand is written and answered.
//
// A caller's context bounds its wait as a statement of its own would:
// callers wait with groupcommit.SubmitUntil, which returns when their
// context ends; the batch's statement runs until the last of its callers'
// deadlines (and at most batchTimeout), so that no statement is cut short
// while someone still waits for it (under load, a batch cut at its
// earliest deadline would fall back to a statement per caller, and fall
// further behind); a retry runs under its own caller's context.
func commitBatches[T any](ctx context.Context, ch chan *groupcommit.Request[T], max int,
	all func(context.Context, []*groupcommit.Request[T]) ([]error, error), one func(context.Context, T) error) {
	for {
		var batch []*groupcommit.Request[T]
		select {
		case r := <-ch:
			batch = append(batch, r)
		case <-ctx.Done():
			return
		}
		live := groupcommit.Live(groupcommit.Gather(ch, batch, max))
		if len(live) == 0 {
			continue
		}
		// Not the callers' contexts: the batch is shared, and one caller
		// giving up must not fail the others.
		bctx, cancel := context.WithDeadline(context.Background(), batchDeadline(live))
		errs, err := all(bctx, live)
		cancel()
		if err == nil {
			for i, r := range live {
				if i < len(errs) {
					r.Answer(errs[i])
				} else {
					r.Answer(nil)
				}
			}
			continue
		}
		for _, r := range live {
			switch {
			case r.Ctx.Err() != nil:
				r.Answer(r.Ctx.Err())
			case len(live) == 1:
				r.Answer(callerErr(r, err))
			default:
				octx, cancel := context.WithTimeout(r.Ctx, batchTimeout)
				r.Answer(callerErr(r, one(octx, r.Item)))
				cancel()
			}
		}
	}
}

// batchTimeout bounds a batch's statement, and each statement of its
// fallback, whatever their callers' deadlines.
const batchTimeout = 30 * time.Second

// batchDeadline is when a batch's statement must end: at the last of its
// callers' deadlines, or batchTimeout from now if that is sooner or one
// of them has none.
func batchDeadline[T any](live []*groupcommit.Request[T]) time.Time {
	limit := time.Now().Add(batchTimeout)
	var last time.Time
	for _, r := range live {
		d, ok := r.Ctx.Deadline()
		if !ok {
			return limit
		}
		if d.After(last) {
			last = d
		}
	}
	if last.Before(limit) {
		return last
	}
	return limit
}

// callerErr is what r's caller gets for a statement that failed with err.
// A statement ended by a deadline was ended by the caller's own (then it
// gets its context's error, as a statement under its context would
// give), or by batchTimeout: the database not answering.
func callerErr[T any](r *groupcommit.Request[T], err error) error {
	if lift.KindOf(err) != lift.Internal || !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if d, ok := r.Ctx.Deadline(); ok && !time.Now().Before(d) {
		// The context's own timer fires at d too: wait the moment it may
		// lag, so that the caller (the HTTP layer) finds it ended.
		<-r.Ctx.Done()
		return r.Ctx.Err()
	}
	return lift.Errorf(lift.Unavailable, "the database did not finish the statement within %s", batchTimeout)
}

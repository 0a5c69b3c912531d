// Package tick runs the servers' periodic background work: a registry
// poll, a lease renewal, a fold of counters.
package tick

import (
	"context"
	"time"
)

// Every calls f every d until ctx ends, the first time d from now. A call
// in progress when ctx ends finishes (f gets ctx) before Every returns.
func Every(ctx context.Context, d time.Duration, f func(context.Context)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f(ctx)
		}
	}
}

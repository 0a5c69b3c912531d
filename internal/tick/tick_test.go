package tick

import (
	"context"
	"testing"
	"time"
)

// TestEvery: f runs over and over, gets the context, and Every returns
// once the context ends, with no call after.
func TestEvery(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := make(chan context.Context)
	done := make(chan struct{})
	go func() {
		Every(ctx, time.Millisecond, func(c context.Context) { calls <- c })
		close(done)
	}()
	for range 3 {
		if c := <-calls; c != ctx {
			t.Fatal("f did not get Every's context")
		}
	}
	cancel()
	// A call may have fired before the cancel was seen: take it.
	select {
	case <-calls:
	case <-done:
	}
	<-done
	select {
	case <-calls:
		t.Fatal("f called after Every returned")
	default:
	}
}

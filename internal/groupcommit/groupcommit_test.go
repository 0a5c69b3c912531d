package groupcommit

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestGather(t *testing.T) {
	for name, gather := range map[string]func(<-chan int, []int, int) []int{"Gather": Gather[int], "Drain": Drain[int]} {
		ch := make(chan int, 10)
		for i := range 5 {
			ch <- i
		}
		if got := gather(ch, []int{-1}, 4); len(got) != 4 || got[0] != -1 || got[3] != 2 {
			t.Fatalf("%s(max 4) = %v, want [-1 0 1 2]", name, got)
		}
		if got := gather(ch, nil, 10); len(got) != 2 || got[0] != 3 {
			t.Fatalf("%s of the rest = %v, want [3 4]", name, got)
		}
		if got := gather(ch, nil, 10); len(got) != 0 {
			t.Fatalf("%s of an empty channel = %v, want nothing (and no blocking)", name, got)
		}
		close(ch)
		if got := gather(ch, []int{7}, 10); len(got) != 1 {
			t.Fatalf("%s of a closed channel = %v, want the batch unchanged", name, got)
		}
	}
}

func TestSubmitAndLive(t *testing.T) {
	ch := make(chan *Request[string])
	closed := make(chan struct{})
	errClosed := errors.New("closed")

	// A writer for which "" succeeds and any other item fails with itself
	// as the error.
	go func() {
		for r := range ch {
			for _, r := range Live([]*Request[string]{r}) {
				if r.Item == "" {
					r.Answer(nil)
				} else {
					r.Answer(errors.New(r.Item))
				}
			}
		}
	}()
	ctx := context.Background()
	if err := Submit(ctx, ch, closed, errClosed, ""); err != nil {
		t.Fatalf("Submit = %v, want nil", err)
	}
	if err := Submit(ctx, ch, closed, errClosed, "bad"); err == nil || err.Error() != "bad" {
		t.Fatalf("Submit = %v, want the writer's error", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	close(ch)
	if err := Submit(cancelled, make(chan *Request[string]), closed, errClosed, ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("Submit with a cancelled context = %v", err)
	}
	close(closed)
	if err := Submit(ctx, make(chan *Request[string]), closed, errClosed, ""); err != errClosed {
		t.Fatalf("Submit after close = %v, want %v", err, errClosed)
	}

	// Live answers the cancelled request and keeps the other.
	a := &Request[string]{Ctx: cancelled, done: make(chan error, 1)}
	b := &Request[string]{Ctx: ctx, done: make(chan error, 1)}
	if live := Live([]*Request[string]{a, b}); len(live) != 1 || live[0] != b {
		t.Fatalf("Live kept %v", live)
	}
	if err := <-a.done; !errors.Is(err, context.Canceled) {
		t.Fatalf("the cancelled request was answered %v", err)
	}
}

// TestSubmitUntil: once the writer holds the item, Submit waits for its
// answer whatever the context does; SubmitUntil gives up with the
// context's error, and the writer's late answer does not block it.
func TestSubmitUntil(t *testing.T) {
	for _, until := range []bool{false, true} {
		ch := make(chan *Request[string])
		taken := make(chan *Request[string])
		go func() {
			r := <-ch
			taken <- r
		}()
		ctx, cancel := context.WithCancel(context.Background())
		result := make(chan error, 1)
		go func() {
			if until {
				result <- SubmitUntil(ctx, ch, nil, nil, "x")
			} else {
				result <- Submit(ctx, ch, nil, nil, "x")
			}
		}()
		r := <-taken
		cancel()
		if until {
			if err := <-result; !errors.Is(err, context.Canceled) {
				t.Fatalf("SubmitUntil after its context ended = %v, want context.Canceled", err)
			}
			r.Answer(nil) // late, to nobody: must not block
			continue
		}
		select {
		case err := <-result:
			t.Fatalf("Submit returned %v before the writer answered", err)
		case <-time.After(50 * time.Millisecond):
		}
		r.Answer(nil)
		if err := <-result; err != nil {
			t.Fatalf("Submit = %v after the writer's answer, want nil", err)
		}
	}
}

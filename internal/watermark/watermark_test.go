package watermark

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestRaiseKeepsTheLargest(t *testing.T) {
	var a atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				Raise(&a, int64((i*8+g)%5000))
			}
		}()
	}
	wg.Wait()
	if got := a.Load(); got != 4999 {
		t.Fatalf("after concurrent raises a = %d, want 4999", got)
	}
	Raise(&a, 3)
	if got := a.Load(); got != 4999 {
		t.Fatalf("a smaller value lowered a to %d", got)
	}
}

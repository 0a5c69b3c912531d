package groupcommit

import "testing"

func TestGather(t *testing.T) {
	ch := make(chan int, 10)
	for i := range 5 {
		ch <- i
	}
	if got := Gather(ch, []int{-1}, 4); len(got) != 4 || got[0] != -1 || got[3] != 2 {
		t.Fatalf("Gather(max 4) = %v, want [-1 0 1 2]", got)
	}
	if got := Gather(ch, nil, 10); len(got) != 2 || got[0] != 3 {
		t.Fatalf("Gather of the rest = %v, want [3 4]", got)
	}
	if got := Gather(ch, nil, 10); len(got) != 0 {
		t.Fatalf("Gather of an empty channel = %v, want nothing (and no blocking)", got)
	}
	close(ch)
	if got := Gather(ch, []int{7}, 10); len(got) != 1 {
		t.Fatalf("Gather of a closed channel = %v, want the batch unchanged", got)
	}
}

package lift

import "testing"

func TestFeatureCache(t *testing.T) {
	c := NewFeatureCache(2)
	a := Features{Duration: 10}
	if _, ok := c.Get("a"); ok {
		t.Fatal("empty cache had a")
	}
	c.Fill("a", a, c.Begin())
	if f, ok := c.Get("a"); !ok || f != a {
		t.Fatalf("Get(a) = %v, %v; want %v", f, ok, a)
	}

	// A read that began before an invalidation must not be cached: it may
	// hold the features the invalidating write replaced.
	token := c.Begin()
	c.Invalidate("a")
	c.Fill("a", a, token)
	if _, ok := c.Get("a"); ok {
		t.Fatal("a stale fill survived Invalidate")
	}
	token = c.Begin()
	c.Clear()
	c.Fill("a", a, token)
	if _, ok := c.Get("a"); ok {
		t.Fatal("a stale fill survived Clear")
	}

	// Bounded: a third clip evicts one of the first two.
	for _, id := range []string{"a", "b", "c"} {
		c.Fill(id, a, c.Begin())
	}
	n := 0
	for _, id := range []string{"a", "b", "c"} {
		if _, ok := c.Get(id); ok {
			n++
		}
	}
	if _, ok := c.Get("c"); !ok || n != 2 {
		t.Fatalf("after three fills of a 2-clip cache: %d cached, c cached %v", n, ok)
	}

	c.SetEnabled(false)
	if _, ok := c.Get("c"); ok {
		t.Fatal("disabling kept c")
	}
	c.Fill("c", a, c.Begin())
	if _, ok := c.Get("c"); ok {
		t.Fatal("a disabled cache was filled")
	}
	c.SetEnabled(true)
	c.Fill("c", a, c.Begin())
	if _, ok := c.Get("c"); !ok {
		t.Fatal("a re-enabled cache was not filled")
	}
}

package lift

import "sync"

// FeatureCache keeps stored clips' model inputs in memory, so that a
// prediction for a stored clip need not read the database. A store fills
// it on reads and invalidates it after every write that changes a clip's
// features.
//
// Fills race with writes: a read that began before a write committed may
// return the old features after the write has invalidated them. Fill
// therefore takes the token Begin returned before the database read, and
// stores nothing if any invalidation happened since: once Invalidate (or
// Clear) has returned, Get never again returns what was there before.
type FeatureCache struct {
	mu    sync.RWMutex
	m     map[string]Features
	epoch uint64 // counts invalidations
	max   int
	off   bool
}

// NewFeatureCache returns an empty cache of at most max clips (an
// arbitrary one is dropped to make room).
func NewFeatureCache(max int) *FeatureCache {
	return &FeatureCache{m: make(map[string]Features), max: max}
}

// Get returns the cached features of clip id.
func (c *FeatureCache) Get(id string) (Features, bool) {
	c.mu.RLock()
	f, ok := c.m[id]
	c.mu.RUnlock()
	return f, ok
}

// Begin returns the token to pass to Fill, taken before reading the
// database.
func (c *FeatureCache) Begin() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.epoch
}

// Fill caches f for clip id unless the cache was invalidated since Begin
// returned token, or is switched off.
func (c *FeatureCache) Fill(id string, f Features, token uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != token || c.off {
		return
	}
	if len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[id] = f
}

// Invalidate forgets the given clips.
func (c *FeatureCache) Invalidate(ids ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	for _, id := range ids {
		delete(c.m, id)
	}
}

// InvalidateClips forgets the clips of a write of cs.
func (c *FeatureCache) InvalidateClips(cs []*Clip) {
	ids := make([]string, len(cs))
	for i, cl := range cs {
		ids[i] = cl.ID
	}
	c.Invalidate(ids...)
}

// Clear forgets every clip: for when the store cannot tell which clips
// changed.
func (c *FeatureCache) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	clear(c.m)
}

// SetEnabled clears the cache and switches filling on or off: a store
// whose change notifications have stopped turns it off until they resume.
func (c *FeatureCache) SetEnabled(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	clear(c.m)
	c.off = !on
}

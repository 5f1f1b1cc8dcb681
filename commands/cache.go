package commands

import (
	"sync"
	"time"
)

// StateCache holds the last known state and version of recently used
// streams, shared by every command of a process. States are values that
// Evolve never mutates, so sharing them between goroutines is safe. A stale
// entry costs one failed append and a reload, never a wrong decision: the
// append's expected version is the entry's version.
type StateCache struct {
	mu  sync.Mutex
	max int
	m   map[string]cacheEntry
}

type cacheEntry struct {
	state   any
	version int64
	at      time.Time // when the state was last known to be current
}

// NewStateCache returns a cache of at most max streams.
func NewStateCache(max int) *StateCache {
	return &StateCache{max: max, m: make(map[string]cacheEntry, max)}
}

func cachedState[S any](c *StateCache, stream string) (S, int64, bool) {
	return cachedStateSince[S](c, stream, time.Time{})
}

// cachedStateSince is cachedState for entries known current at or after since.
func cachedStateSince[S any](c *StateCache, stream string, since time.Time) (S, int64, bool) {
	c.mu.Lock()
	e, ok := c.m[stream]
	c.mu.Unlock()
	if !ok || e.at.Before(since) {
		var zero S
		return zero, 0, false
	}
	s, ok := e.state.(S)
	return s, e.version, ok
}

func (c *StateCache) put(stream string, state any, version int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[stream]; ok && old.version > version {
		return // a concurrent command cached a newer state
	}
	if _, ok := c.m[stream]; !ok && len(c.m) >= c.max {
		for k := range c.m { // evict an arbitrary entry
			delete(c.m, k)
			break
		}
	}
	c.m[stream] = cacheEntry{state: state, version: version, at: time.Now()}
}

func (c *StateCache) drop(stream string) {
	c.mu.Lock()
	delete(c.m, stream)
	c.mu.Unlock()
}

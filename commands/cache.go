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

// evictionSample is how many entries a full cache compares to pick the one
// it evicts.
const evictionSample = 8

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
		// Evict the least recently current of a few arbitrary entries: a
		// hot stream (a product, a cart) is rarely the one to go.
		victim, n := "", 0
		var oldest time.Time
		for k, e := range c.m {
			if n == 0 || e.at.Before(oldest) {
				victim, oldest = k, e.at
			}
			if n++; n == evictionSample {
				break
			}
		}
		delete(c.m, victim)
	}
	c.m[stream] = cacheEntry{state: state, version: version, at: time.Now()}
}

func (c *StateCache) drop(stream string) {
	c.mu.Lock()
	delete(c.m, stream)
	c.mu.Unlock()
}

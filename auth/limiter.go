package auth

import (
	"context"
	"sync"
	"time"
)

// Limiter decides whether one more attempt (a login) may go ahead for key
// (an account or a client address). It exists so the login flow can use the
// in-memory or the Redis limiter alike. A false ok comes with how long to
// wait (for Retry-After); err reports a failing backend and leaves the
// fail-open or fail-closed choice to the caller.
type Limiter interface {
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error)
}

// MemoryLimiter is a fixed-window Limiter in process memory: at most limit
// attempts per key per window, counted from a key's first attempt. It is
// safe for concurrent use; keys whose window has ended are evicted. Counts
// are per process, so use the Redis limiter when several instances run.
type MemoryLimiter struct {
	limit  int
	window time.Duration
	now    func() time.Time

	mu        sync.Mutex
	windows   map[string]*memWindow
	lastSweep time.Time
}

type memWindow struct {
	start time.Time
	count int
}

// NewMemoryLimiter returns a MemoryLimiter allowing limit attempts per key per
// window, reading time from now (time.Now when nil). It panics when limit < 1
// or window <= 0, like time.NewTicker, since that is a wiring bug.
func NewMemoryLimiter(limit int, window time.Duration, now func() time.Time) *MemoryLimiter {
	if limit < 1 || window <= 0 {
		panic("auth: NewMemoryLimiter needs limit >= 1 and window > 0")
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryLimiter{limit: limit, window: window, now: now, windows: make(map[string]*memWindow)}
}

// Allow counts one attempt for key and reports whether it is within the
// limit, and if not how long until the key's window ends; it never returns
// an error, it does not use ctx.
func (l *MemoryLimiter) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	w, ok := l.windows[key]
	if !ok || !now.Before(w.start.Add(l.window)) {
		w = &memWindow{start: now}
		l.windows[key] = w
	}
	if w.count >= l.limit {
		return false, w.start.Add(l.window).Sub(now), nil
	}
	w.count++
	return true, 0, nil
}

// Len returns the number of keys held, for tests and metrics.
func (l *MemoryLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.windows)
}

// sweep evicts every key whose window has ended, at most once per window, so
// memory stays proportional to the keys seen in the last window or two.
func (l *MemoryLimiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < l.window {
		return
	}
	l.lastSweep = now
	for k, w := range l.windows {
		if !now.Before(w.start.Add(l.window)) {
			delete(l.windows, k)
		}
	}
}

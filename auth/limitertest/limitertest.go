// Package limitertest is the conformance suite of auth.Limiter: every
// adapter (in memory, on Redis) runs it from its own tests, as every event
// store runs eventstore/storetest. It uses the real clock, so its windows
// are short and its waits generous.
package limitertest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commerce-engine/commerce/auth"
)

// NewLimiter returns a fresh limiter allowing limit attempts per key per
// window, sharing no counts with any other it returned; an integration
// adapter skips (or fails under CI) there when its service is missing.
type NewLimiter func(t *testing.T, limit int, window time.Duration) auth.Limiter

// Run checks the limiters newLimiter returns against the contract: limit
// attempts per key are allowed and the next is denied with a wait within
// the window, keys are independent, the window's end allows again, and
// concurrent attempts on one key are allowed exactly limit times.
func Run(t *testing.T, newLimiter NewLimiter) {
	t.Helper()
	t.Run("limit then denied", func(t *testing.T) {
		t.Parallel()
		const window = 10 * time.Second
		l := newLimiter(t, 3, window)
		ctx := context.Background()
		for i := range 3 {
			ok, retry, err := l.Allow(ctx, "user@example.com")
			if err != nil || !ok || retry != 0 {
				t.Fatalf("attempt %d: %v, %v, %v", i+1, ok, retry, err)
			}
		}
		ok, retry, err := l.Allow(ctx, "user@example.com")
		if err != nil || ok {
			t.Fatalf("attempt 4: %v, %v; want denied", ok, err)
		}
		if retry <= 0 || retry > window {
			t.Fatalf("retryAfter %v, want within (0, %v]", retry, window)
		}
		if ok, _, err := l.Allow(ctx, "other@example.com"); err != nil || !ok {
			t.Fatalf("another key: %v, %v", ok, err)
		}
	})
	t.Run("window ends", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t, 1, 200*time.Millisecond)
		ctx := context.Background()
		if ok, _, err := l.Allow(ctx, "k"); err != nil || !ok {
			t.Fatalf("first: %v, %v", ok, err)
		}
		if ok, _, err := l.Allow(ctx, "k"); err != nil || ok {
			t.Fatalf("second: %v, %v; want denied", ok, err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			time.Sleep(50 * time.Millisecond)
			ok, _, err := l.Allow(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("still denied long after the window")
			}
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		t.Parallel()
		const limit, goroutines, calls = 50, 16, 20
		l := newLimiter(t, limit, time.Hour)
		var allowed [2]atomic.Int64
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				for range calls {
					for i, k := range []string{"shared", fmt.Sprintf("own-%d", g)} {
						ok, _, err := l.Allow(context.Background(), k)
						if err != nil {
							t.Error(err)
							return
						}
						if ok {
							allowed[i].Add(1)
						}
					}
				}
			})
		}
		wg.Wait()
		if got := allowed[0].Load(); got != limit {
			t.Fatalf("shared key: %d allowed, want exactly %d", got, limit)
		}
		if got := allowed[1].Load(); got != goroutines*calls {
			t.Fatalf("own keys: %d allowed, want all %d", got, goroutines*calls)
		}
	})
}

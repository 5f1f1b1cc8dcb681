package auth_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/commerce-engine/commerce/auth"
	"github.com/commerce-engine/commerce/auth/limitertest"
)

// Both limiters satisfy the interface the login flow consumes.
var (
	_ auth.Limiter = (*auth.MemoryLimiter)(nil)
	_ auth.Limiter = (*auth.RedisLimiter)(nil)
)

// step is one call of Allow in a limiter table test: advance the clock by
// after, then expect ok and retryAfter for key.
type step struct {
	after     time.Duration
	key       string
	ok        bool
	retryWant time.Duration
}

func TestMemoryLimiter(t *testing.T) {
	t.Parallel()
	const w = time.Minute
	tests := []struct {
		name  string
		limit int
		steps []step
	}{
		{"limit reached then denied with the rest of the window", 3, []step{
			{0, "a", true, 0},
			{10 * time.Second, "a", true, 0},
			{10 * time.Second, "a", true, 0},
			{10 * time.Second, "a", false, 30 * time.Second},
			{29 * time.Second, "a", false, time.Second},
		}},
		{"window end resets the count", 2, []step{
			{0, "a", true, 0},
			{0, "a", true, 0},
			{0, "a", false, w},
			{w, "a", true, 0},
			{0, "a", true, 0},
			{0, "a", false, w},
		}},
		{"denials do not extend the window", 1, []step{
			{0, "a", true, 0},
			{30 * time.Second, "a", false, 30 * time.Second},
			{29 * time.Second, "a", false, time.Second},
			{time.Second, "a", true, 0},
		}},
		{"keys are independent", 1, []step{
			{0, "a", true, 0},
			{0, "b", true, 0},
			{0, "a", false, w},
			{0, "b", false, w},
			{0, "c", true, 0},
		}},
		{"window starts at the first attempt, not on a grid", 1, []step{
			{45 * time.Second, "a", true, 0},
			{30 * time.Second, "a", false, 30 * time.Second},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			l := auth.NewMemoryLimiter(tt.limit, w, clock.Now)
			for i, s := range tt.steps {
				clock.Advance(s.after)
				ok, retry, err := l.Allow(context.Background(), s.key)
				if err != nil || ok != s.ok || retry != s.retryWant {
					t.Fatalf("step %d (%s): Allow = %v, %v, %v; want %v, %v", i, s.key, ok, retry, err, s.ok, s.retryWant)
				}
			}
		})
	}
}

func TestMemoryLimiterEvicts(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	l := auth.NewMemoryLimiter(5, time.Minute, clock.Now)
	for i := range 1000 {
		if _, _, err := l.Allow(context.Background(), fmt.Sprintf("key-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if l.Len() != 1000 {
		t.Fatalf("Len = %d, want 1000", l.Len())
	}
	clock.Advance(time.Minute)
	if ok, _, _ := l.Allow(context.Background(), "fresh"); !ok {
		t.Fatal("fresh key denied")
	}
	if l.Len() != 1 {
		t.Fatalf("after a window, Len = %d, want 1 (old keys evicted)", l.Len())
	}
}

// TestMemoryLimiterConforms runs the Limiter suite on the real clock.
func TestMemoryLimiterConforms(t *testing.T) {
	t.Parallel()
	limitertest.Run(t, func(_ *testing.T, limit int, window time.Duration) auth.Limiter {
		return auth.NewMemoryLimiter(limit, window, nil)
	})
}

func TestNewMemoryLimiterPanics(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		limit  int
		window time.Duration
	}{{0, time.Second}, {-1, time.Second}, {1, 0}, {1, -time.Second}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewMemoryLimiter(%d, %v) did not panic", c.limit, c.window)
				}
			}()
			auth.NewMemoryLimiter(c.limit, c.window, nil)
		}()
	}
}

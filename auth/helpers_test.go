package auth_test

import (
	"sync"
	"testing"
	"time"

	"github.com/commerce-engine/commerce/auth"
	"github.com/commerce-engine/commerce/domain/customer"
)

// fakeClock is a settable clock for the injected Now of tokens and limiters.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// mustTokens returns Tokens over testSecret and clock, with cfg's other fields.
func mustTokens(tb testing.TB, clock *fakeClock, cfg auth.TokensConfig) *auth.Tokens {
	tb.Helper()
	if cfg.Secret == nil {
		cfg.Secret = testSecret
	}
	cfg.Now = clock.Now
	tokens, err := auth.NewTokens(cfg)
	if err != nil {
		tb.Fatalf("NewTokens: %v", err)
	}
	return tokens
}

// mustIssue issues a token or fails the test.
func mustIssue(tb testing.TB, tokens *auth.Tokens, userID string, role customer.Role) string {
	tb.Helper()
	token, _, err := tokens.Issue(userID, role)
	if err != nil {
		tb.Fatalf("Issue: %v", err)
	}
	return token
}

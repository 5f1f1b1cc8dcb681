package commands_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/commerce-engine/commerce/auth"
	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/customer"
	"github.com/commerce-engine/commerce/eventstore"
)

type mailbox struct {
	mu     sync.Mutex
	tokens map[string]string // email -> last token
}

func newAccounts(t *testing.T) (*commands.Accounts, *mailbox) {
	t.Helper()
	r := mustRunner(t)
	r.Codec = commands.NewCodec()
	tokens, err := auth.NewTokens(auth.TokensConfig{Secret: []byte(strings.Repeat("s", 32))})
	if err != nil {
		t.Fatal(err)
	}
	box := &mailbox{tokens: map[string]string{}}
	return &commands.Accounts{
		Runner:  r,
		Tokens:  tokens,
		Hasher:  auth.Hasher{Params: auth.CheapArgon2Params()},
		Limiter: auth.NewMemoryLimiter(5, time.Minute, time.Now),
		Now:     time.Now,
		OnVerification: func(_ context.Context, _, email, token string) {
			box.mu.Lock()
			box.tokens[email] = token
			box.mu.Unlock()
		},
	}, box
}

const goodPassword = "correct horse battery 9"

func TestRegisterVerifyLoginRefresh(t *testing.T) {
	t.Parallel()
	a, box := newAccounts(t)
	ctx := context.Background()
	s, err := a.Register(ctx, "  Ada@Example.com ", goodPassword, "Ada", "", meta("reg-1"))
	if err != nil {
		t.Fatal(err)
	}
	if s.UserID == "" || s.AccessToken == "" || s.RefreshToken == "" || s.EmailVerified || s.Role != customer.RoleShopper {
		t.Fatalf("session = %+v", s)
	}
	if claims, err := a.Tokens.Verify(s.AccessToken); err != nil || claims.UserID != s.UserID {
		t.Fatalf("access token: %+v %v", claims, err)
	}
	if _, err := a.Register(ctx, "ada@example.com", goodPassword, "Other", "", meta("reg-2")); !errors.Is(err, commands.ErrEmailTaken) {
		t.Fatalf("second registration: %v", err)
	}

	token := box.tokens["ada@example.com"]
	if token == "" {
		t.Fatal("no verification token was handed over")
	}
	if _, _, err := a.VerifyEmail(ctx, token+"x", meta("v-0")); !errors.Is(err, commands.ErrInvalidVerificationToken) {
		t.Fatalf("tampered verification token: %v", err)
	}
	if id, _, err := a.VerifyEmail(ctx, token, meta("v-1")); err != nil || id != s.UserID {
		t.Fatalf("verify: %s %v", id, err)
	}

	if _, err := a.Login(ctx, "ada@example.com", "wrong password 123", "10.0.0.1", false, meta("l-0")); !errors.Is(err, commands.ErrBadCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := a.Login(ctx, "nobody@example.com", goodPassword, "10.0.0.1", false, meta("l-1")); !errors.Is(err, commands.ErrBadCredentials) {
		t.Fatalf("unknown email: %v", err)
	}
	login, err := a.Login(ctx, "ADA@example.com", goodPassword, "10.0.0.1", false, meta("l-2"))
	if err != nil || !login.EmailVerified {
		t.Fatalf("login: %+v %v", login, err)
	}
	if _, err := a.Login(ctx, "ada@example.com", goodPassword, "10.0.0.1", true, meta("l-3")); !errors.Is(err, commands.ErrNotAdmin) {
		t.Fatalf("admin login of a shopper: %v", err)
	}

	next, err := a.Refresh(ctx, login.RefreshToken, meta("r-1"))
	if err != nil || next.RefreshToken == login.RefreshToken {
		t.Fatalf("refresh: %+v %v", next, err)
	}
	// Reusing the spent token revokes the family: the new one dies too.
	if _, err := a.Refresh(ctx, login.RefreshToken, meta("r-2")); !errors.Is(err, commands.ErrInvalidRefreshToken) {
		t.Fatalf("reuse: %v", err)
	}
	if _, err := a.Refresh(ctx, next.RefreshToken, meta("r-3")); !errors.Is(err, commands.ErrInvalidRefreshToken) {
		t.Fatalf("a token of a revoked family: %v", err)
	}
	// Other sessions are not affected.
	if _, err := a.Refresh(ctx, s.RefreshToken, meta("r-4")); err != nil {
		t.Fatalf("another family: %v", err)
	}
	for _, bad := range []string{"", "x", "a.b", strings.Repeat("z", 300)} {
		if _, err := a.Refresh(ctx, bad, meta("r-bad")); !errors.Is(err, commands.ErrInvalidRefreshToken) {
			t.Fatalf("refresh %q: %v", bad, err)
		}
	}
}

func TestRegisterRefusesBadInput(t *testing.T) {
	t.Parallel()
	a, _ := newAccounts(t)
	ctx := context.Background()
	for _, tc := range []struct{ email, password, name string }{
		{"not-an-email", goodPassword, "A"},
		{"a@example.com", "short", "A"},
		{"a@example.com", "a@example.com", "A"},
		{"a@example.com", goodPassword, ""},
	} {
		if _, err := a.Register(ctx, tc.email, tc.password, tc.name, "", meta("bad")); err == nil {
			t.Errorf("registered %+v", tc)
		}
	}
}

func TestConcurrentRegistrationsOfOneEmail(t *testing.T) {
	t.Parallel()
	a, _ := newAccounts(t)
	ctx := context.Background()
	const racers = 8
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = a.Register(ctx, "race@example.com", goodPassword, fmt.Sprint("racer ", i), "", meta(fmt.Sprint("race-", i)))
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, commands.ErrEmailTaken):
			t.Errorf("racer failed with %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d registrations of one email succeeded, want 1", won)
	}
}

func TestLoginIsRateLimited(t *testing.T) {
	t.Parallel()
	a, _ := newAccounts(t)
	a.Limiter = auth.NewMemoryLimiter(3, time.Minute, time.Now)
	ctx := context.Background()
	if _, err := a.Register(ctx, "lim@example.com", goodPassword, "L", "", meta("reg")); err != nil {
		t.Fatal(err)
	}
	var last error
	for i := range 4 {
		_, last = a.Login(ctx, "lim@example.com", "wrong password 123", "10.0.0.2", false, meta(fmt.Sprint("l", i)))
	}
	var rl *commands.RateLimitError
	if !errors.As(last, &rl) || rl.After <= 0 {
		t.Fatalf("4th attempt: %v, want a rate limit with a wait", last)
	}
	// Even the right password waits for the window.
	if _, err := a.Login(ctx, "lim@example.com", goodPassword, "10.0.0.3", false, meta("l-ok")); !errors.Is(err, commands.ErrRateLimited) {
		t.Fatalf("right password while limited: %v", err)
	}
}

func TestAdminLogin(t *testing.T) {
	t.Parallel()
	a, _ := newAccounts(t)
	ctx := context.Background()
	s, err := a.Register(ctx, "root@example.com", goodPassword, "Root", customer.RoleAdmin, meta("reg"))
	if err != nil {
		t.Fatal(err)
	}
	admin, err := a.Login(ctx, "root@example.com", goodPassword, "10.0.0.4", true, meta("l"))
	if err != nil || admin.Role != customer.RoleAdmin {
		t.Fatalf("admin login: %+v %v", admin, err)
	}
	if claims, _ := a.Tokens.Verify(admin.AccessToken); claims.Role != customer.RoleAdmin || claims.UserID != s.UserID {
		t.Fatalf("admin token claims = %+v", claims)
	}
}

// TestVerificationTokenIsSealedIntoItsEvent: with a sealer the event carries
// the token encrypted (never in clear), and opening it gives the token the
// shopper would receive.
func TestVerificationTokenIsSealedIntoItsEvent(t *testing.T) {
	t.Parallel()
	a, box := newAccounts(t)
	sealer, err := auth.NewSealer([]byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	a.Seal = sealer.Seal
	ctx := context.Background()
	s, err := a.Register(ctx, "bo@example.com", goodPassword, "Bo", "", meta("reg-seal"))
	if err != nil {
		t.Fatal(err)
	}
	evs, err := a.Runner.Store.ReadStream(ctx, customer.StreamID(s.UserID), eventstore.ReadStreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	token := box.tokens["bo@example.com"]
	found := false
	for _, e := range evs {
		if strings.Contains(string(e.Data), token) {
			t.Fatalf("the token is in clear in %s", e.Type)
		}
		p, err := a.Runner.Codec.Decode(e)
		if err != nil {
			t.Fatal(err)
		}
		if req, ok := p.(customer.EmailVerificationRequested); ok {
			found = true
			if got, err := sealer.Open(req.SealedToken); err != nil || got != token {
				t.Fatalf("opened %q %v, want the delivered token", got, err)
			}
		}
	}
	if !found {
		t.Fatal("no verification request recorded")
	}
}

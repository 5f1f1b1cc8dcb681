package customer_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/commerce-engine/commerce/domain/customer"
	"github.com/commerce-engine/commerce/domain/internal/decidertest"
)

type testCase = decidertest.Case[customer.State]

var (
	t0    = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	t1    = t0.Add(time.Minute)
	later = t0.Add(24 * time.Hour)
)

const id = "cust-1"

func registered() customer.Registered {
	return customer.Registered{CustomerID: id, Email: "ann@example.com", Name: "Ann", PasswordHash: "$argon2id$x", Role: customer.RoleShopper, At: t0}
}

func requested(hash string) customer.EmailVerificationRequested {
	return customer.EmailVerificationRequested{CustomerID: id, Email: "ann@example.com", TokenHash: hash, ExpiresAt: later, At: t0}
}

func issued(fam, hash string) customer.RefreshTokenIssued {
	return customer.RefreshTokenIssued{CustomerID: id, FamilyID: fam, TokenHash: hash, ExpiresAt: later, At: t0}
}

func rotated(fam, prev, next string) customer.RefreshTokenRotated {
	return customer.RefreshTokenRotated{CustomerID: id, FamilyID: fam, PreviousHash: prev, TokenHash: next, ExpiresAt: later, At: t0}
}

func TestRegister(t *testing.T) {
	t.Parallel()
	ok := customer.Register{CustomerID: id, Email: "  Ann@Example.COM ", Name: " Ann ", PasswordHash: "$argon2id$x", At: t0}
	with := func(f func(*customer.Register)) customer.Register { c := ok; f(&c); return c }
	cases := []testCase{
		{Name: "accepted, email normalised, shopper by default", When: ok, Then: []any{registered()}},
		{Name: "as admin", When: with(func(c *customer.Register) { c.Role = customer.RoleAdmin }), Then: []any{
			func() customer.Registered { e := registered(); e.Role = customer.RoleAdmin; return e }()}},
		{Name: "twice", Given: []any{registered()}, When: ok, Err: customer.ErrAlreadyRegistered},
		{Name: "no id", When: with(func(c *customer.Register) { c.CustomerID = "" }), Err: customer.ErrCustomerIDRequired},
		{Name: "no name", When: with(func(c *customer.Register) { c.Name = " " }), Err: customer.ErrNameRequired},
		{Name: "no hash", When: with(func(c *customer.Register) { c.PasswordHash = "" }), Err: customer.ErrPasswordHashRequired},
		{Name: "bad role", When: with(func(c *customer.Register) { c.Role = "root" }), Err: customer.ErrInvalidRole},
	}
	for i, bad := range []string{"", "ann", "ann@", "@example.com", "ann@example", "Ann <ann@example.com>", "ann@@example.com", "ann@example.com.", "a b@example.com", strings.Repeat("a", 250) + "@example.com",
		strings.Repeat("a", 65) + "@example.com", ".ann@example.com", "an..n@example.com", "ann.@example.com", "ann@-example.com", "ann@example-.com",
		"ann@exa_mple.com", "ann@example.c", "ann@example.c0m", "ann@[127.0.0.1]", "\"ann\"@example.com", "ann@example..com", "ann@.example.com"} {
		cases = append(cases, testCase{Name: fmt.Sprintf("bad email %d %.24s", i, bad), When: with(func(c *customer.Register) { c.Email = bad }), Err: customer.ErrInvalidEmail})
	}
	decidertest.Run(t, customer.Evolve, customer.Decide, cases)
}

func TestRequestEmailVerification(t *testing.T) {
	t.Parallel()
	req := func(hash string, exp time.Time) customer.RequestEmailVerification {
		return customer.RequestEmailVerification{CustomerID: id, TokenHash: hash, ExpiresAt: exp, At: t1}
	}
	decidertest.Run(t, customer.Evolve, customer.Decide, []testCase{
		{Name: "accepted", Given: []any{registered()}, When: req("h1", later), Then: []any{
			customer.EmailVerificationRequested{CustomerID: id, Email: "ann@example.com", TokenHash: "h1", ExpiresAt: later, At: t1}}},
		{Name: "again supersedes", Given: []any{registered(), requested("h1")}, When: req("h2", later), Then: []any{
			customer.EmailVerificationRequested{CustomerID: id, Email: "ann@example.com", TokenHash: "h2", ExpiresAt: later, At: t1}}},
		{Name: "already verified", Given: []any{registered(), requested("h1"), customer.EmailVerified{}}, When: req("h2", later), Err: customer.ErrEmailAlreadyVerified},
		{Name: "no hash", Given: []any{registered()}, When: req("", later), Err: customer.ErrTokenHashRequired},
		{Name: "expiry not after now", Given: []any{registered()}, When: req("h1", t1), Err: customer.ErrInvalidExpiry},
		{Name: "unknown customer", When: req("h1", later), Err: customer.ErrCustomerNotFound},
	})
}

func TestVerifyEmail(t *testing.T) {
	t.Parallel()
	ver := func(hash string, at time.Time) customer.VerifyEmail {
		return customer.VerifyEmail{CustomerID: id, TokenHash: hash, At: at}
	}
	base := []any{registered(), requested("h1")}
	decidertest.Run(t, customer.Evolve, customer.Decide, []testCase{
		{Name: "accepted", Given: base, When: ver("h1", t1), Then: []any{customer.EmailVerified{CustomerID: id, Email: "ann@example.com", At: t1}}},
		{Name: "wrong token", Given: base, When: ver("h2", t1), Err: customer.ErrVerificationTokenInvalid},
		{Name: "empty token", Given: base, When: ver("", t1), Err: customer.ErrVerificationTokenInvalid},
		{Name: "superseded token", Given: append(base, requested("h2")), When: ver("h1", t1), Err: customer.ErrVerificationTokenInvalid},
		{Name: "expired", Given: base, When: ver("h1", later), Err: customer.ErrVerificationTokenExpired},
		{Name: "nothing requested", Given: []any{registered()}, When: ver("h1", t1), Err: customer.ErrNoVerificationPending},
		{Name: "twice", Given: append(base, customer.EmailVerified{}), When: ver("h1", t1), Err: customer.ErrEmailAlreadyVerified},
		{Name: "unknown customer", When: ver("h1", t1), Err: customer.ErrCustomerNotFound},
	})
}

func TestGrantRole(t *testing.T) {
	t.Parallel()
	g := func(r customer.Role) customer.GrantRole { return customer.GrantRole{CustomerID: id, Role: r, At: t1} }
	decidertest.Run(t, customer.Evolve, customer.Decide, []testCase{
		{Name: "admin", Given: []any{registered()}, When: g(customer.RoleAdmin), Then: []any{customer.RoleGranted{CustomerID: id, Role: customer.RoleAdmin, At: t1}}},
		{Name: "analyst", Given: []any{registered()}, When: g(customer.RoleAnalyst), Then: []any{customer.RoleGranted{CustomerID: id, Role: customer.RoleAnalyst, At: t1}}},
		{Name: "held already is a no-op", Given: []any{registered()}, When: g(customer.RoleShopper)},
		{Name: "granted already is a no-op", Given: []any{registered(), customer.RoleGranted{Role: customer.RoleAdmin}}, When: g(customer.RoleAdmin)},
		{Name: "unknown role", Given: []any{registered()}, When: g("superuser"), Err: customer.ErrInvalidRole},
		{Name: "empty role", Given: []any{registered()}, When: g(""), Err: customer.ErrInvalidRole},
		{Name: "unknown customer", When: g(customer.RoleAdmin), Err: customer.ErrCustomerNotFound},
	})
}

func TestIssueRefreshToken(t *testing.T) {
	t.Parallel()
	is := func(fam, hash string, exp time.Time) customer.IssueRefreshToken {
		return customer.IssueRefreshToken{CustomerID: id, FamilyID: fam, TokenHash: hash, ExpiresAt: exp, At: t1}
	}
	decidertest.Run(t, customer.Evolve, customer.Decide, []testCase{
		{Name: "accepted", Given: []any{registered()}, When: is("f1", "r1", later), Then: []any{
			customer.RefreshTokenIssued{CustomerID: id, FamilyID: "f1", TokenHash: "r1", ExpiresAt: later, At: t1}}},
		{Name: "second family", Given: []any{registered(), issued("f1", "r1")}, When: is("f2", "r9", later), Then: []any{
			customer.RefreshTokenIssued{CustomerID: id, FamilyID: "f2", TokenHash: "r9", ExpiresAt: later, At: t1}}},
		{Name: "family reused", Given: []any{registered(), issued("f1", "r1")}, When: is("f1", "r2", later), Err: customer.ErrRefreshFamilyExists},
		{Name: "no family id", Given: []any{registered()}, When: is("", "r1", later), Err: customer.ErrFamilyIDRequired},
		{Name: "no hash", Given: []any{registered()}, When: is("f1", "", later), Err: customer.ErrTokenHashRequired},
		{Name: "expiry not after now", Given: []any{registered()}, When: is("f1", "r1", t0), Err: customer.ErrInvalidExpiry},
		{Name: "unknown customer", When: is("f1", "r1", later), Err: customer.ErrCustomerNotFound},
	})
}

func TestRotateRefreshToken(t *testing.T) {
	t.Parallel()
	rot := func(presented, next string, at time.Time) customer.RotateRefreshToken {
		return customer.RotateRefreshToken{CustomerID: id, FamilyID: "f1", PresentedHash: presented, NewHash: next, ExpiresAt: later.Add(time.Hour), At: at}
	}
	base := []any{registered(), issued("f1", "r1")}
	decidertest.Run(t, customer.Evolve, customer.Decide, []testCase{
		{Name: "accepted", Given: base, When: rot("r1", "r2", t1), Then: []any{customer.RefreshTokenRotated{
			CustomerID: id, FamilyID: "f1", PreviousHash: "r1", TokenHash: "r2", ExpiresAt: later.Add(time.Hour), At: t1}}},
		{Name: "second rotation", Given: append(base, rotated("f1", "r1", "r2")), When: rot("r2", "r3", t1), Then: []any{customer.RefreshTokenRotated{
			CustomerID: id, FamilyID: "f1", PreviousHash: "r2", TokenHash: "r3", ExpiresAt: later.Add(time.Hour), At: t1}}},
		{Name: "spent token reused", Given: append(base, rotated("f1", "r1", "r2")), When: rot("r1", "r3", t1), Err: customer.ErrRefreshTokenReused},
		{Name: "foreign token", Given: base, When: rot("zz", "r2", t1), Err: customer.ErrRefreshTokenInvalid},
		{Name: "empty token", Given: base, When: rot("", "r2", t1), Err: customer.ErrRefreshTokenInvalid},
		{Name: "expired", Given: base, When: rot("r1", "r2", later), Err: customer.ErrRefreshTokenExpired},
		{Name: "revoked family", Given: append(base, customer.RefreshTokenFamilyRevoked{FamilyID: "f1"}), When: rot("r1", "r2", t1), Err: customer.ErrRefreshFamilyRevoked},
		{Name: "unknown family", Given: []any{registered()}, When: rot("r1", "r2", t1), Err: customer.ErrRefreshFamilyUnknown},
		{Name: "no new hash", Given: base, When: rot("r1", "", t1), Err: customer.ErrTokenHashRequired},
		{Name: "new expiry not after now", Given: base, When: customer.RotateRefreshToken{CustomerID: id, FamilyID: "f1", PresentedHash: "r1", NewHash: "r2", ExpiresAt: t1, At: t1}, Err: customer.ErrInvalidExpiry},
		{Name: "unknown customer", When: rot("r1", "r2", t1), Err: customer.ErrCustomerNotFound},
	})
}

func TestRevokeRefreshFamily(t *testing.T) {
	t.Parallel()
	rev := func(fam string) customer.RevokeRefreshFamily {
		return customer.RevokeRefreshFamily{CustomerID: id, FamilyID: fam, Reason: "reuse", At: t1}
	}
	base := []any{registered(), issued("f1", "r1")}
	decidertest.Run(t, customer.Evolve, customer.Decide, []testCase{
		{Name: "accepted", Given: base, When: rev("f1"), Then: []any{customer.RefreshTokenFamilyRevoked{CustomerID: id, FamilyID: "f1", Reason: "reuse", At: t1}}},
		{Name: "twice is a no-op", Given: append(base, customer.RefreshTokenFamilyRevoked{FamilyID: "f1"}), When: rev("f1")},
		{Name: "unknown family", Given: base, When: rev("f2"), Err: customer.ErrRefreshFamilyUnknown},
		{Name: "unknown customer", When: rev("f1"), Err: customer.ErrCustomerNotFound},
	})
}

func TestUnknownCommand(t *testing.T) {
	t.Parallel()
	decidertest.Run(t, customer.Evolve, customer.Decide, []testCase{
		{Name: "foreign command", Given: []any{registered()}, When: "x", Err: customer.ErrUnknownCommand},
	})
}

func TestEvolveDoesNotMutate(t *testing.T) {
	t.Parallel()
	s := customer.Evolve(customer.Evolve(customer.State{}, registered()), issued("f1", "r1"))
	_ = customer.Evolve(s, rotated("f1", "r1", "r2"))
	_ = customer.Evolve(s, customer.RefreshTokenFamilyRevoked{FamilyID: "f1"})
	_ = customer.Evolve(s, customer.RoleGranted{Role: customer.RoleAdmin})
	if f := s.Families["f1"]; f.CurrentHash != "r1" || f.Revoked || len(f.Spent) != 0 || len(s.Roles) != 1 {
		t.Fatalf("Evolve mutated its input: %+v %v", f, s.Roles)
	}
	if !customer.Evolve(s, 3.14).Registered {
		t.Fatal("unknown event changed the state")
	}
}

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		" Ann@Example.COM ":              "ann@example.com", //nolint:gocritic // mapKey: the spaces are the input being trimmed
		"first.last+tag@mail.example.io": "first.last+tag@mail.example.io",
		"o'brien@x-y.example.de":         "o'brien@x-y.example.de",
	} {
		got, err := customer.NormalizeEmail(in)
		if err != nil || got != want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

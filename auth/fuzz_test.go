package auth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/commerce-engine/commerce/auth"
	"github.com/commerce-engine/commerce/domain/customer"
)

// FuzzParseRefreshToken checks that any client string either parses to the
// family and hash a fresh token would have, or is ErrRefreshTokenMalformed.
func FuzzParseRefreshToken(f *testing.F) {
	good, _ := auth.NewRefreshToken("fam-1")
	for _, s := range []string{good, "", ".", "a.b", good + "=", "fam.1." + strings.Repeat("A", 43)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		family, hash, err := auth.ParseRefreshToken(s)
		if err != nil {
			if !errors.Is(err, auth.ErrRefreshTokenMalformed) || family != "" || hash != "" {
				t.Fatalf("ParseRefreshToken error %v with %q, %q", err, family, hash)
			}
			return
		}
		if !auth.ValidFamilyID(family) || !strings.HasPrefix(s, family+".") || hash != auth.HashToken(s) {
			t.Fatalf("accepted %q as family %q, hash %q", s, family, hash)
		}
	})
}

// FuzzVerify checks that no string makes Verify panic, return an untyped
// error or accept claims the Tokens never signed.
func FuzzVerify(f *testing.F) {
	clock := newFakeClock()
	tokens := mustTokens(f, clock, auth.TokensConfig{})
	good := mustIssue(f, tokens, "user-1", customer.RoleShopper)
	for _, s := range []string{good, "", "..", "a.b.c", good[:len(good)-1], "eyJhbGciOiJub25lIn0.e30."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		claims, err := tokens.Verify(s)
		// Only shopper tokens for user-1 are ever signed with this key (each
		// fuzz worker issues its own), so nothing else may be accepted.
		if err == nil && (claims.UserID != "user-1" || claims.Role != customer.RoleShopper) {
			t.Fatalf("accepted a token that was never issued: %q as %+v", s, claims)
		}
		if err != nil && !errors.Is(err, auth.ErrTokenInvalid) && !errors.Is(err, auth.ErrTokenExpired) {
			t.Fatalf("untyped error %v", err)
		}
	})
}

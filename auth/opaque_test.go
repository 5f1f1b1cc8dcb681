package auth_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/commerce-engine/commerce/auth"
)

func TestRefreshTokenRoundTrip(t *testing.T) {
	t.Parallel()
	family := auth.NewRefreshFamilyID()
	if !auth.ValidFamilyID(family) {
		t.Fatalf("NewRefreshFamilyID %q is not valid", family)
	}
	token, hash := auth.NewRefreshToken(family)
	f, secret, ok := strings.Cut(token, ".")
	if !ok || f != family || len(secret) != 43 {
		t.Fatalf("token %q is not <family>.<43 base64url chars>", token)
	}
	sum := sha256.Sum256([]byte(token))
	if hash != hex.EncodeToString(sum[:]) || hash != auth.HashToken(token) {
		t.Fatal("hash is not the hex SHA-256 of the token")
	}
	if strings.Contains(hash, secret) {
		t.Fatal("hash contains the secret")
	}
	gotFamily, gotHash, err := auth.ParseRefreshToken(token)
	if err != nil || gotFamily != family || gotHash != hash {
		t.Fatalf("ParseRefreshToken = %q, %q, %v", gotFamily, gotHash, err)
	}
	other, otherHash := auth.NewRefreshToken(family)
	if other == token || otherHash == hash {
		t.Fatal("two refresh tokens of one family are equal")
	}
}

func TestParseRefreshTokenErrors(t *testing.T) {
	t.Parallel()
	token, _ := auth.NewRefreshToken("fam-1")
	_, secret, _ := strings.Cut(token, ".")
	tests := []struct{ name, token string }{
		{"empty", ""},
		{"no dot", "fam-1" + secret},
		{"no family", "." + secret},
		{"no secret", "fam-1."},
		{"two dots", "fam-1." + secret + ".x"},
		{"dot in family", "fam.1." + secret},
		{"bad family chars", "fam/1." + secret},
		{"family too long", strings.Repeat("f", 65) + "." + secret},
		{"secret too short", "fam-1." + secret[:42]},
		{"secret too long", "fam-1." + secret + "A"},
		{"secret padded", "fam-1." + secret + "="},
		{"secret std base64", "fam-1." + strings.Repeat("+", 43)},
		{"secret not canonical", "fam-1." + secret[:42] + "B"}, // 43rd char carries 4 bits, 2 must be zero
		{"whitespace", " " + token},
		{"access token", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			family, hash, err := auth.ParseRefreshToken(tt.token)
			if !errors.Is(err, auth.ErrRefreshTokenMalformed) || family != "" || hash != "" {
				t.Fatalf("ParseRefreshToken = %q, %q, %v; want ErrRefreshTokenMalformed", family, hash, err)
			}
		})
	}
}

func TestNewRefreshTokenBadFamilyPanics(t *testing.T) {
	t.Parallel()
	for _, family := range []string{"", "a.b", "a b", strings.Repeat("f", 65)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewRefreshToken(%q) did not panic", family)
				}
			}()
			auth.NewRefreshToken(family)
		}()
	}
}

func TestVerificationToken(t *testing.T) {
	t.Parallel()
	token, hash := auth.NewVerificationToken()
	if len(token) != 43 || strings.ContainsAny(token, "+/=.") {
		t.Fatalf("token %q is not 43 URL-safe characters", token)
	}
	got, err := auth.ParseVerificationToken(token)
	if err != nil || got != hash || hash != auth.HashToken(token) {
		t.Fatalf("ParseVerificationToken = %q, %v", got, err)
	}
	if other, _ := auth.NewVerificationToken(); other == token {
		t.Fatal("two verification tokens are equal")
	}
	for _, bad := range []string{"", token[:42], token + "A", "fam-1." + token, strings.Repeat("!", 43)} {
		if h, err := auth.ParseVerificationToken(bad); !errors.Is(err, auth.ErrVerificationTokenMalformed) || h != "" {
			t.Errorf("ParseVerificationToken(%q) = %q, %v", bad, h, err)
		}
	}
}

package auth_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/commerce-engine/commerce/auth"
	"github.com/commerce-engine/commerce/domain/customer"
)

func TestTokensIssueVerify(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	tokens := mustTokens(t, clock, auth.TokensConfig{})
	token, expiresIn, err := tokens.Issue("user-1", customer.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if expiresIn != 15*time.Minute || tokens.TTL() != expiresIn {
		t.Fatalf("expiresIn = %v, want 15m", expiresIn)
	}
	claims, err := tokens.Verify(token)
	if err != nil {
		t.Fatal(err)
	}
	if claims.UserID != "user-1" || claims.Role != customer.RoleAdmin || claims.ID == "" ||
		!claims.IssuedAt.Equal(clock.Now()) || !claims.ExpiresAt.Equal(clock.Now().Add(15*time.Minute)) {
		t.Fatalf("claims = %+v", claims)
	}

	payload := decodeSegment(t, token, 1)
	for _, k := range []string{"sub", "role", "iat", "exp", "iss", "aud", "jti"} {
		if _, ok := payload[k]; !ok {
			t.Errorf("payload lacks %q: %v", k, payload)
		}
	}
	if payload["iss"] != auth.DefaultIssuer {
		t.Errorf("iss = %v", payload["iss"])
	}
	if header := decodeSegment(t, token, 0); header["alg"] != "HS256" {
		t.Errorf("alg = %v", header["alg"])
	}

	other := mustIssue(t, tokens, "user-1", customer.RoleAdmin)
	c2, err := tokens.Verify(other)
	if err != nil {
		t.Fatal(err)
	}
	if c2.ID == claims.ID {
		t.Fatal("two tokens share a jti")
	}
}

func TestTokensExpiry(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	tokens := mustTokens(t, clock, auth.TokensConfig{TTL: time.Minute})
	token := mustIssue(t, tokens, "user-1", customer.RoleShopper)

	clock.Advance(time.Minute - time.Second)
	if _, err := tokens.Verify(token); err != nil {
		t.Fatalf("one second before exp: %v", err)
	}
	clock.Advance(time.Second)
	if _, err := tokens.Verify(token); !errors.Is(err, auth.ErrTokenExpired) {
		t.Fatalf("at exp: %v, want ErrTokenExpired", err)
	}
	clock.Advance(time.Hour)
	_, err := tokens.Verify(token)
	if !errors.Is(err, auth.ErrTokenExpired) || errors.Is(err, auth.ErrTokenInvalid) {
		t.Fatalf("an hour later: %v, want only ErrTokenExpired", err)
	}

	lenient := mustTokens(t, clock, auth.TokensConfig{TTL: time.Minute, Leeway: 30 * time.Second})
	fresh := mustIssue(t, lenient, "user-1", customer.RoleShopper)
	clock.Advance(time.Minute + 29*time.Second)
	if _, err := lenient.Verify(fresh); err != nil {
		t.Fatalf("within leeway: %v", err)
	}
}

func TestTokensIssuedInTheFuture(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	tokens := mustTokens(t, clock, auth.TokensConfig{})
	clock.Advance(time.Hour)
	token := mustIssue(t, tokens, "user-1", customer.RoleShopper)
	clock.Advance(-time.Hour)
	if _, err := tokens.Verify(token); !errors.Is(err, auth.ErrTokenInvalid) {
		t.Fatalf("iat in the future: %v, want ErrTokenInvalid", err)
	}
}

func TestTokensRejectInvalid(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	tokens := mustTokens(t, clock, auth.TokensConfig{})
	good := mustIssue(t, tokens, "user-1", customer.RoleShopper)
	parts := strings.Split(good, ".")

	otherKey := mustTokens(t, clock, auth.TokensConfig{Secret: []byte("another secret of at least 32 bytes!")})
	otherAud := mustTokens(t, clock, auth.TokensConfig{Audience: "another-api"})
	otherIss := mustTokens(t, clock, auth.TokensConfig{Issuer: "someone-else"})

	// tamperedPayload turns the shopper into an admin and keeps the signature.
	payload := decodeSegment(t, good, 1)
	payload["role"] = "admin"
	tamperedPayload := parts[0] + "." + encodeSegment(t, payload) + "." + parts[2]

	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	sig[len(sig)/2] ^= 1 // a well-formed but wrong signature
	tamperedSig := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)

	now := clock.Now()
	valid := jwt.MapClaims{
		"sub": "user-1", "role": "admin", "iss": auth.DefaultIssuer, "aud": auth.DefaultAudience,
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": "j1",
	}
	without := func(k string) jwt.MapClaims {
		c := jwt.MapClaims{}
		for key, v := range valid {
			if key != k {
				c[key] = v
			}
		}
		return c
	}
	with := func(k string, v any) jwt.MapClaims {
		c := without(k)
		c[k] = v
		return c
	}
	sign := func(method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	expiredWrongIss := with("iss", "someone-else")
	expiredWrongIss["exp"] = now.Add(-time.Minute).Unix()
	expiredWrongIss["iat"] = now.Add(-time.Hour).Unix()

	tests := []struct {
		name, token string
	}{
		{"empty", ""},
		{"garbage", "not-a-token"},
		{"two segments", parts[0] + "." + parts[1]},
		{"four segments", good + ".x"},
		{"dots only", ".."},
		{"bad base64 header", "!!!." + parts[1] + "." + parts[2]},
		{"header not json", encodeRaw("nope") + "." + parts[1] + "." + parts[2]},
		{"payload not json", parts[0] + "." + encodeRaw("nope") + "." + parts[2]},
		{"padded segment", parts[0] + "=." + parts[1] + "." + parts[2]},
		{"huge", strings.Repeat("a", 10000)},
		{"with whitespace", " " + good},
		{"tampered payload", tamperedPayload},
		{"tampered signature", tamperedSig},
		{"no signature", parts[0] + "." + parts[1] + "."},
		{"wrong key", mustIssue(t, otherKey, "user-1", customer.RoleShopper)},
		{"wrong audience", mustIssue(t, otherAud, "user-1", customer.RoleShopper)},
		{"wrong issuer", mustIssue(t, otherIss, "user-1", customer.RoleShopper)},
		{"alg none", sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid)},
		{"alg HS512 same key", sign(jwt.SigningMethodHS512, testSecret, valid)},
		{"alg HS384 same key", sign(jwt.SigningMethodHS384, testSecret, valid)},
		{"no sub", sign(jwt.SigningMethodHS256, testSecret, without("sub"))},
		{"no role", sign(jwt.SigningMethodHS256, testSecret, without("role"))},
		{"unknown role", sign(jwt.SigningMethodHS256, testSecret, with("role", "root"))},
		{"no jti", sign(jwt.SigningMethodHS256, testSecret, without("jti"))},
		{"no exp", sign(jwt.SigningMethodHS256, testSecret, without("exp"))},
		{"no iat", sign(jwt.SigningMethodHS256, testSecret, without("iat"))},
		{"no aud", sign(jwt.SigningMethodHS256, testSecret, without("aud"))},
		{"exp not a number", sign(jwt.SigningMethodHS256, testSecret, with("exp", "tomorrow"))},
		{"nbf in the future", sign(jwt.SigningMethodHS256, testSecret, with("nbf", now.Add(time.Hour).Unix()))},
		{"expired and wrong issuer", sign(jwt.SigningMethodHS256, testSecret, expiredWrongIss)},
	}
	// Sanity: the hand-made valid claims verify, so each case fails for its own defect.
	if _, err := tokens.Verify(sign(jwt.SigningMethodHS256, testSecret, valid)); err != nil {
		t.Fatalf("hand-made valid token: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			claims, err := tokens.Verify(tt.token)
			if !errors.Is(err, auth.ErrTokenInvalid) || errors.Is(err, auth.ErrTokenExpired) {
				t.Fatalf("Verify = %+v, %v; want ErrTokenInvalid", claims, err)
			}
			if claims != (auth.Claims{}) {
				t.Fatalf("claims returned with an error: %+v", claims)
			}
			if len(tt.token) > 20 && strings.Contains(err.Error(), tt.token) {
				t.Fatal("error quotes the token")
			}
		})
	}
}

func TestNewTokensConfig(t *testing.T) {
	t.Parallel()
	if _, err := auth.NewTokens(auth.TokensConfig{Secret: testSecret[:31]}); !errors.Is(err, auth.ErrSecretTooShort) {
		t.Fatalf("31-byte secret: %v", err)
	}
	if _, err := auth.NewTokens(auth.TokensConfig{}); !errors.Is(err, auth.ErrSecretTooShort) {
		t.Fatalf("no secret: %v", err)
	}
	if _, err := auth.NewTokens(auth.TokensConfig{Secret: testSecret, TTL: -time.Second}); err == nil {
		t.Fatal("negative TTL accepted")
	}

	secret := append([]byte(nil), testSecret...)
	tokens, err := auth.NewTokens(auth.TokensConfig{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	token := mustIssue(t, tokens, "user-1", customer.RoleShopper)
	secret[0] ^= 1 // the caller's slice changing must not change the key
	if _, err := tokens.Verify(token); err != nil {
		t.Fatalf("after the caller changed its secret slice: %v", err)
	}
}

func TestIssueRejects(t *testing.T) {
	t.Parallel()
	tokens := mustTokens(t, newFakeClock(), auth.TokensConfig{})
	if _, _, err := tokens.Issue("", customer.RoleShopper); err == nil {
		t.Fatal("empty user id accepted")
	}
	if _, _, err := tokens.Issue("user-1", customer.Role("root")); !errors.Is(err, customer.ErrInvalidRole) {
		t.Fatalf("unknown role: %v", err)
	}
}

func decodeSegment(t *testing.T, token string, i int) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func encodeSegment(t *testing.T, m map[string]any) string {
	t.Helper()
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

func encodeRaw(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

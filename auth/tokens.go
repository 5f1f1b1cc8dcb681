package auth

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/commerce-engine/commerce/domain/customer"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Token errors returned by Tokens.Verify; the middleware answers 401 for both
// without telling them apart, logs may.
var (
	// ErrTokenExpired means a token that is otherwise authentic has passed its exp.
	ErrTokenExpired = errors.New("auth: access token expired")
	// ErrTokenInvalid means a token is malformed, tampered with, signed with
	// another key or algorithm (including "none"), or meant for another issuer or audience.
	ErrTokenInvalid = errors.New("auth: access token invalid")
	// ErrSecretTooShort means a signing secret has fewer than MinSecretBytes bytes.
	ErrSecretTooShort = fmt.Errorf("auth: signing secret must be at least %d bytes", MinSecretBytes)
)

// Defaults of TokensConfig.
const (
	// MinSecretBytes is the shortest HS256 signing secret accepted (256 bits).
	MinSecretBytes = 32
	// DefaultAccessTTL is how long an access token lives; short, because it
	// cannot be revoked: refresh tokens carry the long-lived session.
	DefaultAccessTTL = 15 * time.Minute
	// DefaultIssuer is the iss claim written and required.
	DefaultIssuer = "commerce"
	// DefaultAudience is the aud claim written and required.
	DefaultAudience = "commerce-api"
)

// TokensConfig configures NewTokens; zero fields take the defaults.
type TokensConfig struct {
	// Secret is the HS256 key, at least MinSecretBytes bytes (see LoadOrCreateSecret).
	Secret []byte
	// Issuer is the iss claim; default DefaultIssuer.
	Issuer string
	// Audience is the aud claim; default DefaultAudience.
	Audience string
	// TTL is the access token lifetime; default DefaultAccessTTL.
	TTL time.Duration
	// Leeway tolerates clock skew between instances when checking exp and iat; default 0.
	Leeway time.Duration
	// Now is the clock; default time.Now. Tests inject a fake one.
	Now func() time.Time
}

// Claims is what an authentic access token says about its bearer.
type Claims struct {
	// UserID is the sub claim: the user's id.
	UserID string
	// Role is the role claim.
	Role customer.Role
	// ID is the jti claim, unique per token.
	ID string
	// IssuedAt is the iat claim (whole seconds).
	IssuedAt time.Time
	// ExpiresAt is the exp claim (whole seconds).
	ExpiresAt time.Time
}

// maxTokenBytes bounds what Verify will parse; issued tokens are ~350 bytes.
const maxTokenBytes = 4096

// jwtClaims is the token's JSON payload.
type jwtClaims struct {
	Role customer.Role `json:"role"`
	jwt.RegisteredClaims
}

// Tokens issues and verifies HS256 access tokens; it is safe for concurrent use.
type Tokens struct {
	secret   []byte
	issuer   string
	audience string
	ttl      time.Duration
	leeway   time.Duration
	now      func() time.Time
	parser   *jwt.Parser
}

// NewTokens builds a Tokens from cfg; it returns ErrSecretTooShort for a
// short secret and an error for a negative TTL or leeway.
func NewTokens(cfg TokensConfig) (*Tokens, error) {
	if len(cfg.Secret) < MinSecretBytes {
		return nil, ErrSecretTooShort
	}
	if cfg.TTL < 0 || cfg.Leeway < 0 {
		return nil, errors.New("auth: token TTL and leeway must not be negative")
	}
	t := &Tokens{
		secret:   append([]byte(nil), cfg.Secret...),
		issuer:   cfg.Issuer,
		audience: cfg.Audience,
		ttl:      cfg.TTL,
		now:      cfg.Now,
	}
	if t.issuer == "" {
		t.issuer = DefaultIssuer
	}
	if t.audience == "" {
		t.audience = DefaultAudience
	}
	if t.ttl == 0 {
		t.ttl = DefaultAccessTTL
	}
	if t.now == nil {
		t.now = time.Now
	}
	t.leeway = cfg.Leeway
	// Claims are checked by hand in Verify, after the signature, so that
	// "expired" is only ever said of a token that is otherwise valid.
	t.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithoutClaimsValidation(),
		jwt.WithStrictDecoding(),
	)
	return t, nil
}

// TTL returns the lifetime of issued tokens, the expires_in of API answers.
func (t *Tokens) TTL() time.Duration { return t.ttl }

// Issue signs an access token for userID with role, valid for TTL from now;
// it returns an error for an empty userID or an unknown role.
func (t *Tokens) Issue(userID string, role customer.Role) (token string, expiresIn time.Duration, err error) {
	if userID == "" {
		return "", 0, errors.New("auth: issue token: empty user id")
	}
	if !role.Valid() {
		return "", 0, fmt.Errorf("auth: issue token: %w", customer.ErrInvalidRole)
	}
	now := t.now()
	c := jwtClaims{
		Role: role,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   userID,
			Issuer:    t.issuer,
			Audience:  jwt.ClaimStrings{t.audience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
			ID:        uuid.NewString(),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
	if err != nil {
		return "", 0, fmt.Errorf("auth: sign token: %w", err)
	}
	return s, t.ttl, nil
}

// Verify checks token's signature (HS256 with this secret only), issuer,
// audience, iat and exp, and returns its claims; it returns ErrTokenExpired
// for an authentic token past its expiry and ErrTokenInvalid for anything
// else wrong (the cause is wrapped for logs and never quotes the token).
func (t *Tokens) Verify(token string) (Claims, error) {
	if len(token) > maxTokenBytes {
		return Claims{}, fmt.Errorf("%w: too long", ErrTokenInvalid)
	}
	var c jwtClaims
	_, err := t.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) {
		return t.secret, nil
	})
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrTokenInvalid, err)
	}
	now := t.now()
	switch {
	case c.Issuer != t.issuer:
		return Claims{}, fmt.Errorf("%w: wrong issuer", ErrTokenInvalid)
	case !slices.Contains(c.Audience, t.audience):
		return Claims{}, fmt.Errorf("%w: wrong audience", ErrTokenInvalid)
	case c.Subject == "" || c.ID == "" || !c.Role.Valid():
		return Claims{}, fmt.Errorf("%w: missing or bad sub, jti or role", ErrTokenInvalid)
	case c.IssuedAt == nil || c.ExpiresAt == nil:
		return Claims{}, fmt.Errorf("%w: missing iat or exp", ErrTokenInvalid)
	case c.IssuedAt.After(now.Add(t.leeway)):
		return Claims{}, fmt.Errorf("%w: issued in the future", ErrTokenInvalid)
	case c.NotBefore != nil && c.NotBefore.After(now.Add(t.leeway)):
		return Claims{}, fmt.Errorf("%w: not valid yet", ErrTokenInvalid)
	case !now.Before(c.ExpiresAt.Add(t.leeway)):
		return Claims{}, ErrTokenExpired
	}
	return Claims{
		UserID:    c.Subject,
		Role:      c.Role,
		ID:        c.ID,
		IssuedAt:  c.IssuedAt.Time,
		ExpiresAt: c.ExpiresAt.Time,
	}, nil
}

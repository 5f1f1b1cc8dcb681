package commands

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/auth"
	"github.com/commerce-engine/commerce/domain/customer"
	"github.com/commerce-engine/commerce/eventstore"
)

// Account lookups are one-event streams appended with NoStream: the append
// itself is what makes an email unique, or ties a refresh family or a
// verification token to its account, under any race and on every store.
const (
	emailIndexPrefix   = eventstore.AccountStreamPrefix + "email-"
	familyIndexPrefix  = eventstore.AccountStreamPrefix + "refresh-"
	verifyIndexPrefix  = eventstore.AccountStreamPrefix + "verify-"
	accountIndexedType = "account.indexed"
)

// AccountIndexed is the one event of a lookup stream: the account it
// points to and, for a refresh family, the role its tokens carry.
type AccountIndexed struct {
	CustomerID string    `json:"customer_id"`
	Role       string    `json:"role,omitempty"`
	At         time.Time `json:"at"`
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Errors of the account flows that callers branch on.
var (
	// ErrEmailTaken means another account registered the email first.
	ErrEmailTaken = errors.New("email already registered")
	// ErrBadCredentials means the email is unknown or the password wrong;
	// the two are never told apart.
	ErrBadCredentials = errors.New("invalid email or password")
	// ErrNotAdmin means an admin login by an account without the admin role.
	ErrNotAdmin = errors.New("account is not an admin")
	// ErrRateLimited means too many login attempts; RetryAfter says when to
	// try again.
	ErrRateLimited = errors.New("too many login attempts")
	// ErrInvalidRefreshToken covers every refresh token that cannot be
	// exchanged: malformed, unknown, expired, revoked or reused.
	ErrInvalidRefreshToken = errors.New("invalid refresh token")
	// ErrInvalidVerificationToken covers a malformed, unknown or expired
	// verification token.
	ErrInvalidVerificationToken = errors.New("invalid verification token")
)

// RateLimitError carries how long a limited caller must wait.
type RateLimitError struct{ After time.Duration }

func (e *RateLimitError) Error() string { return ErrRateLimited.Error() }

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// RetryAfter tells the HTTP edge what to put in Retry-After.
func (e *RateLimitError) RetryAfter() time.Duration { return e.After }

// Accounts runs registration, verification, login and token refresh.
type Accounts struct {
	Runner *Runner
	Tokens *auth.Tokens
	Hasher auth.Hasher
	// Limiter limits login attempts per account and per client address.
	Limiter auth.Limiter
	Now     func() time.Time
	// RefreshTTL and VerificationTTL bound the opaque tokens' lives.
	RefreshTTL, VerificationTTL time.Duration
	// OnVerification receives each verification token to deliver (the
	// notifier sends it by email; the embedded default logs the link).
	OnVerification func(ctx context.Context, customerID, email, token string)
	// Seal, when set, encrypts each verification token into its event, so
	// that a notifier in any process of the engine can send the link.
	Seal func(token string) (string, error)
}

// Session is what a successful registration, login or refresh answers.
type Session struct {
	UserID        string
	AccessToken   string
	RefreshToken  string
	ExpiresIn     time.Duration
	EmailVerified bool
	Role          customer.Role
	Position      eventstore.Position
}

func (a *Accounts) refreshTTL() time.Duration {
	if a.RefreshTTL > 0 {
		return a.RefreshTTL
	}
	return 30 * 24 * time.Hour
}

func (a *Accounts) verificationTTL() time.Duration {
	if a.VerificationTTL > 0 {
		return a.VerificationTTL
	}
	return 48 * time.Hour
}

// Register opens a shopper account. The email is normalised and reserved
// first (ErrEmailTaken if another account holds it); the password must meet
// auth.ValidatePassword. It requests an email verification and answers a
// session.
func (a *Accounts) Register(ctx context.Context, email, password, name string, role customer.Role, meta Metadata) (Session, error) {
	email, err := customer.NormalizeEmail(email)
	if err != nil {
		return Session{}, err
	}
	if err := auth.ValidatePassword(password, email); err != nil {
		return Session{}, err
	}
	hash, err := a.Hasher.Hash(password)
	if err != nil {
		return Session{}, fmt.Errorf("register: %w", err)
	}
	now := a.Now()
	id := uuid.NewString()
	idx, err := a.index(ctx, emailIndexPrefix+digest(email), AccountIndexed{CustomerID: id, At: now}, meta)
	if err != nil {
		return Session{}, err
	}
	if idx.CustomerID != id {
		// The email was reserved before. Only an account whose
		// registration never completed (a crash between the two appends)
		// may be completed now; anything else is taken.
		existing, _, err := Load(ctx, a.Runner, Customer, customer.StreamID(idx.CustomerID))
		if err != nil {
			return Session{}, err
		}
		if existing.Registered {
			return Session{}, ErrEmailTaken
		}
		id = idx.CustomerID
	}
	if role == "" {
		role = customer.RoleShopper
	}
	res, err := Handle(ctx, a.Runner, Customer, customer.StreamID(id), customer.Register{
		CustomerID: id, Email: email, Name: name, PasswordHash: hash, Role: role, At: now,
	}, step(meta, "register"))
	if errors.Is(err, customer.ErrAlreadyRegistered) {
		return Session{}, ErrEmailTaken
	}
	if err != nil {
		return Session{}, err
	}
	if _, err := a.RequestVerification(ctx, id, meta); err != nil {
		return Session{}, err
	}
	tokenRole := customer.RoleShopper
	if role == customer.RoleAnalyst {
		tokenRole = customer.RoleAnalyst
	}
	s, err := a.openSession(ctx, res.State, tokenRole, meta)
	return s, err
}

// RequestVerification issues a new email verification token for the
// account and hands it to OnVerification.
func (a *Accounts) RequestVerification(ctx context.Context, customerID string, meta Metadata) (eventstore.Position, error) {
	now := a.Now()
	token, hash := auth.NewVerificationToken()
	var sealed string
	if a.Seal != nil {
		var err error
		if sealed, err = a.Seal(token); err != nil {
			return 0, fmt.Errorf("seal the verification token: %w", err)
		}
	}
	if _, err := a.index(ctx, verifyIndexPrefix+hash, AccountIndexed{CustomerID: customerID, At: now}, step(meta, "verify-index")); err != nil {
		return 0, err
	}
	res, err := Handle(ctx, a.Runner, Customer, customer.StreamID(customerID), customer.RequestEmailVerification{
		CustomerID: customerID, TokenHash: hash, SealedToken: sealed, ExpiresAt: now.Add(a.verificationTTL()), At: now,
	}, step(meta, "verify-request"))
	if err != nil {
		return 0, err
	}
	if a.OnVerification != nil && !res.Replayed {
		a.OnVerification(ctx, customerID, res.State.Email, token)
	}
	return res.Position, nil
}

// VerifyEmail marks the account of a verification token as verified. A
// malformed, unknown, superseded or expired token is
// ErrInvalidVerificationToken.
func (a *Accounts) VerifyEmail(ctx context.Context, token string, meta Metadata) (string, eventstore.Position, error) {
	hash, err := auth.ParseVerificationToken(token)
	if err != nil {
		return "", 0, ErrInvalidVerificationToken
	}
	idx, ok, err := a.lookup(ctx, verifyIndexPrefix+hash)
	if err != nil {
		return "", 0, err
	}
	if !ok {
		return "", 0, ErrInvalidVerificationToken
	}
	res, err := Handle(ctx, a.Runner, Customer, customer.StreamID(idx.CustomerID), customer.VerifyEmail{
		CustomerID: idx.CustomerID, TokenHash: hash, At: a.Now(),
	}, step(meta, "verify"))
	switch {
	case errors.Is(err, customer.ErrEmailAlreadyVerified):
		return idx.CustomerID, 0, nil
	case errors.Is(err, customer.ErrVerificationTokenInvalid), errors.Is(err, customer.ErrVerificationTokenExpired),
		errors.Is(err, customer.ErrNoVerificationPending):
		return "", 0, ErrInvalidVerificationToken
	case err != nil:
		return "", 0, err
	}
	return idx.CustomerID, res.Position, nil
}

// Login checks an email and password and opens a session. admin asks for an
// admin token (ErrNotAdmin for another account). Attempts are limited per
// account and per client address (*RateLimitError); an unknown email and a
// wrong password are the same ErrBadCredentials and take the same time.
func (a *Accounts) Login(ctx context.Context, email, password, clientAddr string, admin bool, meta Metadata) (Session, error) {
	normalized, err := customer.NormalizeEmail(email)
	if err != nil {
		normalized = email
	}
	if a.Limiter != nil {
		for _, key := range []string{"account:" + normalized, "addr:" + clientAddr} {
			ok, after, err := a.Limiter.Allow(ctx, key)
			if err != nil {
				return Session{}, fmt.Errorf("login rate limit: %w", err)
			}
			if !ok {
				return Session{}, &RateLimitError{After: after}
			}
		}
	}
	idx, found, err := a.lookup(ctx, emailIndexPrefix+digest(normalized))
	if err != nil {
		return Session{}, err
	}
	var state customer.State
	if found {
		if state, _, err = Load(ctx, a.Runner, Customer, customer.StreamID(idx.CustomerID)); err != nil {
			return Session{}, err
		}
	}
	if !state.Registered {
		auth.SimulateVerify(password)
		return Session{}, ErrBadCredentials
	}
	ok, err := auth.VerifyPassword(state.PasswordHash, password)
	if err != nil || !ok {
		return Session{}, ErrBadCredentials
	}
	role := customer.RoleShopper
	switch {
	case admin && !state.HasRole(customer.RoleAdmin):
		return Session{}, ErrNotAdmin
	case admin:
		role = customer.RoleAdmin
	case state.HasRole(customer.RoleAnalyst):
		role = customer.RoleAnalyst
	}
	return a.openSession(ctx, state, role, meta)
}

// Refresh exchanges a refresh token for a new pair. The presented token is
// spent; presenting a spent one again revokes its whole family (someone
// holds a stolen copy) and is ErrInvalidRefreshToken, like every other
// token that cannot be exchanged.
func (a *Accounts) Refresh(ctx context.Context, token string, meta Metadata) (Session, error) {
	family, hash, err := auth.ParseRefreshToken(token)
	if err != nil {
		return Session{}, ErrInvalidRefreshToken
	}
	idx, ok, err := a.lookup(ctx, familyIndexPrefix+family)
	if err != nil {
		return Session{}, err
	}
	if !ok {
		return Session{}, ErrInvalidRefreshToken
	}
	now := a.Now()
	next, nextHash := auth.NewRefreshToken(family)
	res, err := Handle(ctx, a.Runner, Customer, customer.StreamID(idx.CustomerID), customer.RotateRefreshToken{
		CustomerID: idx.CustomerID, FamilyID: family, PresentedHash: hash, NewHash: nextHash,
		ExpiresAt: now.Add(a.refreshTTL()), At: now,
	}, step(meta, "refresh"))
	if errors.Is(err, customer.ErrRefreshTokenReused) {
		if _, rerr := Handle(ctx, a.Runner, Customer, customer.StreamID(idx.CustomerID), customer.RevokeRefreshFamily{
			CustomerID: idx.CustomerID, FamilyID: family, Reason: "refresh token reused", At: now,
		}, step(meta, "revoke")); rerr != nil && !errors.Is(rerr, customer.ErrRefreshFamilyRevoked) {
			return Session{}, rerr
		}
		return Session{}, ErrInvalidRefreshToken
	}
	if err != nil {
		var domainErr bool
		for _, e := range []error{customer.ErrRefreshFamilyUnknown, customer.ErrRefreshFamilyRevoked, customer.ErrRefreshTokenExpired, customer.ErrRefreshTokenInvalid} {
			domainErr = domainErr || errors.Is(err, e)
		}
		if domainErr {
			return Session{}, ErrInvalidRefreshToken
		}
		return Session{}, err
	}
	if res.Replayed {
		// The same refresh request again: its answer was a token we cannot
		// show twice, so treat it as the reuse it looks like.
		return Session{}, ErrInvalidRefreshToken
	}
	access, ttl, err := a.Tokens.Issue(idx.CustomerID, customer.Role(idx.Role))
	if err != nil {
		return Session{}, err
	}
	return Session{UserID: idx.CustomerID, AccessToken: access, RefreshToken: next, ExpiresIn: ttl,
		EmailVerified: res.State.EmailVerified, Role: customer.Role(idx.Role), Position: res.Position}, nil
}

// openSession starts a refresh family for the account and issues both tokens.
func (a *Accounts) openSession(ctx context.Context, state customer.State, role customer.Role, meta Metadata) (Session, error) {
	now := a.Now()
	family := auth.NewRefreshFamilyID()
	refresh, hash := auth.NewRefreshToken(family)
	if _, err := a.index(ctx, familyIndexPrefix+family, AccountIndexed{CustomerID: state.CustomerID, Role: string(role), At: now}, step(meta, "family-index")); err != nil {
		return Session{}, err
	}
	res, err := Handle(ctx, a.Runner, Customer, customer.StreamID(state.CustomerID), customer.IssueRefreshToken{
		CustomerID: state.CustomerID, FamilyID: family, TokenHash: hash, ExpiresAt: now.Add(a.refreshTTL()), At: now,
	}, step(meta, "session-"+family))
	if err != nil {
		return Session{}, err
	}
	access, ttl, err := a.Tokens.Issue(state.CustomerID, role)
	if err != nil {
		return Session{}, err
	}
	return Session{UserID: state.CustomerID, AccessToken: access, RefreshToken: refresh, ExpiresIn: ttl,
		EmailVerified: res.State.EmailVerified, Role: role, Position: res.Position}, nil
}

// index appends the one event of a lookup stream, or returns the one that
// is already there.
func (a *Accounts) index(ctx context.Context, stream string, v AccountIndexed, meta Metadata) (AccountIndexed, error) {
	typ, sv, data, err := a.Runner.Codec.Encode(v)
	if err != nil {
		return AccountIndexed{}, err
	}
	md, err := marshalMeta(meta)
	if err != nil {
		return AccountIndexed{}, err
	}
	_, err = a.Runner.Store.Append(ctx, stream, eventstore.NoStream, eventstore.EventData{
		ID: uuid.New(), Type: typ, SchemaVersion: sv, Data: data, Metadata: md,
	})
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
		return AccountIndexed{}, fmt.Errorf("index %s: %w", stream, err)
	}
	got, ok, err := a.lookup(ctx, stream)
	if err != nil {
		return AccountIndexed{}, err
	}
	if !ok {
		return AccountIndexed{}, fmt.Errorf("index %s: stream exists but holds no entry", stream)
	}
	return got, nil
}

func (a *Accounts) lookup(ctx context.Context, stream string) (AccountIndexed, bool, error) {
	evs, err := a.Runner.Store.ReadStream(ctx, stream, eventstore.ReadStreamOptions{Limit: 1})
	if err != nil {
		return AccountIndexed{}, false, fmt.Errorf("look up %s: %w", stream, err)
	}
	if len(evs) == 0 {
		return AccountIndexed{}, false, nil
	}
	p, err := a.Runner.Codec.Decode(evs[0])
	if err != nil {
		return AccountIndexed{}, false, fmt.Errorf("look up %s: %w", stream, err)
	}
	v, ok := p.(AccountIndexed)
	return v, ok, nil
}

func step(m Metadata, name string) Metadata {
	m.CommandID += "/" + name
	return m
}

// GrantRole gives the account registered under email a role (promoting a
// shopper to admin with `commerce admin create`). It returns
// ErrBadCredentials for an unknown email.
func (a *Accounts) GrantRole(ctx context.Context, email string, role customer.Role, meta Metadata) error {
	normalized, err := customer.NormalizeEmail(email)
	if err != nil {
		return err
	}
	idx, ok, err := a.lookup(ctx, emailIndexPrefix+digest(normalized))
	if err != nil {
		return err
	}
	if !ok {
		return ErrBadCredentials
	}
	_, err = Handle(ctx, a.Runner, Customer, customer.StreamID(idx.CustomerID), customer.GrantRole{
		CustomerID: idx.CustomerID, Role: role, At: a.Now(),
	}, step(meta, "grant-"+string(role)))
	return err
}

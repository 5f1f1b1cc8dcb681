package customer

import (
	"crypto/subtle"
	"fmt"
	"slices"
	"strings"
)

// Rules of the customer aggregate:
//
//  1. An account registers once (ErrAlreadyRegistered), with an id
//     (ErrCustomerIDRequired), a name (ErrNameRequired), a password hash
//     (ErrPasswordHashRequired) and an email that is trimmed, lower-cased and
//     validated (ErrInvalidEmail); its role is shopper unless given, and must
//     be a known role (ErrInvalidRole).
//  2. Every other command needs the account (ErrCustomerNotFound).
//  3. A verification is requested only for an unverified email
//     (ErrEmailAlreadyVerified), with a token hash (ErrTokenHashRequired)
//     that expires after it is issued (ErrInvalidExpiry); a new request
//     supersedes the previous token.
//  4. The email is verified once (ErrEmailAlreadyVerified), only after a
//     request (ErrNoVerificationPending), only with the current token's hash
//     (ErrVerificationTokenInvalid, compared in constant time) and before it
//     expires (ErrVerificationTokenExpired).
//  5. A granted role is shopper, admin or analyst (ErrInvalidRole); granting a
//     role already held is a no-op.
//  6. A refresh family has an id (ErrFamilyIDRequired) never used before
//     (ErrRefreshFamilyExists) and a token hash (ErrTokenHashRequired) that
//     expires after it is issued (ErrInvalidExpiry).
//  7. A rotation needs a known (ErrRefreshFamilyUnknown), unrevoked
//     (ErrRefreshFamilyRevoked) family; the presented hash must be the
//     current one and unexpired (ErrRefreshTokenExpired). A spent one gives
//     ErrRefreshTokenReused, after which the caller revokes the family; any
//     other gives ErrRefreshTokenInvalid.
//  8. Revoking a known family (ErrRefreshFamilyUnknown) twice is a no-op.
//
// Only hashes of tokens and passwords ever reach this package.

// Decide returns the events that command produces on customer s, or an error
// wrapping one of this package's sentinels (and no events). Commands are
// passed by value; an unknown command gives ErrUnknownCommand.
func Decide(s State, command any) ([]any, error) {
	if c, ok := command.(Register); ok {
		return register(s, c)
	}
	switch command.(type) {
	case RequestEmailVerification, VerifyEmail, GrantRole, IssueRefreshToken, RotateRefreshToken, RevokeRefreshFamily:
		if !s.Registered {
			return nil, ErrCustomerNotFound
		}
	}
	switch c := command.(type) {
	case RequestEmailVerification:
		return requestVerification(s, c)
	case VerifyEmail:
		return verify(s, c)
	case GrantRole:
		return grant(s, c)
	case IssueRefreshToken:
		return issue(s, c)
	case RotateRefreshToken:
		return rotate(s, c)
	case RevokeRefreshFamily:
		return revoke(s, c)
	}
	return nil, fmt.Errorf("%w: %T", ErrUnknownCommand, command)
}

func register(s State, c Register) ([]any, error) {
	if s.Registered {
		return nil, ErrAlreadyRegistered
	}
	if c.CustomerID == "" {
		return nil, ErrCustomerIDRequired
	}
	email, err := NormalizeEmail(c.Email)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSpace(c.Name)
	if name == "" {
		return nil, ErrNameRequired
	}
	if c.PasswordHash == "" {
		return nil, ErrPasswordHashRequired
	}
	role := c.Role
	if role == "" {
		role = RoleShopper
	}
	if !role.Valid() {
		return nil, fmt.Errorf("%w: %q", ErrInvalidRole, c.Role)
	}
	return []any{Registered{CustomerID: c.CustomerID, Email: email, Name: name, PasswordHash: c.PasswordHash, Role: role, At: c.At}}, nil
}

func requestVerification(s State, c RequestEmailVerification) ([]any, error) {
	switch {
	case s.EmailVerified:
		return nil, ErrEmailAlreadyVerified
	case c.TokenHash == "":
		return nil, ErrTokenHashRequired
	case !c.ExpiresAt.After(c.At):
		return nil, ErrInvalidExpiry
	}
	return []any{EmailVerificationRequested{
		CustomerID: s.CustomerID, Email: s.Email, TokenHash: c.TokenHash, SealedToken: c.SealedToken,
		ExpiresAt: c.ExpiresAt, At: c.At,
	}}, nil
}

func sameHash(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func verify(s State, c VerifyEmail) ([]any, error) {
	switch {
	case s.EmailVerified:
		return nil, ErrEmailAlreadyVerified
	case s.VerificationHash == "":
		return nil, ErrNoVerificationPending
	case !sameHash(s.VerificationHash, c.TokenHash):
		return nil, ErrVerificationTokenInvalid
	case !c.At.Before(s.VerificationExpiresAt):
		return nil, ErrVerificationTokenExpired
	}
	return []any{EmailVerified{CustomerID: s.CustomerID, Email: s.Email, At: c.At}}, nil
}

func grant(s State, c GrantRole) ([]any, error) {
	if !c.Role.Valid() {
		return nil, fmt.Errorf("%w: %q", ErrInvalidRole, c.Role)
	}
	if s.HasRole(c.Role) {
		return nil, nil
	}
	return []any{RoleGranted{CustomerID: s.CustomerID, Role: c.Role, At: c.At}}, nil
}

func issue(s State, c IssueRefreshToken) ([]any, error) {
	if c.FamilyID == "" {
		return nil, ErrFamilyIDRequired
	}
	if _, used := s.Families[c.FamilyID]; used {
		return nil, ErrRefreshFamilyExists
	}
	if c.TokenHash == "" {
		return nil, ErrTokenHashRequired
	}
	if !c.ExpiresAt.After(c.At) {
		return nil, ErrInvalidExpiry
	}
	return []any{RefreshTokenIssued{
		CustomerID: s.CustomerID, FamilyID: c.FamilyID, TokenHash: c.TokenHash, ExpiresAt: c.ExpiresAt, At: c.At,
	}}, nil
}

func rotate(s State, c RotateRefreshToken) ([]any, error) {
	f, ok := s.Families[c.FamilyID]
	switch {
	case !ok:
		return nil, ErrRefreshFamilyUnknown
	case f.Revoked:
		return nil, ErrRefreshFamilyRevoked
	case slices.ContainsFunc(f.Spent, func(h string) bool { return sameHash(h, c.PresentedHash) }):
		return nil, ErrRefreshTokenReused
	case !sameHash(f.CurrentHash, c.PresentedHash):
		return nil, ErrRefreshTokenInvalid
	case !c.At.Before(f.ExpiresAt):
		return nil, ErrRefreshTokenExpired
	case c.NewHash == "":
		return nil, ErrTokenHashRequired
	case !c.ExpiresAt.After(c.At):
		return nil, ErrInvalidExpiry
	}
	return []any{RefreshTokenRotated{
		CustomerID: s.CustomerID, FamilyID: c.FamilyID, PreviousHash: f.CurrentHash,
		TokenHash: c.NewHash, ExpiresAt: c.ExpiresAt, At: c.At,
	}}, nil
}

func revoke(s State, c RevokeRefreshFamily) ([]any, error) {
	f, ok := s.Families[c.FamilyID]
	if !ok {
		return nil, ErrRefreshFamilyUnknown
	}
	if f.Revoked {
		return nil, nil
	}
	return []any{RefreshTokenFamilyRevoked{CustomerID: s.CustomerID, FamilyID: c.FamilyID, Reason: c.Reason, At: c.At}}, nil
}

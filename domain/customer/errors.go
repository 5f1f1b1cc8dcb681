package customer

import "errors"

// Sentinel errors, one per customer rule; match them with errors.Is.
var (
	// ErrUnknownCommand means Decide was given a command of another package.
	ErrUnknownCommand = errors.New("customer: unknown command")
	// ErrAlreadyRegistered means Register was sent to an existing account.
	ErrAlreadyRegistered = errors.New("customer: already registered")
	// ErrCustomerNotFound means a command was sent before Register.
	ErrCustomerNotFound = errors.New("customer: not found")
	// ErrCustomerIDRequired means Register carries no customer id.
	ErrCustomerIDRequired = errors.New("customer: customer id required")
	// ErrInvalidEmail means an email, once trimmed and lower-cased, is not a
	// bare address (local@domain.tld, at most 254 bytes).
	ErrInvalidEmail = errors.New("customer: invalid email")
	// ErrNameRequired means Register carries a blank name.
	ErrNameRequired = errors.New("customer: name required")
	// ErrPasswordHashRequired means Register carries no password hash.
	ErrPasswordHashRequired = errors.New("customer: password hash required")
	// ErrInvalidRole means a role is not shopper, admin or analyst.
	ErrInvalidRole = errors.New("customer: invalid role")
	// ErrEmailAlreadyVerified means a verification was requested or
	// attempted for an email that is verified already.
	ErrEmailAlreadyVerified = errors.New("customer: email already verified")
	// ErrTokenHashRequired means a token command carries no hash.
	ErrTokenHashRequired = errors.New("customer: token hash required")
	// ErrInvalidExpiry means a token would expire at or before it is issued.
	ErrInvalidExpiry = errors.New("customer: token must expire after it is issued")
	// ErrNoVerificationPending means VerifyEmail came before any
	// verification was requested.
	ErrNoVerificationPending = errors.New("customer: no email verification pending")
	// ErrVerificationTokenInvalid means the presented token is not the
	// current one (a wrong or superseded token).
	ErrVerificationTokenInvalid = errors.New("customer: invalid verification token")
	// ErrVerificationTokenExpired means the current token's expiry passed.
	ErrVerificationTokenExpired = errors.New("customer: verification token expired")
	// ErrFamilyIDRequired means a refresh command carries no family id.
	ErrFamilyIDRequired = errors.New("customer: refresh family id required")
	// ErrRefreshFamilyExists means IssueRefreshToken reused a family id.
	ErrRefreshFamilyExists = errors.New("customer: refresh family already exists")
	// ErrRefreshFamilyUnknown means a rotation or revocation names a family
	// the customer never had.
	ErrRefreshFamilyUnknown = errors.New("customer: unknown refresh family")
	// ErrRefreshFamilyRevoked means the family was revoked: none of its
	// tokens is accepted.
	ErrRefreshFamilyRevoked = errors.New("customer: refresh family revoked")
	// ErrRefreshTokenExpired means the family's current token has expired.
	ErrRefreshTokenExpired = errors.New("customer: refresh token expired")
	// ErrRefreshTokenReused means an already spent token of the family was
	// presented: likely theft. The caller must revoke the family with
	// RevokeRefreshFamily; Decide returns the error and no events.
	ErrRefreshTokenReused = errors.New("customer: refresh token reused")
	// ErrRefreshTokenInvalid means the presented token was never part of the
	// family.
	ErrRefreshTokenInvalid = errors.New("customer: invalid refresh token")
)

package customer

import "time"

// Register opens an account. Email uniqueness across accounts is not this
// aggregate's job: auth holds it with a reservation stream appended with
// NoStream before sending Register.
type Register struct {
	CustomerID   string
	Email        string
	Name         string
	PasswordHash string
	// Role defaults to RoleShopper when empty.
	Role Role
	At   time.Time
}

// RequestEmailVerification issues a new verification token (its hash) valid
// until ExpiresAt; the raw token goes to the shopper by email only.
type RequestEmailVerification struct {
	CustomerID  string
	TokenHash   string
	SealedToken string
	ExpiresAt   time.Time
	At          time.Time
}

// VerifyEmail proves ownership of the email with the hash of the token the
// shopper presented.
type VerifyEmail struct {
	CustomerID string
	TokenHash  string
	At         time.Time
}

// GrantRole adds a role to the account (admin, or `commerce admin create`).
type GrantRole struct {
	CustomerID string
	Role       Role
	At         time.Time
}

// IssueRefreshToken starts a new refresh-token family at login.
type IssueRefreshToken struct {
	CustomerID string
	FamilyID   string
	TokenHash  string
	ExpiresAt  time.Time
	At         time.Time
}

// RotateRefreshToken spends the presented refresh token (by hash) for a new
// one in the same family.
type RotateRefreshToken struct {
	CustomerID    string
	FamilyID      string
	PresentedHash string
	NewHash       string
	ExpiresAt     time.Time
	At            time.Time
}

// RevokeRefreshFamily stops a family: at logout, or after
// ErrRefreshTokenReused.
type RevokeRefreshFamily struct {
	CustomerID string
	FamilyID   string
	Reason     string
	At         time.Time
}

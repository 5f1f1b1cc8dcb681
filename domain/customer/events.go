package customer

import "time"

// Event type names and schema versions of the customer's events. A version
// changes only with an upcaster from the previous one in the codec.
const (
	// RegisteredType names Registered in the store.
	RegisteredType = "customer.registered"
	// RegisteredVersion is Registered's schema version.
	RegisteredVersion = 1
	// EmailVerificationRequestedType names EmailVerificationRequested.
	EmailVerificationRequestedType = "customer.email_verification_requested"
	// EmailVerificationRequestedVersion is its schema version.
	EmailVerificationRequestedVersion = 1
	// EmailVerifiedType names EmailVerified in the store.
	EmailVerifiedType = "customer.email_verified"
	// EmailVerifiedVersion is EmailVerified's schema version.
	EmailVerifiedVersion = 1
	// RoleGrantedType names RoleGranted in the store.
	RoleGrantedType = "customer.role_granted"
	// RoleGrantedVersion is RoleGranted's schema version.
	RoleGrantedVersion = 1
	// RefreshTokenIssuedType names RefreshTokenIssued in the store.
	RefreshTokenIssuedType = "customer.refresh_token_issued"
	// RefreshTokenIssuedVersion is RefreshTokenIssued's schema version.
	RefreshTokenIssuedVersion = 1
	// RefreshTokenRotatedType names RefreshTokenRotated in the store.
	RefreshTokenRotatedType = "customer.refresh_token_rotated"
	// RefreshTokenRotatedVersion is RefreshTokenRotated's schema version.
	RefreshTokenRotatedVersion = 1
	// RefreshTokenFamilyRevokedType names RefreshTokenFamilyRevoked.
	RefreshTokenFamilyRevokedType = "customer.refresh_token_family_revoked"
	// RefreshTokenFamilyRevokedVersion is its schema version.
	RefreshTokenFamilyRevokedVersion = 1
)

// Registered records a new account. PasswordHash is the argon2id or bcrypt
// encoding made by auth; the password itself never reaches the domain, and
// neither the event nor the hash is ever logged.
type Registered struct {
	CustomerID   string    `json:"customer_id"`
	Email        string    `json:"email"`
	Name         string    `json:"name"`
	PasswordHash string    `json:"password_hash"`
	Role         Role      `json:"role"`
	At           time.Time `json:"at"`
}

// EventType returns "customer.registered".
func (Registered) EventType() string { return RegisteredType }

// EmailVerificationRequested records a verification token for the notifier
// to send; it supersedes any earlier token. The token itself is never
// stored: TokenHash checks it, and SealedToken carries it encrypted with a
// key only the engine's processes hold, so that a notifier in another
// process can put it in the email.
type EmailVerificationRequested struct {
	CustomerID  string    `json:"customer_id"`
	Email       string    `json:"email"`
	TokenHash   string    `json:"token_hash"`
	SealedToken string    `json:"sealed_token,omitempty"`
	ExpiresAt   time.Time `json:"expires_at"`
	At          time.Time `json:"at"`
}

// EventType returns "customer.email_verification_requested".
func (EmailVerificationRequested) EventType() string { return EmailVerificationRequestedType }

// EmailVerified records that the customer proved they own their email.
type EmailVerified struct {
	CustomerID string    `json:"customer_id"`
	Email      string    `json:"email"`
	At         time.Time `json:"at"`
}

// EventType returns "customer.email_verified".
func (EmailVerified) EventType() string { return EmailVerifiedType }

// RoleGranted records a role added to the account.
type RoleGranted struct {
	CustomerID string    `json:"customer_id"`
	Role       Role      `json:"role"`
	At         time.Time `json:"at"`
}

// EventType returns "customer.role_granted".
func (RoleGranted) EventType() string { return RoleGrantedType }

// RefreshTokenIssued starts a refresh-token family at login; only the token's
// hash is stored.
type RefreshTokenIssued struct {
	CustomerID string    `json:"customer_id"`
	FamilyID   string    `json:"family_id"`
	TokenHash  string    `json:"token_hash"`
	ExpiresAt  time.Time `json:"expires_at"`
	At         time.Time `json:"at"`
}

// EventType returns "customer.refresh_token_issued".
func (RefreshTokenIssued) EventType() string { return RefreshTokenIssuedType }

// RefreshTokenRotated records that the family's current token was spent and
// replaced; PreviousHash stays known so that its reuse can be detected.
type RefreshTokenRotated struct {
	CustomerID   string    `json:"customer_id"`
	FamilyID     string    `json:"family_id"`
	PreviousHash string    `json:"previous_hash"`
	TokenHash    string    `json:"token_hash"`
	ExpiresAt    time.Time `json:"expires_at"`
	At           time.Time `json:"at"`
}

// EventType returns "customer.refresh_token_rotated".
func (RefreshTokenRotated) EventType() string { return RefreshTokenRotatedType }

// RefreshTokenFamilyRevoked records that no token of the family is accepted
// any more (logout, or reuse of a spent token).
type RefreshTokenFamilyRevoked struct {
	CustomerID string    `json:"customer_id"`
	FamilyID   string    `json:"family_id"`
	Reason     string    `json:"reason"`
	At         time.Time `json:"at"`
}

// EventType returns "customer.refresh_token_family_revoked".
func (RefreshTokenFamilyRevoked) EventType() string { return RefreshTokenFamilyRevokedType }

// RegisterEvents binds every customer event type name and schema version to
// its payload type in r, typically an *eventstore.Codec; this package does
// not import eventstore, so the interface is declared here where it is
// consumed.
func RegisterEvents(r interface {
	RegisterType(name string, version int, sample any)
}) {
	r.RegisterType(RegisteredType, RegisteredVersion, Registered{})
	r.RegisterType(EmailVerificationRequestedType, EmailVerificationRequestedVersion, EmailVerificationRequested{})
	r.RegisterType(EmailVerifiedType, EmailVerifiedVersion, EmailVerified{})
	r.RegisterType(RoleGrantedType, RoleGrantedVersion, RoleGranted{})
	r.RegisterType(RefreshTokenIssuedType, RefreshTokenIssuedVersion, RefreshTokenIssued{})
	r.RegisterType(RefreshTokenRotatedType, RefreshTokenRotatedVersion, RefreshTokenRotated{})
	r.RegisterType(RefreshTokenFamilyRevokedType, RefreshTokenFamilyRevokedVersion, RefreshTokenFamilyRevoked{})
}

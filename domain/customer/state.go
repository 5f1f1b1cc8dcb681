package customer

import (
	"maps"
	"slices"
	"time"
)

// Family is one refresh-token chain, started at a login and extended by each
// rotation; Spent holds the hashes already exchanged, to detect reuse.
type Family struct {
	CurrentHash string
	ExpiresAt   time.Time
	Spent       []string
	Revoked     bool
}

// State is a customer folded from its stream. The zero State is an account
// that does not exist.
type State struct {
	Registered    bool
	CustomerID    string
	Email         string
	Name          string
	PasswordHash  string
	Roles         []Role
	EmailVerified bool
	// VerificationHash and VerificationExpiresAt describe the one token that
	// can verify the email; empty when none was requested.
	VerificationHash      string
	VerificationExpiresAt time.Time
	Families              map[string]Family
}

// HasRole reports whether the account holds r.
func (s State) HasRole(r Role) bool { return slices.Contains(s.Roles, r) }

// Evolve returns s with event applied. It never mutates s (slices and maps
// are copied on write) and returns s unchanged for events it does not know.
func Evolve(s State, event any) State {
	switch e := event.(type) {
	case Registered:
		s = State{
			Registered: true, CustomerID: e.CustomerID, Email: e.Email, Name: e.Name,
			PasswordHash: e.PasswordHash, Roles: []Role{e.Role},
		}
	case EmailVerificationRequested:
		s.VerificationHash, s.VerificationExpiresAt = e.TokenHash, e.ExpiresAt
	case EmailVerified:
		s.EmailVerified = true
		s.VerificationHash, s.VerificationExpiresAt = "", time.Time{}
	case RoleGranted:
		if !s.HasRole(e.Role) {
			s.Roles = append(slices.Clip(s.Roles), e.Role)
		}
	case RefreshTokenIssued:
		s.Families = withFamily(s.Families, e.FamilyID, Family{CurrentHash: e.TokenHash, ExpiresAt: e.ExpiresAt})
	case RefreshTokenRotated:
		f := s.Families[e.FamilyID]
		f.Spent = append(slices.Clip(f.Spent), e.PreviousHash)
		f.CurrentHash, f.ExpiresAt = e.TokenHash, e.ExpiresAt
		s.Families = withFamily(s.Families, e.FamilyID, f)
	case RefreshTokenFamilyRevoked:
		f := s.Families[e.FamilyID]
		f.Revoked = true
		s.Families = withFamily(s.Families, e.FamilyID, f)
	}
	return s
}

func withFamily(m map[string]Family, id string, f Family) map[string]Family {
	m = maps.Clone(m)
	if m == nil {
		m = map[string]Family{}
	}
	m[id] = f
	return m
}

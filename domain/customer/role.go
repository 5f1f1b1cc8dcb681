package customer

import (
	"fmt"
	"strings"
)

// Role is what an account may do. The customer aggregate grants and records
// it; access tokens carry it (auth) and the HTTP edge authorises by it: one
// type for both, so a role cannot mean two things.
type Role string

// The roles an account can hold.
const (
	// RoleShopper browses, fills its own cart and sees its own orders.
	RoleShopper Role = "shopper"
	// RoleAdmin manages the catalog, stock and order status.
	RoleAdmin Role = "admin"
	// RoleAnalyst reads analytics and every order, and changes nothing.
	RoleAnalyst Role = "analyst"
)

// Roles lists every role, so that tables over roles can be checked for
// completeness.
func Roles() []Role { return []Role{RoleShopper, RoleAdmin, RoleAnalyst} }

// ParseRole turns the exact, lower-case name of a role into a Role; any
// other string returns ErrInvalidRole, so a typo can never become a role.
func ParseRole(s string) (Role, error) {
	if r := Role(s); r.Valid() {
		return r, nil
	}
	return "", ErrInvalidRole
}

// Valid reports whether r is one of the known roles (the zero Role is not).
func (r Role) Valid() bool { return r == RoleShopper || r == RoleAdmin || r == RoleAnalyst }

// String returns the role's name as it appears in events, tokens and JSON.
func (r Role) String() string { return string(r) }

// maxEmailLen is the longest address SMTP can carry (RFC 5321 path limit).
const maxEmailLen = 254

// NormalizeEmail trims and lower-cases email and checks that it is a plain
// address: a dot-atom local part of at most 64 bytes, "@", and a domain of at
// least two labels of letters, digits and inner hyphens, ending in a
// letters-only label. Quoted local parts, IP literals and display names are
// refused. Auth uses it for its uniqueness reservation stream so that both
// agree on one spelling. It returns ErrInvalidEmail.
func NormalizeEmail(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	if e == "" || len(e) > maxEmailLen {
		return "", fmt.Errorf("%w: length", ErrInvalidEmail)
	}
	local, domain, ok := strings.Cut(e, "@")
	if !ok || !validLocal(local) || !validDomain(domain) {
		return "", ErrInvalidEmail
	}
	return e, nil
}

func validLocal(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte(".!#$%&'*+/=?^_`{|}~-", c) >= 0) {
			return false
		}
	}
	return true
}

func validDomain(s string) bool {
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	for i := 0; i < len(tld); i++ {
		if tld[i] < 'a' || tld[i] > 'z' {
			return false
		}
	}
	return len(tld) >= 2
}

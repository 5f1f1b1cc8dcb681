package auth

import "errors"

// ErrUnknownRole is returned by ParseRole for any string that is not one of
// the roles, so a typo can never become a role.
var ErrUnknownRole = errors.New("auth: unknown role")

// Role is what an authenticated user may do; it travels in the access token.
type Role string

// The roles of API.md; there are no others.
const (
	// Shopper is a customer: their own cart, checkout and orders.
	Shopper Role = "shopper"
	// Admin runs the shop: catalog, stock, orders, projections, analytics.
	Admin Role = "admin"
	// Analyst reads analytics (API.md: "role admin or analyst").
	Analyst Role = "analyst"
)

// Roles lists every role, so that tables over roles can be checked for completeness.
func Roles() []Role { return []Role{Shopper, Admin, Analyst} }

// ParseRole turns the exact, lower-case name of a role into a Role; any other
// string returns ErrUnknownRole.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case Shopper, Admin, Analyst:
		return r, nil
	}
	return "", ErrUnknownRole
}

// Valid reports whether r is one of the roles (the zero Role is not).
func (r Role) Valid() bool {
	_, err := ParseRole(string(r))
	return err == nil
}

// String returns the role's name as it appears in tokens and JSON.
func (r Role) String() string { return string(r) }

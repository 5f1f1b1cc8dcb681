// Package auth holds the account security primitives: the password policy
// and argon2id hashing, short-lived JWT access tokens, opaque refresh and
// email verification tokens (only their SHA-256 hashes are ever stored),
// the gin middleware that authenticates bearer tokens and checks roles
// (customer.Role, the domain's), and the login rate limiters (in memory and
// on Redis).
//
// It has no event store dependency: the registration, login and refresh
// flows that use these primitives live in commands/.
//
// Nothing in this package puts a password, a password hash or a token into
// an error string or a log line; errors name what is wrong, never the value.
package auth

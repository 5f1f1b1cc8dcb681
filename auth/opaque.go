package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/google/uuid"
)

// Errors of parsing opaque tokens; they never quote the token.
var (
	// ErrRefreshTokenMalformed means a string is not a refresh token this package issued.
	ErrRefreshTokenMalformed = errors.New("auth: malformed refresh token")
	// ErrVerificationTokenMalformed means a string is not a verification token this package issued.
	ErrVerificationTokenMalformed = errors.New("auth: malformed verification token")
)

// secretBytes is the entropy of every opaque token: 256 bits.
const secretBytes = 32

// maxFamilyIDLen bounds a refresh token family id (a UUID is 36).
const maxFamilyIDLen = 64

var b64url = base64.RawURLEncoding.Strict()

// NewRefreshFamilyID returns a fresh id for a refresh token family (a login
// session): a random UUID, which ValidFamilyID accepts.
func NewRefreshFamilyID() string { return uuid.NewString() }

// ValidFamilyID reports whether id can be the family part of a refresh token:
// 1 to 64 characters of A-Z, a-z, 0-9, '-' and '_'.
func ValidFamilyID(id string) bool {
	if id == "" || len(id) > maxFamilyIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// NewRefreshToken returns a refresh token "<familyID>.<secret>" (secret: 32
// random bytes, unpadded base64url) to hand to the client, and its hash, the
// only form ever stored. familyID is produced by this program (see
// NewRefreshFamilyID), so an invalid one is a bug: it panics.
func NewRefreshToken(familyID string) (token, hash string) {
	if !ValidFamilyID(familyID) {
		panic("auth: NewRefreshToken: invalid family id")
	}
	token = familyID + "." + randomSecret()
	return token, HashToken(token)
}

// ParseRefreshToken checks the shape of a refresh token sent by a client and
// returns its family id and hash, to look the token up; anything but a
// well-formed token returns ErrRefreshTokenMalformed.
func ParseRefreshToken(token string) (familyID, hash string, err error) {
	family, secret, ok := strings.Cut(token, ".")
	if !ok || !ValidFamilyID(family) || !validSecret(secret) {
		return "", "", ErrRefreshTokenMalformed
	}
	return family, HashToken(token), nil
}

// NewVerificationToken returns an email verification token (32 random bytes,
// unpadded base64url, safe in a URL query) to send, and its hash, the only
// form ever stored.
func NewVerificationToken() (token, hash string) {
	token = randomSecret()
	return token, HashToken(token)
}

// ParseVerificationToken checks the shape of a verification token sent by a
// client and returns its hash, to look it up; anything but a well-formed
// token returns ErrVerificationTokenMalformed.
func ParseVerificationToken(token string) (hash string, err error) {
	if !validSecret(token) {
		return "", ErrVerificationTokenMalformed
	}
	return HashToken(token), nil
}

// HashToken returns the lower-case hex SHA-256 of an opaque token: the form in
// which refresh and verification tokens are stored and looked up. A fast hash
// is enough because the tokens carry 256 random bits.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func randomSecret() string {
	var b [secretBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it crashes the program instead).
	return b64url.EncodeToString(b[:])
}

// validSecret reports whether s is exactly the canonical encoding of 32 bytes.
func validSecret(s string) bool {
	if len(s) != b64url.EncodedLen(secretBytes) {
		return false
	}
	b, err := b64url.DecodeString(s)
	return err == nil && len(b) == secretBytes
}

package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// The password policy. It follows NIST SP 800-63B in spirit: length matters
// most, so the minimum is long and the maximum generous (passphrases welcome),
// with a light composition rule that only refuses a password made of a single
// character class ("aaaaaaaaaaaaaaaa", "123456789012"), and the account's own
// email is refused. Passwords are compared as given: no trimming, no case
// folding, no Unicode normalisation.
const (
	// MinPasswordRunes is the shortest password accepted, in Unicode code points.
	MinPasswordRunes = 12
	// MaxPasswordRunes is the longest password accepted, in Unicode code points;
	// it bounds the work a login request can ask for.
	MaxPasswordRunes = 128
	// maxPasswordBytes bounds what HashPassword and VerifyPassword accept at all
	// (MaxPasswordRunes of the widest UTF-8 encoding).
	maxPasswordBytes = 4 * MaxPasswordRunes
)

// Password policy violations, returned by ValidatePassword; match them with
// errors.Is and show the message: it never contains the password.
var (
	// ErrPasswordTooShort means fewer than MinPasswordRunes characters.
	ErrPasswordTooShort = fmt.Errorf("auth: password must be at least %d characters", MinPasswordRunes)
	// ErrPasswordTooLong means more than MaxPasswordRunes characters.
	ErrPasswordTooLong = fmt.Errorf("auth: password must be at most %d characters", MaxPasswordRunes)
	// ErrPasswordNotUTF8 means the password is not valid UTF-8 text.
	ErrPasswordNotUTF8 = errors.New("auth: password must be valid UTF-8 text")
	// ErrPasswordControlChars means the password holds control characters (newlines, NUL, ...).
	ErrPasswordControlChars = errors.New("auth: password must not contain control characters")
	// ErrPasswordOneClass means every character is of one class (only letters of one case, only digits, ...).
	ErrPasswordOneClass = errors.New("auth: password must mix at least two of lower-case letters, upper-case letters, digits and other characters")
	// ErrPasswordIsEmail means the password is the account's email address or its local part.
	ErrPasswordIsEmail = errors.New("auth: password must not be the email address")
)

// Errors of hashing and verifying; they never contain the password or the hash.
var (
	// ErrHashMalformed means a stored hash is not a PHC string this package can read.
	ErrHashMalformed = errors.New("auth: malformed password hash")
	// ErrHashUnsupported means a stored hash uses another algorithm, version or out-of-range parameters.
	ErrHashUnsupported = errors.New("auth: unsupported password hash")
	// ErrPasswordEmpty means HashPassword was asked to hash an empty password.
	ErrPasswordEmpty = errors.New("auth: empty password")
)

// ValidatePassword checks pw against the password policy for the account
// with the given email; it returns nil or the first violation found
// (ErrPasswordNotUTF8, ErrPasswordTooShort, ErrPasswordTooLong,
// ErrPasswordControlChars, ErrPasswordOneClass, ErrPasswordIsEmail).
func ValidatePassword(pw, email string) error {
	if !utf8.ValidString(pw) {
		return ErrPasswordNotUTF8
	}
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordRunes {
		return ErrPasswordTooShort
	}
	if n > MaxPasswordRunes {
		return ErrPasswordTooLong
	}
	var lower, upper, digit, other bool
	for _, r := range pw {
		switch {
		case unicode.IsControl(r):
			return ErrPasswordControlChars
		case unicode.IsLower(r):
			lower = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsDigit(r):
			digit = true
		default:
			// Spaces, punctuation, symbols and letters without case
			// (most scripts without case, e.g. CJK) count here.
			other = true
		}
	}
	classes := 0
	for _, b := range []bool{lower, upper, digit, other} {
		if b {
			classes++
		}
	}
	if classes < 2 {
		return ErrPasswordOneClass
	}
	if isEmail(pw, email) {
		return ErrPasswordIsEmail
	}
	return nil
}

// isEmail reports whether pw is, ignoring case and surrounding spaces, the
// email address or its local part (the part before the last "@").
func isEmail(pw, email string) bool {
	email = strings.TrimSpace(email)
	if email == "" {
		return false
	}
	p := strings.TrimSpace(pw)
	if strings.EqualFold(p, email) {
		return true
	}
	if at := strings.LastIndexByte(email, '@'); at > 0 && strings.EqualFold(p, email[:at]) {
		return true
	}
	return false
}

// Argon2Params are the argon2id cost parameters; they are written into every
// hash, so changing them only affects new hashes (see NeedsRehash).
type Argon2Params struct {
	// Memory is the memory cost in KiB.
	Memory uint32
	// Time is the number of passes over the memory.
	Time uint32
	// Threads is the degree of parallelism.
	Threads uint8
	// SaltLen is the length of the random salt in bytes.
	SaltLen uint32
	// KeyLen is the length of the derived key in bytes.
	KeyLen uint32
}

// DefaultArgon2Params returns the production parameters: OWASP's argon2id
// baseline (19 MiB, 2 passes, 1 lane), 26-32 ms per hash on this project's
// 2-CPU build machine (up to ~60 ms under heavy load). Each concurrent hash
// holds 19 MiB, so login concurrency must be bounded (rate limiting does most
// of that).
func DefaultArgon2Params() Argon2Params {
	return Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// CheapArgon2Params returns parameters for tests only: the smallest cost
// argon2id allows, tens of microseconds per hash, so test suites can register
// many users (use Hasher{Params: CheapArgon2Params()}).
func CheapArgon2Params() Argon2Params {
	return Argon2Params{Memory: 8, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// Bounds on parameters read back from a stored hash, so that a corrupted or
// planted hash cannot make a login allocate gigabytes or spin for minutes.
const (
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 32
	minSaltLen   = 8
	maxSaltLen   = 64
	minKeyLen    = 16
	maxKeyLen    = 64
)

// Hasher hashes passwords with one set of argon2id parameters, so tests can
// use cheap ones; the zero Hasher uses DefaultArgon2Params().
type Hasher struct {
	// Params are the cost parameters for new hashes; zero means DefaultArgon2Params().
	Params Argon2Params
}

func (h Hasher) params() Argon2Params {
	if h.Params == (Argon2Params{}) {
		return DefaultArgon2Params()
	}
	return h.Params
}

// Hash returns the PHC string
// "$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<key>" (unpadded
// standard base64) of pw with a fresh random salt; it returns ErrPasswordEmpty
// for an empty password, ErrPasswordTooLong for more than 512 bytes and
// ErrHashUnsupported when the Hasher's parameters are out of range. It does
// not apply the policy: call ValidatePassword first.
func (h Hasher) Hash(pw string) (string, error) {
	if pw == "" {
		return "", ErrPasswordEmpty
	}
	if len(pw) > maxPasswordBytes {
		return "", ErrPasswordTooLong
	}
	p := h.params()
	if err := p.check(); err != nil {
		return "", err
	}
	salt := make([]byte, p.SaltLen)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails (it crashes the program instead).
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return encodePHC(p, salt, key), nil
}

// NeedsRehash reports whether hash was made with other parameters than the
// Hasher's (or is unreadable), so that a login that just verified the
// password can store a new hash.
func (h Hasher) NeedsRehash(hash string) bool {
	p, salt, key, err := decodePHC(hash)
	if err != nil {
		return true
	}
	want := h.params()
	return p.Memory != want.Memory || p.Time != want.Time || p.Threads != want.Threads ||
		uint32(len(salt)) != want.SaltLen || uint32(len(key)) != want.KeyLen
}

// HashPassword hashes pw with DefaultArgon2Params(); see Hasher.Hash for the
// format and the errors (ErrPasswordEmpty, ErrPasswordTooLong).
func HashPassword(pw string) (string, error) { return Hasher{}.Hash(pw) }

// NeedsRehash reports whether hash was made with other parameters than
// DefaultArgon2Params(), or cannot be read, so a login can upgrade it.
func NeedsRehash(hash string) bool { return Hasher{}.NeedsRehash(hash) }

// VerifyPassword reports whether pw matches hash, using the parameters stored
// in the hash and a constant-time comparison; a wrong password is (false, nil),
// an unreadable hash is ErrHashMalformed and another algorithm or
// out-of-range parameters ErrHashUnsupported.
func VerifyPassword(hash, pw string) (bool, error) {
	p, salt, key, err := decodePHC(hash)
	if err != nil {
		return false, err
	}
	if len(pw) > maxPasswordBytes {
		return false, nil // could never have been hashed
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// dummyHash is what SimulateVerify verifies against; made once, on first use,
// from a random password.
var dummyHash = sync.OnceValue(func() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	h, _ := HashPassword(base64.RawURLEncoding.EncodeToString(b[:]))
	return h
})

// SimulateVerify spends the time of a VerifyPassword with the default
// parameters and has no result, so that a login for an unknown email takes as
// long as one with a wrong password (no account enumeration by timing).
func SimulateVerify(pw string) {
	_, _ = VerifyPassword(dummyHash(), pw)
}

func (p Argon2Params) check() error {
	if p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemoryKiB ||
		p.Time < 1 || p.Time > maxTime || p.Threads < 1 ||
		p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen ||
		p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen {
		return ErrHashUnsupported
	}
	return nil
}

var b64 = base64.RawStdEncoding.Strict()

func encodePHC(p Argon2Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decodePHC parses an argon2id PHC string; its errors never quote the input.
func decodePHC(s string) (p Argon2Params, salt, key []byte, err error) {
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return p, nil, nil, ErrHashMalformed
	}
	if parts[1] != "argon2id" {
		return p, nil, nil, ErrHashUnsupported
	}
	v, ok := strings.CutPrefix(parts[2], "v=")
	if !ok {
		return p, nil, nil, ErrHashMalformed
	}
	if v != strconv.Itoa(argon2.Version) {
		return p, nil, nil, ErrHashUnsupported
	}
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return p, nil, nil, ErrHashMalformed
	}
	var nums [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		raw, ok := strings.CutPrefix(fields[i], name)
		if !ok {
			return p, nil, nil, ErrHashMalformed
		}
		bits := 32
		if name == "p=" {
			bits = 8
		}
		n, err := strconv.ParseUint(raw, 10, bits)
		if err != nil {
			return p, nil, nil, ErrHashMalformed
		}
		nums[i] = n
	}
	if salt, err = b64.DecodeString(parts[4]); err != nil {
		return p, nil, nil, ErrHashMalformed
	}
	if key, err = b64.DecodeString(parts[5]); err != nil {
		return p, nil, nil, ErrHashMalformed
	}
	p = Argon2Params{
		Memory: uint32(nums[0]), Time: uint32(nums[1]), Threads: uint8(nums[2]),
		SaltLen: uint32(len(salt)), KeyLen: uint32(len(key)),
	}
	if err := p.check(); err != nil {
		return p, nil, nil, err
	}
	return p, salt, key, nil
}

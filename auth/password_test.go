package auth_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/commerce-engine/commerce/auth"
)

func TestValidatePassword(t *testing.T) {
	t.Parallel()
	const email = "Jane.Doe@example.com"
	tests := []struct {
		name string
		pw   string
		want error
	}{
		{"mixed letters and digits", "correcthorse42", nil},
		{"passphrase with spaces", "correct horse battery staple", nil},
		{"exactly the minimum", "abcdefghijk1", nil},
		{"exactly the maximum", strings.Repeat("aB", 64), nil},
		{"multi-byte counts runes", "pässwörd-écrit", nil},
		{"cjk with digits", "密码密码密码密码密码12", nil},
		{"empty", "", auth.ErrPasswordTooShort},
		{"one under the minimum", "abcdefghij1", auth.ErrPasswordTooShort},
		{"11 runes in 22 bytes", "ééééééééé1A", auth.ErrPasswordTooShort},
		{"one over the maximum", strings.Repeat("aB", 64) + "c", auth.ErrPasswordTooLong},
		{"only lower case", "abcdefghijklmnop", auth.ErrPasswordOneClass},
		{"only upper case", "ABCDEFGHIJKLMNOP", auth.ErrPasswordOneClass},
		{"only digits", "123456789012", auth.ErrPasswordOneClass},
		{"only symbols", "!@#$%^&*()_+", auth.ErrPasswordOneClass},
		{"one character repeated", "aaaaaaaaaaaaaaaa", auth.ErrPasswordOneClass},
		{"newline", "abcdefgh\nijkl1", auth.ErrPasswordControlChars},
		{"NUL", "abcdefgh\x00ijkl1", auth.ErrPasswordControlChars},
		{"invalid utf-8", "abcdefghijk1\xff", auth.ErrPasswordNotUTF8},
		{"the email", "Jane.Doe@example.com", auth.ErrPasswordIsEmail},
		{"the email in another case", "jane.doe@EXAMPLE.COM", auth.ErrPasswordIsEmail},
		{"the email with spaces", "  jane.doe@example.com ", auth.ErrPasswordIsEmail},
		{"containing the email is fine", "Jane.Doe@example.com!x", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := auth.ValidatePassword(tt.pw, email)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("ValidatePassword = %v, want %v", err, tt.want)
			}
			if err != nil && tt.pw != "" && strings.Contains(err.Error(), tt.pw) {
				t.Fatalf("error %q quotes the password", err)
			}
		})
	}
}

func TestValidatePasswordLocalPart(t *testing.T) {
	t.Parallel()
	// A local part long enough to pass the other rules.
	if err := auth.ValidatePassword("Longname.2024", "longname.2024@example.com"); !errors.Is(err, auth.ErrPasswordIsEmail) {
		t.Fatalf("local part as password: %v, want ErrPasswordIsEmail", err)
	}
	if err := auth.ValidatePassword("Longname.2024", ""); err != nil {
		t.Fatalf("no email: %v", err)
	}
}

var cheap = auth.Hasher{Params: auth.CheapArgon2Params()}

func TestHashRoundTrip(t *testing.T) {
	t.Parallel()
	const pw = "correct horse battery staple"
	hash, err := cheap.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=8,t=1,p=1$") {
		t.Fatalf("hash %q is not an argon2id PHC string with the cheap parameters", hash)
	}
	if strings.Contains(hash, pw) {
		t.Fatal("hash contains the password")
	}
	ok, err := auth.VerifyPassword(hash, pw)
	if err != nil || !ok {
		t.Fatalf("VerifyPassword(right) = %v, %v", ok, err)
	}
	for _, wrong := range []string{"", "correct horse battery stapl", "Correct horse battery staple", pw + " ", strings.Repeat("x", 600)} {
		ok, err := auth.VerifyPassword(hash, wrong)
		if err != nil || ok {
			t.Fatalf("VerifyPassword(wrong %q) = %v, %v", wrong, ok, err)
		}
	}
	again, err := cheap.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	if again == hash {
		t.Fatal("two hashes of one password are equal: salt is not random")
	}
}

func TestHashPasswordDefault(t *testing.T) {
	t.Parallel()
	const pw = "Tr0ub4dor&3-but-longer"
	start := time.Now()
	hash, err := auth.HashPassword(pw)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("HashPassword with default parameters took %v", elapsed)
	p := auth.DefaultArgon2Params()
	if want := fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$", p.Memory, p.Time, p.Threads); !strings.HasPrefix(hash, want) {
		t.Fatalf("hash %q does not start with %q", hash, want)
	}
	if ok, err := auth.VerifyPassword(hash, pw); err != nil || !ok {
		t.Fatalf("VerifyPassword = %v, %v", ok, err)
	}
	if auth.NeedsRehash(hash) {
		t.Fatal("a fresh default hash needs a rehash")
	}
	auth.SimulateVerify(pw) // must not panic
}

func TestHashRejects(t *testing.T) {
	t.Parallel()
	if _, err := cheap.Hash(""); !errors.Is(err, auth.ErrPasswordEmpty) {
		t.Fatalf("empty: %v", err)
	}
	if _, err := cheap.Hash(strings.Repeat("a", 513)); !errors.Is(err, auth.ErrPasswordTooLong) {
		t.Fatalf("513 bytes: %v", err)
	}
	bad := auth.Hasher{Params: auth.Argon2Params{Memory: 8, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32}}
	if _, err := bad.Hash("whatever-password-1"); !errors.Is(err, auth.ErrHashUnsupported) {
		t.Fatalf("t=0: %v", err)
	}
}

func TestNeedsRehash(t *testing.T) {
	t.Parallel()
	hash, err := cheap.Hash("some password 1")
	if err != nil {
		t.Fatal(err)
	}
	if cheap.NeedsRehash(hash) {
		t.Fatal("same parameters need a rehash")
	}
	if !auth.NeedsRehash(hash) {
		t.Fatal("cheap hash does not need a rehash to the defaults")
	}
	stronger := auth.Hasher{Params: auth.CheapArgon2Params()}
	stronger.Params.Time = 2
	if !stronger.NeedsRehash(hash) {
		t.Fatal("more passes: no rehash")
	}
	if !cheap.NeedsRehash("garbage") {
		t.Fatal("garbage: no rehash")
	}
}

func TestVerifyPasswordBadHash(t *testing.T) {
	t.Parallel()
	const salt, key = "c2FsdHNhbHRzYWx0c2FsdA", "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
	tests := []struct {
		name, hash string
		want       error
	}{
		{"empty", "", auth.ErrHashMalformed},
		{"garbage", "not a hash", auth.ErrHashMalformed},
		{"bcrypt", "$2a$10$abcdefghijklmnopqrstuuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZa", auth.ErrHashMalformed},
		{"argon2i", "$argon2i$v=19$m=8,t=1,p=1$" + salt + "$" + key, auth.ErrHashUnsupported},
		{"old version", "$argon2id$v=16$m=8,t=1,p=1$" + salt + "$" + key, auth.ErrHashUnsupported},
		{"no version", "$argon2id$m=8,t=1,p=1$" + salt + "$" + key, auth.ErrHashMalformed},
		{"params out of order", "$argon2id$v=19$t=1,m=8,p=1$" + salt + "$" + key, auth.ErrHashMalformed},
		{"param not a number", "$argon2id$v=19$m=x,t=1,p=1$" + salt + "$" + key, auth.ErrHashMalformed},
		{"p over 255", "$argon2id$v=19$m=8,t=1,p=256$" + salt + "$" + key, auth.ErrHashMalformed},
		{"memory too large", "$argon2id$v=19$m=4194304,t=1,p=1$" + salt + "$" + key, auth.ErrHashUnsupported},
		{"too many passes", "$argon2id$v=19$m=8,t=1000,p=1$" + salt + "$" + key, auth.ErrHashUnsupported},
		{"zero passes", "$argon2id$v=19$m=8,t=0,p=1$" + salt + "$" + key, auth.ErrHashUnsupported},
		{"bad salt base64", "$argon2id$v=19$m=8,t=1,p=1$!!!$" + key, auth.ErrHashMalformed},
		{"padded key", "$argon2id$v=19$m=8,t=1,p=1$" + salt + "$" + key + "=", auth.ErrHashMalformed},
		{"short salt", "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$" + key, auth.ErrHashUnsupported},
		{"short key", "$argon2id$v=19$m=8,t=1,p=1$" + salt + "$a2V5", auth.ErrHashUnsupported},
		{"extra field", "$argon2id$v=19$m=8,t=1,p=1$" + salt + "$" + key + "$x", auth.ErrHashMalformed},
	}
	// The fields above are well formed: only the named defect makes each case fail.
	if ok, err := auth.VerifyPassword("$argon2id$v=19$m=8,t=1,p=1$"+salt+"$"+key, "a password 123"); ok || err != nil {
		t.Fatalf("well-formed hash: %v, %v; want false, nil", ok, err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ok, err := auth.VerifyPassword(tt.hash, "a password 123")
			if ok || !errors.Is(err, tt.want) {
				t.Fatalf("VerifyPassword = %v, %v; want false, %v", ok, err, tt.want)
			}
			if tt.hash != "" && strings.Contains(err.Error(), tt.hash) {
				t.Fatal("error quotes the hash")
			}
		})
	}
}

// BenchmarkHashPassword measures the production parameters (target 20-50 ms).
func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		if _, err := auth.HashPassword("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyPassword measures a login's verification with the production parameters.
func BenchmarkVerifyPassword(b *testing.B) {
	hash, err := auth.HashPassword("correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := auth.VerifyPassword(hash, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

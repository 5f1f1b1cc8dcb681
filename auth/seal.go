package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// ErrUnsealable means a sealed value was not sealed with this key, or was
// altered.
var ErrUnsealable = errors.New("auth: sealed value cannot be opened with this key")

// Sealer encrypts short secrets (a verification token) that must travel
// through the event log to another process of the engine without being
// readable by anyone who reads the log: AES-256-GCM under a key derived from
// the token signing secret every process shares.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer derives the sealing key from secret (the JWT signing secret).
func NewSealer(secret []byte) (*Sealer, error) {
	if len(secret) == 0 {
		return nil, errors.New("auth: sealer needs a secret")
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("commerce/auth/seal/v1"))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("auth: sealer: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("auth: sealer: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal returns plain encrypted and authenticated, URL-safe base64.
func (s *Sealer) Seal(plain string) (string, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("auth: seal: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, []byte(plain), nil)), nil
}

// Open returns what Seal sealed, or ErrUnsealable.
func (s *Sealer) Open(sealed string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(b) < s.aead.NonceSize() {
		return "", ErrUnsealable
	}
	plain, err := s.aead.Open(nil, b[:s.aead.NonceSize()], b[s.aead.NonceSize():], nil)
	if err != nil {
		return "", ErrUnsealable
	}
	return string(plain), nil
}

package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrSecretFileMode means a secret file is readable or writable by others
// than its owner; it is refused, like ssh refuses such a private key.
var ErrSecretFileMode = errors.New("auth: secret file must not be accessible to group or others (chmod 600)")

// LoadOrCreateSecret returns the signing secret kept in the file at path,
// creating the file (mode 0600, its directory 0700) with MinSecretBytes
// random bytes the first time, so that tokens survive a restart. Two
// processes starting at once end up with the same secret. It returns
// ErrSecretTooShort for an existing file shorter than MinSecretBytes (never
// overwriting it), ErrSecretFileMode for a file others can access, and
// file system errors wrapped with the path.
func LoadOrCreateSecret(path string) ([]byte, error) {
	if secret, err := readSecret(path); !errors.Is(err, fs.ErrNotExist) {
		return secret, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("auth: create secret directory %s: %w", dir, err)
	}
	// Write the whole secret to a temporary file, then link it into place:
	// the link fails if another process won the race, and nobody ever reads
	// a half-written secret.
	tmp, err := os.CreateTemp(dir, ".secret-*")
	if err != nil {
		return nil, fmt.Errorf("auth: create secret file in %s: %w", dir, err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	secret := make([]byte, MinSecretBytes)
	_, _ = rand.Read(secret) // crypto/rand.Read never fails (it crashes the program instead).
	if err := writeSync(tmp, secret); err != nil {
		return nil, fmt.Errorf("auth: write secret file in %s: %w", dir, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("auth: create secret file %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil { //nolint:gosec // G304: the data directory the operator configured
		_ = d.Sync() // make the new name durable; best effort
		_ = d.Close()
	}
	return readSecret(path)
}

// writeSync writes b to f (created 0600 by os.CreateTemp), flushes and closes it.
func writeSync(f *os.File, b []byte) error {
	_, err := f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// readSecret reads and checks an existing secret file; a missing file is
// reported as fs.ErrNotExist.
func readSecret(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("auth: secret file %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("auth: secret file %s is not a regular file", path)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s", ErrSecretFileMode, path)
	}
	secret, err := os.ReadFile(path) //nolint:gosec // G304: the key file in the configured data directory
	if err != nil {
		return nil, fmt.Errorf("auth: read secret file %s: %w", path, err)
	}
	if len(secret) < MinSecretBytes {
		return nil, fmt.Errorf("%w: %s", ErrSecretTooShort, path)
	}
	return secret, nil
}

package auth_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/commerce-engine/commerce/auth"
)

func TestLoadOrCreateSecret(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data", "keys", "jwt.key")
	first, err := auth.LoadOrCreateSecret(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != auth.MinSecretBytes {
		t.Fatalf("secret has %d bytes, want %d", len(first), auth.MinSecretBytes)
	}
	if bytes.Equal(first, make([]byte, len(first))) {
		t.Fatal("secret is all zeros")
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Fatalf("file mode %o, want 600", perm)
	}
	if dir, _ := os.Stat(filepath.Dir(path)); dir.Mode().Perm() != 0o700 {
		t.Fatalf("directory mode %o, want 700", dir.Mode().Perm())
	}
	again, err := auth.LoadOrCreateSecret(path) // as after a restart
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, again) {
		t.Fatal("secret changed on the second load")
	}
	if _, err := auth.NewTokens(auth.TokensConfig{Secret: again}); err != nil {
		t.Fatalf("loaded secret unusable: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want only the secret (no temporary files left)", len(entries))
	}
}

func TestLoadOrCreateSecretConcurrent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "jwt.key")
	const n = 8
	secrets := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { secrets[i], errs[i] = auth.LoadOrCreateSecret(path) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if !bytes.Equal(secrets[i], secrets[0]) {
			t.Fatalf("caller %d got another secret", i)
		}
	}
}

func TestLoadOrCreateSecretExistingFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string, b []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // umask-proof
			t.Fatal(err)
		}
		return p
	}
	long := bytes.Repeat([]byte{7}, 48)

	got, err := auth.LoadOrCreateSecret(write("long", long, 0o600))
	if err != nil || !bytes.Equal(got, long) {
		t.Fatalf("existing 48-byte secret: %v", err)
	}
	short := write("short", []byte("too short"), 0o600)
	if _, err := auth.LoadOrCreateSecret(short); !errors.Is(err, auth.ErrSecretTooShort) {
		t.Fatalf("short secret: %v, want ErrSecretTooShort", err)
	}
	if b, _ := os.ReadFile(short); string(b) != "too short" {
		t.Fatal("short secret file was overwritten")
	}
	if _, err := auth.LoadOrCreateSecret(write("open", long, 0o644)); !errors.Is(err, auth.ErrSecretFileMode) {
		t.Fatalf("world-readable secret: %v, want ErrSecretFileMode", err)
	}
	if _, err := auth.LoadOrCreateSecret(dir); err == nil {
		t.Fatal("a directory accepted as secret file")
	}
}

package app

import (
	"path/filepath"
	"testing"
	"time"
)

// testConfig is the embedded default on a loopback port chosen by the
// kernel and a data dir that does not exist yet, as commerce serve's
// defaults give it.
func testConfig(t *testing.T) Config {
	return Config{
		HTTPAddr:        "127.0.0.1:0",
		DataDir:         filepath.Join(t.TempDir(), "data"),
		Roles:           AllRoles(),
		ShutdownTimeout: 10 * time.Second,
		CheckoutExpiry:  15 * time.Minute,
		MailFrom:        "commerce@localhost",
	}
}

package payments_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/commerce-engine/commerce/internal/testsvc"
)

// TestMain stops the stripe-mock this package may have started.
func TestMain(m *testing.M) {
	code := m.Run()
	stripeMock.stop()
	os.Exit(code)
}

// stripeMock is one stripe-mock process shared by the package's tests,
// started on first use on a free 127.0.0.1 port and stopped by TestMain.
var stripeMock mockProcess

type mockProcess struct {
	once sync.Once
	cmd  *exec.Cmd
	url  string
	err  error
}

// mustStripeMock returns the base URL of a running stripe-mock. Without the
// binary the test is skipped with the reason, or fails when CI=true.
func mustStripeMock(tb testing.TB) string {
	tb.Helper()
	stripeMock.once.Do(stripeMock.start)
	if stripeMock.err != nil {
		if testsvc.InCI() {
			tb.Fatalf("stripe-mock needed but CI=true: %v", stripeMock.err)
		}
		tb.Skipf("skipping stripe-mock test: %v", stripeMock.err)
	}
	return stripeMock.url
}

// findStripeMock looks in STRIPE_MOCK_BIN, PATH, then $(go env GOPATH)/bin.
func findStripeMock() (string, error) {
	if p := os.Getenv("STRIPE_MOCK_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("STRIPE_MOCK_BIN=%s: %w", p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("stripe-mock"); err == nil {
		return p, nil
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", "stripe-mock")
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("stripe-mock not found (set STRIPE_MOCK_BIN, or go install github.com/stripe/stripe-mock@latest)")
}

func (m *mockProcess) start() {
	bin, err := findStripeMock()
	if err != nil {
		m.err = err
		return
	}
	// Port 0 for both listeners: the system picks free ports, and the HTTPS
	// listener does not grab its default :12112.
	cmd := exec.Command(bin, "-http-addr", "127.0.0.1:0", "-https-addr", "127.0.0.1:0")
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		m.err = fmt.Errorf("start %s: %w", bin, err)
		return
	}
	m.cmd = cmd
	go func() { _ = cmd.Wait(); pw.Close() }()

	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		const prefix = "Listening for HTTP at address: "
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), prefix); ok {
				found <- "http://" + addr
			}
		}
		close(found)
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case u, ok := <-found:
		if !ok {
			m.err = fmt.Errorf("%s exited before listening", bin)
			return
		}
		m.url = u
	case <-time.After(15 * time.Second):
		m.err = fmt.Errorf("%s did not report its HTTP address within 15s", bin)
	}
}

func (m *mockProcess) stop() {
	if m.cmd != nil && m.cmd.Process != nil {
		_ = m.cmd.Process.Kill() // our own child, by PID
	}
}

// Package testsvc finds the real services integration tests need through
// environment URLs, and gives each test its own isolated piece of them.
//
// On a laptop without a service the test is skipped with the reason printed;
// under CI=true a missing or unreachable service fails the test instead, so
// CI can never pass by skipping.
package testsvc

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"
)

// PostgresEnv names the variable that points tests at a PostgreSQL server.
const PostgresEnv = "COMMERCE_TEST_POSTGRES_URL"

// InCI reports whether missing services must fail rather than skip.
func InCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v == "true" || v == "1"
}

// Require returns the URL in env, or skips (fails under CI) when it is unset.
func Require(tb testing.TB, env string) string {
	tb.Helper()
	url := os.Getenv(env)
	if url == "" {
		missing(tb, env+" is not set")
	}
	return url
}

func missing(tb testing.TB, reason string) {
	tb.Helper()
	if InCI() {
		tb.Fatalf("integration test needs a service but CI=true: %s", reason)
	}
	tb.Skipf("skipping integration test: %s", reason)
}

// UniqueName returns prefix plus a random suffix, safe as a SQL identifier.
func UniqueName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

// PostgresSchema creates a fresh schema on the test PostgreSQL server, drops
// it when the test ends, and returns the server URL and the schema name.
func PostgresSchema(tb testing.TB) (url, schema string) {
	tb.Helper()
	url = Require(tb, PostgresEnv)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		missing(tb, "cannot connect to "+PostgresEnv+": "+err.Error())
	}
	defer conn.Close(ctx)
	schema = UniqueName("t")
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema %s: %v", schema, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return url, schema
}

// AMQPEnv names the variable that points tests at a RabbitMQ broker.
const AMQPEnv = "COMMERCE_TEST_AMQP_URL"

// AMQP returns the test broker's URL after checking that it accepts a
// connection; skips (fails under CI) when it is unset or unreachable. Tests
// isolate themselves with a UniqueName prefix on what they declare.
func AMQP(tb testing.TB) string {
	tb.Helper()
	url := Require(tb, AMQPEnv)
	conn, err := amqp.DialConfig(url, amqp.Config{Dial: amqp.DefaultDial(5 * time.Second)})
	if err != nil {
		missing(tb, "cannot connect to "+AMQPEnv+": "+err.Error())
	}
	_ = conn.Close()
	return url
}

// StripeMock starts Stripe's API mock (github.com/stripe/stripe-mock, found
// through STRIPE_MOCK_BIN, PATH or $(go env GOPATH)/bin) on free 127.0.0.1
// ports for this test, stops it by PID when the test ends, and returns its
// base URL. Without the binary it skips with the reason, or fails under CI.
func StripeMock(tb testing.TB) string {
	tb.Helper()
	bin, err := findStripeMock()
	if err != nil {
		missing(tb, err.Error())
	}
	// Port 0 for both listeners: the HTTPS one would otherwise take :12112.
	cmd := exec.Command(bin, "-http-addr", "127.0.0.1:0", "-https-addr", "127.0.0.1:0")
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", bin, err)
	}
	tb.Cleanup(func() { _ = cmd.Process.Kill() })
	go func() { _ = cmd.Wait(); _ = pw.Close() }()
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
			tb.Fatalf("%s exited before listening", bin)
		}
		return u
	case <-time.After(15 * time.Second):
		tb.Fatalf("%s did not report its HTTP address within 15s", bin)
	}
	return ""
}

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
	return "", fmt.Errorf("stripe-mock not found: set STRIPE_MOCK_BIN or go install github.com/stripe/stripe-mock@v0.203.0")
}

// Mailpit starts the Mailpit SMTP sink (github.com/axllent/mailpit, found
// through MAILPIT_BIN, PATH or $(go env GOPATH)/bin) on free 127.0.0.1 ports
// with a database in the test's temporary directory, waits until its SMTP
// and HTTP listeners answer, stops it by PID when the test ends, and returns
// the SMTP host:port and the HTTP API's base URL. It accepts mail without
// authentication (and any credentials, even without TLS). Without the
// binary it skips with the reason, or fails under CI.
func Mailpit(tb testing.TB) (smtpAddr, apiURL string) {
	tb.Helper()
	bin, err := findMailpit()
	if err != nil {
		missing(tb, err.Error())
	}
	dir := tb.TempDir()
	smtpAddr, httpAddr := freeAddr(tb), freeAddr(tb)
	cmd := exec.Command(bin,
		"--smtp", smtpAddr,
		"--listen", httpAddr,
		"--database", filepath.Join(dir, "mailpit.db"),
		"--smtp-auth-accept-any",
		"--smtp-auth-allow-insecure",
		"--disable-version-check",
		"--quiet",
	)
	var out strings.Builder
	sw := &syncWriter{w: &out}
	cmd.Stdout, cmd.Stderr = sw, sw
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	apiURL = "http://" + httpAddr
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-exited:
			sw.mu.Lock()
			msg := out.String()
			sw.mu.Unlock()
			tb.Fatalf("%s exited before listening: %s", bin, msg)
		default:
		}
		if mailpitReady(smtpAddr, apiURL) {
			return smtpAddr, apiURL
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s did not answer on %s and %s within 15s", bin, smtpAddr, httpAddr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncWriter lets the child's stdout and stderr share one buffer.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("find a free port: %v", err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func mailpitReady(smtpAddr, apiURL string) bool {
	c, err := net.DialTimeout("tcp", smtpAddr, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	hc := http.Client{Timeout: time.Second}
	resp, err := hc.Get(apiURL + "/api/v1/messages")
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func findMailpit() (string, error) {
	if p := os.Getenv("MAILPIT_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("MAILPIT_BIN=%s: %w", p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p, nil
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", "mailpit")
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("mailpit not found: set MAILPIT_BIN or go install github.com/axllent/mailpit@v1.33.1")
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/internal/app"
	"github.com/commerce-engine/commerce/internal/testsvc"
	"github.com/commerce-engine/commerce/openapi/openapitest"
)

// syncBuffer collects log output written from the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testConfig is the embedded default on a loopback port chosen by the
// kernel and a data dir that does not exist yet.
func testConfig(t *testing.T) Config {
	cfg := DefaultConfig()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.ShutdownTimeout = 10 * time.Second
	return cfg
}

// running is a Main started by MustRun.
type running struct {
	*Main
	cancel context.CancelFunc // the SIGTERM of the test
	errc   chan error         // Run's result
	logs   *syncBuffer
	url    string

	stopped bool // the test has collected Run's result with stop
	err     error
}

// MustRun starts Main in the background and waits until it serves. The
// test's cleanup stops it if the test did not.
func MustRun(tb testing.TB, cfg Config, opts ...Option) *running {
	tb.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := NewMain(cfg, append([]Option{WithLogger(logger)}, opts...)...)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Main: m, cancel: cancel, errc: make(chan error, 1), logs: logs}
	go func() { r.errc <- m.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := m.Close(); err != nil && !r.stopped {
			tb.Errorf("close: %v", err)
		}
		if tb.Failed() {
			tb.Logf("server log:\n%s", logs.String())
		}
	})
	select {
	case <-m.Ready():
	case err := <-r.errc:
		tb.Fatalf("Run failed before serving: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		tb.Fatal("Main not ready after 30s")
	}
	r.url = "http://" + m.Addr()
	return r
}

// stop cancels Run's context, as SIGTERM does, and returns Run's result.
func (r *running) stop(tb testing.TB) error {
	tb.Helper()
	r.cancel()
	if r.stopped {
		return r.err
	}
	select {
	case r.err = <-r.errc:
		r.stopped = true
		return r.err
	case <-time.After(30 * time.Second):
		tb.Fatal("Run did not return 30s after its context was cancelled")
		return nil
	}
}

func get(tb testing.TB, url string, header ...string) (*http.Response, string) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := openapitest.Client(tb, openapitest.IgnorePrefix("/test/")).Do(req)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp, string(body)
}

func TestServeEndToEnd(t *testing.T) {
	cfg := testConfig(t)
	slowStarted := make(chan struct{})
	releaseSlow := make(chan struct{})
	var startOnce sync.Once
	routes := WithRoutes(func(r gin.IRouter) {
		r.GET("/test/slow/:n", func(c *gin.Context) {
			startOnce.Do(func() { close(slowStarted) })
			select {
			case <-releaseSlow:
				c.String(http.StatusOK, "done "+c.Param("n"))
			case <-c.Request.Context().Done():
				c.String(http.StatusServiceUnavailable, "cancelled")
			}
		})
		r.GET("/test/panic", func(*gin.Context) { panic("secret internal detail") })
	})
	srv := MustRun(t, cfg, routes)

	if _, err := os.Stat(filepath.Join(cfg.DataDir, sqliteFileName)); err != nil {
		t.Fatalf("the data dir was not created with the event store in it: %v", err)
	}

	t.Run("healthz", func(t *testing.T) {
		resp, body := get(t, srv.url+"/healthz", headerRequestID, "req-42", headerCorrelationID, "corr-7")
		if resp.StatusCode != http.StatusOK || strings.TrimSpace(body) != `{"status":"ok"}` {
			t.Fatalf("healthz: %d %s", resp.StatusCode, body)
		}
		if resp.Header.Get(headerRequestID) != "req-42" || resp.Header.Get(headerCorrelationID) != "corr-7" {
			t.Fatalf("ids not echoed: %v", resp.Header)
		}
		resp, _ = get(t, srv.url+"/healthz")
		rid := resp.Header.Get(headerRequestID)
		if _, err := uuid.Parse(rid); err != nil {
			t.Fatalf("generated request id %q is not a UUID", rid)
		}
		if resp.Header.Get(headerCorrelationID) != rid {
			t.Fatalf("correlation id %q should default to the request id %q", resp.Header.Get(headerCorrelationID), rid)
		}
		var found bool
		for line := range strings.SplitSeq(srv.logs.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != "http request" {
				continue
			}
			if rec["request_id"] == "req-42" && rec["correlation_id"] == "corr-7" && rec["route"] == "/healthz" && rec["status"] == float64(200) {
				found = true
			}
		}
		if !found {
			t.Fatalf("no access log line with the request and correlation ids:\n%s", srv.logs.String())
		}
	})

	t.Run("readyz", func(t *testing.T) {
		resp, body := get(t, srv.url+"/readyz")
		var got struct {
			Status string                 `json:"status"`
			Checks map[string]checkResult `json:"checks"`
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("readyz body %q: %v", body, err)
		}
		if resp.StatusCode != http.StatusOK || got.Status != "ready" || got.Checks["eventstore"].Status != "up" {
			t.Fatalf("readyz: %d %s", resp.StatusCode, body)
		}
	})

	t.Run("errors are problem+json", func(t *testing.T) {
		resp, body := get(t, srv.url+"/test/panic")
		if resp.StatusCode != http.StatusInternalServerError || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("panic: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if strings.Contains(body, "secret internal detail") {
			t.Fatalf("panic detail leaked to the client: %s", body)
		}
		if !strings.Contains(srv.logs.String(), "secret internal detail") {
			t.Fatal("the panic was not logged")
		}
		resp, body = get(t, srv.url+"/no/such/path/123")
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("unknown path: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		// The server survives the panic.
		if resp, _ := get(t, srv.url+"/healthz"); resp.StatusCode != http.StatusOK {
			t.Fatalf("healthz after a panic: %d", resp.StatusCode)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		resp, body := get(t, srv.url+"/metrics")
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		for _, want := range []string{
			`http_requests_total{method="GET",route="/healthz",status="200"}`,
			`http_requests_total{method="GET",route="/test/panic",status="500"} 1`,
			`http_requests_total{method="GET",route="unmatched",status="404"} 1`,
			`http_request_duration_seconds_bucket{method="GET",route="/healthz",le="`,
			`commerce_build_info{`,
			"go_goroutines",
			"process_cpu_seconds_total",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		if strings.Contains(body, "/no/such/path") {
			t.Error("a raw path became a metric label")
		}
	})

	// An event appended now must be there after the restart.
	stream := "order-" + uuid.NewString()
	eventID := uuid.New()
	if _, err := srv.Store().Append(context.Background(), stream, eventstore.NoStream, eventstore.EventData{
		ID: eventID, Type: "order.placed", SchemaVersion: 1, Data: json.RawMessage(`{"total":1200}`),
	}); err != nil {
		t.Fatalf("append: %v", err)
	}

	t.Run("graceful stop finishes in-flight requests", func(t *testing.T) {
		type result struct {
			status int
			body   string
			err    error
		}
		done := make(chan result, 1)
		go func() {
			resp, err := http.Get(srv.url + "/test/slow/7")
			if err != nil {
				done <- result{err: err}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			done <- result{resp.StatusCode, string(b), err}
		}()
		<-slowStarted

		srv.cancel() // what SIGTERM does through signal.NotifyContext
		// The listener closes at once: wait for new connections to be
		// refused, which proves shutdown has begun while the request runs.
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", srv.Addr(), time.Second)
			if err != nil {
				break
			}
			_ = c.Close()
			if time.Now().After(deadline) {
				t.Fatal("the server still accepts connections 10s after the stop")
			}
			time.Sleep(10 * time.Millisecond)
		}
		select {
		case r := <-done:
			t.Fatalf("in-flight request ended before it was released: %+v", r)
		default:
		}
		close(releaseSlow)
		r := <-done
		if r.err != nil || r.status != http.StatusOK || r.body != "done 7" {
			t.Fatalf("in-flight request: %+v", r)
		}
		if err := srv.stop(t); err != nil {
			t.Fatalf("Run after a graceful stop: %v", err)
		}
		if _, err := srv.Store().Head(context.Background()); !errors.Is(err, eventstore.ErrClosed) {
			t.Fatalf("store after Run returned: %v, want ErrClosed", err)
		}
	})

	t.Run("restart keeps the data", func(t *testing.T) {
		again := MustRun(t, cfg)
		events, err := again.Store().ReadStream(context.Background(), stream, eventstore.ReadStreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 1 || events[0].ID != eventID || events[0].Type != "order.placed" {
			t.Fatalf("after restart the stream reads %+v", events)
		}
		if resp, _ := get(t, again.url+"/readyz"); resp.StatusCode != http.StatusOK {
			t.Fatalf("readyz after restart: %d", resp.StatusCode)
		}
		if err := again.stop(t); err != nil {
			t.Fatal(err)
		}
	})
}

func TestShutdownTimeoutCutsOffStuckRequests(t *testing.T) {
	cfg := testConfig(t)
	cfg.ShutdownTimeout = 100 * time.Millisecond
	started := make(chan struct{})
	srv := MustRun(t, cfg, WithRoutes(func(r gin.IRouter) {
		r.GET("/stuck", func(c *gin.Context) {
			close(started)
			<-c.Request.Context().Done() // only the forced close ends it
		})
	}))
	go func() {
		resp, err := http.Get(srv.url + "/stuck")
		if err == nil {
			_ = resp.Body.Close()
		}
	}()
	<-started
	err := srv.stop(t)
	if err == nil || !strings.Contains(err.Error(), envShutdownTimeout) {
		t.Fatalf("Run returned %v, want an error naming %s", err, envShutdownTimeout)
	}
	if cerr := srv.Close(); cerr == nil || cerr.Error() != err.Error() {
		t.Fatalf("Close returned %v, want Run's error %v", cerr, err)
	}
}

func TestRunRefusesWhatItCannotServe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"kurrentdb down", func(c *Config) { c.EventStoreURL = "esdb://127.0.0.1:1?tls=false" }, "reach the KurrentDB/EventStoreDB event store"},
		{"invalid config", func(c *Config) { c.Roles = []Role{"billing"} }, envRoles},
		{"address in use", nil, envHTTPAddr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			if tt.edit != nil {
				tt.edit(&cfg)
			} else {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				cfg.HTTPAddr = ln.Addr().String()
			}
			m := NewMain(cfg, WithLogger(slog.New(slog.DiscardHandler)))
			err := m.Run(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run: %v, want an error containing %q", err, tt.want)
			}
			if err := m.Close(); err == nil {
				t.Fatal("Close should report Run's failure")
			}
		})
	}
}

func TestCommands(t *testing.T) {
	t.Parallel()
	noEnv := env(nil)
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		code     int
		stdout   string
		stderr   string
		noStderr string
	}{
		{name: "version", args: []string{"version"}, code: exitOK, stdout: "commerce dev (commit "},
		{name: "help", args: []string{"help"}, code: exitOK, stdout: "commerce serve"},
		{name: "no command", args: nil, code: exitUsage, stderr: "Usage:"},
		{name: "unknown command", args: []string{"frobnicate"}, code: exitUsage, stderr: `unknown command "frobnicate"`},
		{name: "serve -h", args: []string{"serve", "-h"}, code: exitOK, stdout: "$COMMERCE_EVENTSTORE_URL"},
		{name: "bad flag value", args: []string{"serve", "-shutdown-timeout", "soon"}, code: exitUsage, stderr: envShutdownTimeout},
		{name: "unknown flag", args: []string{"serve", "-nope"}, code: exitUsage, stderr: "-nope"},
		{name: "extra argument", args: []string{"serve", "now"}, code: exitUsage, stderr: `unexpected argument "now"`},
		{name: "bad env, secret hidden", args: []string{"serve"}, env: map[string]string{envJWTSecret: "tooshort-jwt"}, code: exitUsage, stderr: envJWTSecret, noStderr: "tooshort-jwt"},
		{name: "migrate embedded", args: []string{"migrate"}, code: exitOK, stdout: "nothing to migrate"},
		{name: "migrate kurrentdb", args: []string{"migrate"}, env: map[string]string{envEventStoreURL: "kurrentdb://localhost:2113"}, code: exitOK, stdout: "KurrentDB/EventStoreDB at kurrentdb://localhost:2113 keeps its own log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			getenv := noEnv
			if tt.env != nil {
				getenv = env(tt.env)
			}
			code := run(context.Background(), tt.args, getenv, strings.NewReader(""), &stdout, &stderr)
			if code != tt.code || !strings.Contains(stdout.String(), tt.stdout) || !strings.Contains(stderr.String(), tt.stderr) ||
				(tt.noStderr != "" && strings.Contains(stderr.String(), tt.noStderr)) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tt.code, stdout.String(), stderr.String())
			}
		})
	}
}

// TestServeCommandStopsOnSignal drives the serve subcommand as main does,
// with a context that is already cancelled, as after an immediate SIGTERM.
func TestServeCommandStopsOnSignal(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"serve", "-data-dir", dir}, env(map[string]string{envHTTPAddr: "127.0.0.1:0"}), strings.NewReader(""), &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	for _, want := range []string{`"msg":"serving"`, `"msg":"stopped"`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, stderr.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, sqliteFileName)); err != nil {
		t.Fatal(err)
	}
}

// TestServeOnPostgres runs serve against the test PostgreSQL server in a
// schema of its own: migrations at start, readiness, append, restart.
func TestServeOnPostgres(t *testing.T) {
	url, schema := testsvc.PostgresSchema(t)
	cfg := testConfig(t)
	cfg.EventStoreURL = url
	withSchema := app.WithSchema(schema)

	var out bytes.Buffer
	if err := migrate(context.Background(), cfg, schema, slog.New(slog.DiscardHandler), &out); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if err := migrate(context.Background(), cfg, schema, slog.New(slog.DiscardHandler), &out); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
	if !strings.Contains(out.String(), "applied migrations") || !strings.Contains(out.String(), "up to date") {
		t.Fatalf("migrate output:\n%s", out.String())
	}

	srv := MustRun(t, cfg, withSchema)
	resp, body := get(t, srv.url+"/readyz")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"eventstore":{"status":"up"}`) {
		t.Fatalf("readyz: %d %s", resp.StatusCode, body)
	}
	stream := "order-" + uuid.NewString()
	if _, err := srv.Store().Append(context.Background(), stream, eventstore.NoStream, eventstore.EventData{
		ID: uuid.New(), Type: "order.placed", SchemaVersion: 1, Data: json.RawMessage(`{}`),
	}); err != nil {
		t.Fatal(err)
	}
	if err := srv.stop(t); err != nil {
		t.Fatal(err)
	}
	again := MustRun(t, cfg, withSchema)
	events, err := again.Store().ReadStream(context.Background(), stream, eventstore.ReadStreamOptions{})
	if err != nil || len(events) != 1 {
		t.Fatalf("after restart: %v %+v", err, events)
	}
}

// TestProfilerOnlyOnItsOwnAddress: with COMMERCE_DEBUG_ADDR the profiler
// answers there, and never on the public address.
func TestProfilerOnlyOnItsOwnAddress(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	debug := ln.Addr().String()
	_ = ln.Close()
	cfg := testConfig(t)
	cfg.DebugAddr = debug
	srv := MustRun(t, cfg)
	for _, tc := range []struct {
		url  string
		want int
	}{{"http://" + debug + "/debug/pprof/", http.StatusOK}, {srv.url + "/debug/pprof/", http.StatusNotFound}} {
		resp, err := http.Get(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Fatalf("GET %s: %d, want %d", tc.url, resp.StatusCode, tc.want)
		}
	}
}

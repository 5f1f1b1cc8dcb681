package httpedge_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/commerce-engine/commerce/httpedge"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// syncBuffer is a log sink safe for concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// MustEngine returns an edge engine logging JSON into the returned buffer.
func MustEngine(tb testing.TB, cfg httpedge.Config) (*gin.Engine, *syncBuffer) {
	tb.Helper()
	logs := &syncBuffer{}
	cfg.Log = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r, err := httpedge.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return r, logs
}

// do sends one request; header is name, value pairs.
func do(tb testing.TB, h http.Handler, method, path, body string, header ...string) *httptest.ResponseRecorder {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// mustProblem decodes a problem+json answer with the wanted status.
func mustProblem(tb testing.TB, w *httptest.ResponseRecorder, status int) httpedge.Problem {
	tb.Helper()
	if w.Code != status {
		tb.Fatalf("status %d, want %d; body %s", w.Code, status, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); ct != httpedge.ProblemContentType {
		tb.Fatalf("Content-Type %q, want %q; body %s", ct, httpedge.ProblemContentType, w.Body.String())
	}
	var p httpedge.Problem
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		tb.Fatalf("problem body %s: %v", w.Body.String(), err)
	}
	if p.Status != status {
		tb.Fatalf("problem status %d, want %d", p.Status, status)
	}
	return p
}

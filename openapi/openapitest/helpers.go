package openapitest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// Option changes what a helper of this package checks.
type Option func(*settings)

// settings are the options of one helper.
type settings struct {
	ignore []string
}

// IgnorePrefix leaves requests whose path starts with prefix unchecked: for
// routes a test mounts beside the API (the end-to-end tests' /test/...),
// which are not part of the contract.
func IgnorePrefix(prefix string) Option {
	return func(s *settings) { s.ignore = append(s.ignore, prefix) }
}

// newSettings applies opts.
func newSettings(opts []Option) settings {
	var s settings
	for _, o := range opts {
		o(&s)
	}
	return s
}

// ignored reports whether a request is outside what the helper checks.
func (s settings) ignored(r *http.Request) bool {
	for _, p := range s.ignore {
		if strings.HasPrefix(r.URL.Path, p) {
			return true
		}
	}
	return false
}

// report fails tb with the violation, if any, of one exchange.
func report(ctx context.Context, tb testing.TB, x Exchange) {
	tb.Helper()
	if err := Check(ctx, x); err != nil {
		tb.Errorf("openapi.json violation: %v", err)
	}
}

// transport is the RoundTripper Transport returns.
type transport struct {
	tb   testing.TB
	next http.RoundTripper
	s    settings
}

// Transport returns a RoundTripper that sends each request through next
// (http.DefaultTransport if nil) and fails tb, without stopping it, for
// every exchange that violates the contract. The answer reaches the caller
// unchanged; an event stream's body is handed on unread.
func Transport(tb testing.TB, next http.RoundTripper, opts ...Option) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &transport{tb: tb, next: next, s: newSettings(opts)}
}

// RoundTrip implements http.RoundTripper; it returns next's error, or the
// error of reading the request or answer body.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.s.ignored(req) {
		return t.next.RoundTrip(req)
	}
	var reqBody []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	x := Exchange{Request: req, RequestBody: reqBody, Status: resp.StatusCode, Header: resp.Header}
	if !x.isStream() {
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return nil, err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		x.Body = body
	}
	report(req.Context(), t.tb, x)
	return resp, nil
}

// Client returns an http.Client whose every exchange is checked against
// the contract (see Transport), for tests that talk to a running engine.
func Client(tb testing.TB, opts ...Option) *http.Client {
	return &http.Client{Transport: Transport(tb, nil, opts...)}
}

// Proxy starts a reverse proxy to target (a base URL) whose every exchange
// is checked against the contract, and returns its base URL: for a program
// that makes its own client, such as the load generator, which is pointed
// at the proxy instead of the engine. The proxy closes with the test.
func Proxy(tb testing.TB, target string, opts ...Option) string {
	tb.Helper()
	u, err := url.Parse(target)
	if err != nil {
		tb.Fatalf("openapitest: proxy target %q: %v", target, err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(u); r.Out.Host = r.In.Host },
		Transport: Transport(tb, nil, opts...),
	}
	srv := httptest.NewServer(rp)
	tb.Cleanup(func() {
		srv.CloseClientConnections() // event streams stay open until cut
		srv.Close()
	})
	return srv.URL
}

// Handler returns h with every request it serves checked against the
// contract: tests that call ServeHTTP with a ResponseRecorder wrap their
// handler once. Event streams are checked up to their headers.
func Handler(tb testing.TB, h http.Handler, opts ...Option) http.Handler {
	s := newSettings(opts)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.ignored(r) {
			h.ServeHTTP(w, r)
			return
		}
		body := readBody(tb, r)
		rec := &recorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		report(r.Context(), tb, rec.exchange(r, body))
	})
}

// Middleware returns gin middleware that checks every request served after
// it against the contract, for tests that hold a *gin.Engine to mount
// routes on; Use it before mounting. It sees what the handlers answer, so
// it does not see the answer of an earlier middleware that stops the chain
// (a CORS preflight, a recovered panic).
func Middleware(tb testing.TB, opts ...Option) gin.HandlerFunc {
	s := newSettings(opts)
	return func(c *gin.Context) {
		if s.ignored(c.Request) {
			c.Next()
			return
		}
		body := readBody(tb, c.Request)
		rec := &ginRecorder{ResponseWriter: c.Writer}
		c.Writer = rec
		c.Next()
		c.Writer = rec.ResponseWriter
		x := Exchange{Request: c.Request, RequestBody: body, Status: rec.Status(), Header: rec.Header(), Body: rec.body.Bytes()}
		report(c.Request.Context(), tb, x)
	}
}

// readBody reads r's body and puts an unread copy back.
func readBody(tb testing.TB, r *http.Request) []byte {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	b, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	if err != nil {
		tb.Errorf("openapitest: read request body: %v", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b
}

// recorder passes an answer on while keeping its status and body.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

// WriteHeader records the status and passes it on.
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

// Write records the body and passes it on.
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// Flush passes a flush on, for event streams.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the writer underneath.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// exchange is what the recorder saw of the answer to req.
func (r *recorder) exchange(req *http.Request, reqBody []byte) Exchange {
	status := r.status
	if status == 0 {
		status = http.StatusOK
	}
	return Exchange{Request: req, RequestBody: reqBody, Status: status, Header: r.Header(), Body: r.body.Bytes()}
}

// ginRecorder is recorder for gin's writer.
type ginRecorder struct {
	gin.ResponseWriter
	body bytes.Buffer
}

// Write records the body and passes it on.
func (r *ginRecorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// WriteString records the body and passes it on.
func (r *ginRecorder) WriteString(s string) (int, error) {
	r.body.WriteString(s)
	return r.ResponseWriter.WriteString(s)
}

// CheckRecorded checks a request a test served into rec against the
// contract and fails tb for a violation; reqBody is the request's body.
func CheckRecorded(tb testing.TB, req *http.Request, reqBody []byte, rec *httptest.ResponseRecorder) {
	tb.Helper()
	report(req.Context(), tb, Exchange{Request: req, RequestBody: reqBody, Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()})
}

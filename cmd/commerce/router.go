package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Request and correlation id headers: set by the caller or generated here,
// echoed on every answer, and written to every log line of the request.
const (
	headerRequestID     = "X-Request-ID"
	headerCorrelationID = "X-Correlation-ID"
)

// readyTimeout bounds each dependency check of /readyz.
const readyTimeout = 2 * time.Second

// unmatchedRoute labels requests that matched no route, so that metrics
// never carry a raw (unbounded) path.
const unmatchedRoute = "unmatched"

// router builds the HTTP handler: middleware first, then the operational
// endpoints, then the routes mounted with WithRoutes.
func (m *Main) router(store pingStore) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.ContextWithFallback = true
	r.HandleMethodNotAllowed = true
	_ = r.SetTrustedProxies(nil) // only ever nil: cannot fail

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo(),
	)
	metrics := newHTTPMetrics(reg)

	r.Use(requestIDs(), accessLog(m.log, metrics), recovery(m.log))
	r.NoRoute(func(c *gin.Context) { writeProblem(c, http.StatusNotFound, "no such resource") })
	r.NoMethod(func(c *gin.Context) {
		writeProblem(c, http.StatusMethodNotAllowed, "method not allowed on this resource")
	})

	r.GET("/healthz", func(c *gin.Context) {
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	})
	r.GET("/readyz", readyz(m.log, readyTimeout, map[string]func(context.Context) error{
		"eventstore": store.Ping,
	}))
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		Registry:          reg,
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		EnableOpenMetrics: false,
	})))

	for _, fn := range m.routes {
		fn(r)
	}
	return r
}

type ctxKey int

const (
	requestIDKey ctxKey = iota
	correlationIDKey
)

// requestID returns the request id the middleware put in ctx, or "".
func requestID(ctx context.Context) string {
	s, _ := ctx.Value(requestIDKey).(string)
	return s
}

// correlationID returns the correlation id the middleware put in ctx, or "".
func correlationID(ctx context.Context) string {
	s, _ := ctx.Value(correlationIDKey).(string)
	return s
}

// validID accepts a caller's id only if it is short printable ASCII, so that
// ids can go into logs and event metadata as they are.
func validID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// requestIDs takes X-Request-ID and X-Correlation-ID from the request or
// makes them (a new UUID; the correlation id defaults to the request id),
// puts them in the request context and echoes them in the answer.
func requestIDs() gin.HandlerFunc {
	return func(c *gin.Context) {
		rid := c.GetHeader(headerRequestID)
		if !validID(rid) {
			rid = uuid.NewString()
		}
		cid := c.GetHeader(headerCorrelationID)
		if !validID(cid) {
			cid = rid
		}
		ctx := context.WithValue(c.Request.Context(), requestIDKey, rid)
		ctx = context.WithValue(ctx, correlationIDKey, cid)
		c.Request = c.Request.WithContext(ctx)
		c.Header(headerRequestID, rid)
		c.Header(headerCorrelationID, cid)
		c.Next()
	}
}

// httpMetrics counts and times requests by route template, never by raw
// path, so that label cardinality stays bounded.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests answered, by method, route template and status code.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by method and route template.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

func buildInfo() prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "commerce_build_info",
		Help: "Always 1; labels tell the running build.",
	}, []string{"version", "commit", "goversion"})
	g.WithLabelValues(version, commit, runtime.Version()).Set(1)
	return g
}

// opsRoutes are polled by probes and scrapers; their access log lines are
// debug-level so they do not drown the rest.
var opsRoutes = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// accessLog writes one structured line per request and records its metrics.
// It logs the path without the query string, which may carry tokens.
func accessLog(log *slog.Logger, metrics *httpMetrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		elapsed := time.Since(start)

		route := c.FullPath()
		if route == "" {
			route = unmatchedRoute
		}
		status := c.Writer.Status()
		metrics.requests.WithLabelValues(c.Request.Method, route, strconv.Itoa(status)).Inc()
		metrics.duration.WithLabelValues(c.Request.Method, route).Observe(elapsed.Seconds())

		level := slog.LevelInfo
		switch {
		case status >= 500:
			level = slog.LevelError
		case opsRoutes[route]:
			level = slog.LevelDebug
		}
		ctx := c.Request.Context()
		log.LogAttrs(ctx, level, "http request",
			slog.String("method", c.Request.Method),
			slog.String("route", route),
			slog.String("path", c.Request.URL.Path),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
			slog.Int("bytes", max(c.Writer.Size(), 0)),
			slog.String("remote", c.ClientIP()),
			slog.String("request_id", requestID(ctx)),
			slog.String("correlation_id", correlationID(ctx)),
		)
	}
}

// recovery turns a panicking handler into a logged error and a 500
// problem+json answer without details. http.ErrAbortHandler is re-raised:
// it is net/http's way of dropping a connection on purpose.
func recovery(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(p)
			}
			ctx := c.Request.Context()
			log.ErrorContext(ctx, "panic in HTTP handler",
				"panic", p,
				"route", c.FullPath(),
				"request_id", requestID(ctx),
				"correlation_id", correlationID(ctx),
				"stack", string(debug.Stack()),
			)
			if c.Writer.Written() {
				c.Abort() // the answer has begun; the client sees it cut short
				return
			}
			writeProblem(c, http.StatusInternalServerError, "the request could not be completed; quote its request id when reporting this")
		}()
		c.Next()
	}
}

// problem is an RFC 9457 answer; request_id is an extension member that lets
// a caller quote the failing request.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// writeProblem answers with application/problem+json and stops the chain.
func writeProblem(c *gin.Context, status int, detail string) {
	body, _ := json.Marshal(problem{
		Type:      "about:blank",
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    detail,
		RequestID: requestID(c.Request.Context()),
	})
	c.Abort()
	c.Data(status, "application/problem+json", body)
}

// checkResult is one dependency's entry in the /readyz answer.
type checkResult struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// readyz answers 200 when every check passes within timeout, 503
// otherwise, with each dependency's status. Causes are logged, and only
// classified ("timeout", "unreachable") in the answer, which is public.
func readyz(log *slog.Logger, timeout time.Duration, checks map[string]func(context.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), timeout)
		defer cancel()
		var (
			mu      sync.Mutex
			wg      sync.WaitGroup
			results = make(map[string]checkResult, len(checks))
			ready   = true
		)
		for name, check := range checks {
			wg.Go(func() {
				err := check(ctx)
				res := checkResult{Status: "up"}
				if err != nil {
					res = checkResult{Status: "down", Error: "unreachable"}
					if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
						res.Error = "timeout"
					}
					log.WarnContext(ctx, "readiness check failed", "dependency", name, "error", err,
						"request_id", requestID(ctx))
				}
				mu.Lock()
				results[name] = res
				ready = ready && err == nil
				mu.Unlock()
			})
		}
		wg.Wait()
		c.Header("Cache-Control", "no-store")
		if !ready {
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "not_ready", "checks": results})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready", "checks": results})
	}
}

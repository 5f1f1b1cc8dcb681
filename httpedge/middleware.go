package httpedge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/commerce-engine/commerce/apperr"
)

// UnmatchedRoute labels requests that matched no route, so that metrics
// never carry a raw (unbounded) path.
const UnmatchedRoute = "unmatched"

// Metrics counts and times requests by route template, never by raw path,
// so that label cardinality stays bounded.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers the edge's request metrics with reg; it panics if
// they are already registered there (as prometheus.MustRegister does).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
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

// AccessLog writes one structured line per request and records its metrics
// (metrics may be nil). It logs the path without the query string, which
// may carry tokens. Requests to quiet routes (probes, scrapes) are logged
// at debug level so that they do not drown the rest.
func AccessLog(log *slog.Logger, metrics *Metrics, quiet ...string) gin.HandlerFunc {
	quietSet := make(map[string]bool, len(quiet))
	for _, r := range quiet {
		quietSet[r] = true
	}
	return func(c *gin.Context) {
		c.Set(loggerKey, log)
		start := time.Now()
		c.Next()
		elapsed := time.Since(start)

		route := c.FullPath()
		if route == "" {
			route = UnmatchedRoute
		}
		status := c.Writer.Status()
		if metrics != nil {
			metrics.requests.WithLabelValues(c.Request.Method, route, strconv.Itoa(status)).Inc()
			metrics.duration.WithLabelValues(c.Request.Method, route).Observe(elapsed.Seconds())
		}

		level := slog.LevelInfo
		switch {
		case status >= 500:
			level = slog.LevelError
		case quietSet[route]:
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
			slog.String("request_id", RequestID(ctx)),
			slog.String("correlation_id", CorrelationID(ctx)),
		)
	}
}

// Recovery turns a panicking handler into a logged error (with the stack,
// request and correlation ids) and a 500 problem+json answer that says
// nothing about the panic. http.ErrAbortHandler is re-raised: it is
// net/http's way of dropping a connection on purpose.
func Recovery(log *slog.Logger) gin.HandlerFunc {
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
				"panic", fmt.Sprint(p),
				"route", c.FullPath(),
				"request_id", RequestID(ctx),
				"correlation_id", CorrelationID(ctx),
				"stack", string(debug.Stack()),
			)
			if c.Writer.Written() {
				c.Abort() // the answer has begun; the client sees it cut short
				return
			}
			e := apperr.From(apperr.Internal(nil))
			writeProblem(c, Problem{
				Type:   ProblemTypeBase + string(apperr.CodeInternal),
				Title:  statuses[apperr.CodeInternal].title,
				Status: http.StatusInternalServerError,
				Detail: e.Message,
			})
		}()
		c.Next()
	}
}

// DefaultMaxBodyBytes is the body limit when none is configured: 1 MiB, the
// event store's limit for one event.
const DefaultMaxBodyBytes = 1 << 20

// BodyLimit caps the request body at limit bytes: a declared Content-Length
// over it is answered 413 at once; a longer body read later (DecodeJSON,
// Idempotency) fails with a too_large error, also 413.
func BodyLimit(limit int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > limit {
			WriteError(c, apperr.TooLarge(fmt.Sprintf("the request body is larger than %d bytes", limit)))
			return
		}
		if c.Request.Body != nil && c.Request.Body != http.NoBody {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		}
		c.Next()
	}
}

// DefaultTimeout is the per-request deadline when none is configured.
const DefaultTimeout = 30 * time.Second

// Timeout gives each request a context deadline d from now. Handlers must
// pass the request context down (store calls, HTTP clients) for it to take
// effect; Go cannot stop a handler that ignores it. A handler that returns
// after the deadline without answering gets a 503 problem with Retry-After.
// The routes named in streams (templates) are left unbounded: they stream
// until their client leaves.
func Timeout(d time.Duration, streams ...string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if slices.Contains(streams, c.FullPath()) {
			c.Next()
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), d)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
		if !c.Writer.Written() && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			WriteError(c, apperr.Unavailable("the request took too long; retry later", ctx.Err()))
		}
	}
}

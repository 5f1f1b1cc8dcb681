package httpedge

import (
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/commerce-engine/commerce/apperr"
	"github.com/commerce-engine/commerce/eventstore"
)

// ProblemContentType is the media type of every error answer (RFC 9457).
const ProblemContentType = "application/problem+json"

// ProblemTypeBase prefixes the code in a problem's type URI, so clients can
// switch on a stable identifier instead of the title.
const ProblemTypeBase = "https://commerce.dev/problems/"

// Problem is the body of every error answer (RFC 9457), exported so that
// clients and tests decode exactly what the edge writes.
type Problem struct {
	// Type is ProblemTypeBase followed by the apperr code.
	Type string `json:"type"`
	// Title is a short human summary of the type; the same for every problem of a type.
	Title string `json:"title"`
	// Status repeats the HTTP status code.
	Status int `json:"status"`
	// Detail explains this occurrence; generic for internal errors.
	Detail string `json:"detail,omitempty"`
	// Instance is the request path.
	Instance string `json:"instance,omitempty"`
	// RequestID lets the caller quote the failing request (extension member).
	RequestID string `json:"request_id,omitempty"`
	// Errors lists invalid fields for validation problems (extension member).
	Errors []apperr.FieldError `json:"errors,omitempty"`
}

// statusEntry is one row of the code table.
type statusEntry struct {
	status     int
	title      string
	retryAfter time.Duration // 0: no Retry-After header
}

// statuses is the one table from application error codes to HTTP answers.
var statuses = map[apperr.Code]statusEntry{
	apperr.CodeInvalid:             {http.StatusBadRequest, "Invalid request", 0},
	apperr.CodeUnauthorized:        {http.StatusUnauthorized, "Unauthorized", 0},
	apperr.CodeForbidden:           {http.StatusForbidden, "Forbidden", 0},
	apperr.CodeNotFound:            {http.StatusNotFound, "Not found", 0},
	apperr.CodeConflict:            {http.StatusConflict, "Conflict", 0},
	apperr.CodeTooLarge:            {http.StatusRequestEntityTooLarge, "Request body too large", 0},
	apperr.CodeIdempotencyMismatch: {http.StatusUnprocessableEntity, "Idempotency key reused", 0},
	apperr.CodeRateLimited:         {http.StatusTooManyRequests, "Too many requests", time.Second},
	apperr.CodeUnavailable:         {http.StatusServiceUnavailable, "Service unavailable", 5 * time.Second},
	apperr.CodeInternal:            {http.StatusInternalServerError, "Internal error", 0},
}

// StatusOf returns the HTTP status for code (500 for an unknown code), for
// callers that need the status without writing an answer.
func StatusOf(code apperr.Code) int {
	if e, ok := statuses[code]; ok {
		return e.status
	}
	return http.StatusInternalServerError
}

// RetryAfterer is implemented by errors that know when a retry may succeed
// (a rate limiter's window, a circuit's half-open time); WriteError uses it
// for the Retry-After header of 429 and 503 answers.
type RetryAfterer interface {
	RetryAfter() time.Duration
}

// loggerKey is where New leaves the edge's logger in the gin context.
const loggerKey = "httpedge.logger"

// loggerOf returns the edge's logger, or slog.Default outside New's engine.
func loggerOf(c *gin.Context) *slog.Logger {
	if l, ok := c.Get(loggerKey); ok {
		if log, ok := l.(*slog.Logger); ok {
			return log
		}
	}
	return slog.Default()
}

// WriteError answers err as application/problem+json with the status of
// its code (apperr.CodeOf) and stops the handler chain. Internal errors get
// a generic detail and are logged at error level with the request and
// correlation ids; unavailable errors are logged at warn level; neither
// cause is ever returned. 429 and 503 answers carry Retry-After.
func WriteError(c *gin.Context, err error) {
	if err == nil {
		err = apperr.Internal(errors.New("httpedge.WriteError called with a nil error"))
	}
	e := apperr.From(err)
	entry, ok := statuses[e.Code]
	if !ok {
		entry = statuses[apperr.CodeInternal]
		e = apperr.From(apperr.Internal(err))
	}
	ctx := c.Request.Context()
	switch e.Code {
	case apperr.CodeInternal:
		loggerOf(c).LogAttrs(ctx, slog.LevelError, "request failed",
			slog.String("error", err.Error()),
			slog.String("method", c.Request.Method),
			slog.String("route", c.FullPath()),
			slog.String("request_id", RequestID(ctx)),
			slog.String("correlation_id", CorrelationID(ctx)),
		)
	case apperr.CodeUnavailable:
		loggerOf(c).LogAttrs(ctx, slog.LevelWarn, "request failed: dependency unavailable",
			slog.String("error", err.Error()),
			slog.String("route", c.FullPath()),
			slog.String("request_id", RequestID(ctx)),
			slog.String("correlation_id", CorrelationID(ctx)),
		)
	}
	if entry.retryAfter > 0 {
		d := entry.retryAfter
		var ra RetryAfterer
		if errors.As(err, &ra) && ra.RetryAfter() > 0 {
			d = ra.RetryAfter()
		}
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
	}
	writeProblem(c, Problem{
		Type:   ProblemTypeBase + string(e.Code),
		Title:  entry.title,
		Status: entry.status,
		Detail: e.Message,
		Errors: e.Fields,
	})
}

// writeProblem fills the request-specific members of p, writes it and
// stops the chain.
func writeProblem(c *gin.Context, p Problem) {
	p.Instance = c.Request.URL.Path
	p.RequestID = RequestID(c.Request.Context())
	body, err := json.Marshal(p)
	if err != nil { // only strings and ints: cannot fail
		body = []byte(`{"type":"about:blank","status":500}`)
	}
	c.Abort()
	if c.Writer.Written() {
		return // an answer has begun; it cannot be replaced
	}
	c.Data(p.Status, ProblemContentType, body)
}

// NoRoute answers a path that matches no route with a 404 problem.
func NoRoute(c *gin.Context) { WriteError(c, apperr.NotFound("no such resource")) }

// NoMethod answers a known path asked with an unsupported method with a 405
// problem; the Allow header is set by gin.
func NoMethod(c *gin.Context) {
	writeProblem(c, Problem{
		Type:   ProblemTypeBase + "method_not_allowed",
		Title:  "Method not allowed",
		Status: http.StatusMethodNotAllowed,
		Detail: "method not allowed on this resource",
	})
}

// SetEventPosition sets X-Event-Position on a write answer, so that the
// client can read its own write with X-Min-Position. Call it before
// writing the body.
func SetEventPosition(c *gin.Context, pos eventstore.Position) {
	c.Header(HeaderEventPosition, strconv.FormatInt(int64(pos), 10))
}

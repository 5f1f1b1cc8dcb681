package httpedge

import (
	"context"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// Header names of the edge, exported so that clients, tests and CORS
// configuration spell them the same way.
const (
	// HeaderRequestID identifies one request; taken from the caller or generated.
	HeaderRequestID = "X-Request-ID"
	// HeaderCorrelationID ties together every request and event of one
	// business flow; it defaults to the request id.
	HeaderCorrelationID = "X-Correlation-ID"
	// HeaderIdempotencyKey lets a client retry a write without doing it twice.
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderIdempotentReplayed marks an answer replayed from the idempotency store.
	HeaderIdempotentReplayed = "Idempotent-Replayed"
	// HeaderEventPosition carries the global position of a write's last event.
	HeaderEventPosition = "X-Event-Position"
	// HeaderMinPosition asks a read to wait until its read model has applied a position.
	HeaderMinPosition = "X-Min-Position"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	correlationIDKey
)

// RequestID returns the request id RequestIDs put in ctx, or "": command
// handlers put it in event metadata.
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(requestIDKey).(string)
	return s
}

// CorrelationID returns the correlation id RequestIDs put in ctx, or "":
// command handlers put it in event metadata so the flow can be followed.
func CorrelationID(ctx context.Context) string {
	s, _ := ctx.Value(correlationIDKey).(string)
	return s
}

// WithIDs returns ctx carrying a request and a correlation id, for work
// that starts outside an HTTP request (consumers, jobs, tests).
func WithIDs(ctx context.Context, requestID, correlationID string) context.Context {
	ctx = context.WithValue(ctx, requestIDKey, requestID)
	return context.WithValue(ctx, correlationIDKey, correlationID)
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

// RequestIDs takes X-Request-ID and X-Correlation-ID from the request or
// makes them (a new UUID; the correlation id defaults to the request id),
// puts them in the request context and echoes them in the answer.
func RequestIDs() gin.HandlerFunc {
	return func(c *gin.Context) {
		rid := c.GetHeader(HeaderRequestID)
		if !validID(rid) {
			rid = uuid.NewString()
		}
		cid := c.GetHeader(HeaderCorrelationID)
		if !validID(cid) {
			cid = rid
		}
		c.Request = c.Request.WithContext(WithIDs(c.Request.Context(), rid, cid))
		c.Header(HeaderRequestID, rid)
		c.Header(HeaderCorrelationID, cid)
		c.Next()
	}
}

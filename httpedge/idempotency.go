package httpedge

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/commerce-engine/commerce/apperr"
)

// MaxIdempotencyKeyLength bounds Idempotency-Key values (printable ASCII).
const MaxIdempotencyKeyLength = 255

// IdempotencyRecord is what an IdempotencyStore keeps per key: the request's
// fingerprint and, once the first request finished, its answer.
type IdempotencyRecord struct {
	// Fingerprint is the hex SHA-256 of the request's method, path and body.
	Fingerprint string
	// Done is false while the first request is still running.
	Done bool
	// Status is the stored answer's status code (Done only).
	Status int
	// Header holds the stored answer's replayed headers (Done only).
	Header map[string]string
	// Body is the stored answer's body, byte for byte (Done only).
	Body []byte
	// Token is set by Reserve for the caller that won the key and handed
	// back to Complete and Release, so that a store can refuse a caller
	// whose reservation was taken over (lease expired).
	Token string
}

// IdempotencyStore keeps Idempotency-Key reservations and answers; it is
// declared here, where it is consumed, and implemented in memory
// (MemoryIdempotencyStore) and over the event store (EventStoreIdempotency).
// Keys are opaque printable strings of at most 64 bytes made by the
// middleware (already scoped per caller). Implementations are safe for
// concurrent use.
type IdempotencyStore interface {
	// Reserve claims key for a request with fingerprint. It returns
	// (record with Token, true, nil) if the caller won the key and must run
	// the request, then Complete or Release it; (existing record, false,
	// nil) if the key is taken: Done with the stored answer, or not Done
	// while its first request runs. Exactly one of concurrent callers wins.
	Reserve(ctx context.Context, key, fingerprint string) (IdempotencyRecord, bool, error)
	// Complete stores the answer of a won reservation (rec.Token); it fails
	// if the reservation is no longer the caller's.
	Complete(ctx context.Context, key string, rec IdempotencyRecord) error
	// Release frees a won reservation without an answer (a 5xx or a panic),
	// so that the request can be retried with the same key.
	Release(ctx context.Context, key, token string) error
}

// IdempotencyConfig configures the Idempotency middleware.
type IdempotencyConfig struct {
	// Store keeps reservations and answers; required.
	Store IdempotencyStore
	// Scope names the caller (e.g. the user id set by authentication) so
	// that two callers' keys never collide; nil puts every caller in one scope.
	Scope func(*gin.Context) string
}

// storedHeaders are the answer headers kept and replayed with the body.
var storedHeaders = []string{"Content-Type", HeaderEventPosition, "Location"}

// completeTimeout bounds storing or releasing an answer after the request,
// whose own context may already be past its deadline.
const completeTimeout = 5 * time.Second

// isWrite reports whether method changes state and so takes an Idempotency-Key.
func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

func validIdempotencyKey(k string) bool {
	if k == "" || len(k) > MaxIdempotencyKeyLength {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < ' ' || k[i] > '~' {
			return false
		}
	}
	return true
}

// idempotencyStoreKey hashes scope and key into the store's key: fixed
// length, printable, and no caller can reach another scope's keys.
func idempotencyStoreKey(scope, key string) string {
	h := sha256.New()
	h.Write([]byte(strconv.Itoa(len(scope))))
	h.Write([]byte{':'})
	h.Write([]byte(scope))
	h.Write([]byte(key))
	return hex.EncodeToString(h.Sum(nil))
}

// requestFingerprint identifies a request by method, path and body.
func requestFingerprint(method, path string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(method))
	h.Write([]byte{'\n'})
	h.Write([]byte(path))
	h.Write([]byte{'\n'})
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// captureWriter passes the answer through and keeps a copy of its body.
type captureWriter struct {
	gin.ResponseWriter
	body bytes.Buffer
}

func (w *captureWriter) Write(b []byte) (int, error) {
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *captureWriter) WriteString(s string) (int, error) {
	w.body.WriteString(s)
	return w.ResponseWriter.WriteString(s)
}

// Idempotency makes writes (POST, PUT, PATCH, DELETE) with an
// Idempotency-Key header safe to retry. The first request with a key runs;
// its answer (status, Content-Type, X-Event-Position, Location, body) is
// stored if its status is below 500 and replayed byte for byte, with
// Idempotent-Replayed: true, to every later request with the same key and
// the same method, path and body. The same key with another request is a
// 422 problem; while the first request runs, the same key is a 409 problem
// with Retry-After. A key that is not 1 to 255 printable ASCII characters is
// a 400 problem; a failing store is a 503 problem. Requests without the
// header, and reads, pass through untouched. Mount it after authentication
// so that Scope can name the caller, and after BodyLimit: it reads the
// whole body.
func Idempotency(cfg IdempotencyConfig) gin.HandlerFunc {
	if cfg.Store == nil {
		panic("httpedge.Idempotency: IdempotencyConfig.Store is nil")
	}
	return func(c *gin.Context) {
		if !isWrite(c.Request.Method) {
			c.Next()
			return
		}
		values, present := c.Request.Header[HeaderIdempotencyKey]
		if !present {
			c.Next()
			return
		}
		if len(values) != 1 || !validIdempotencyKey(values[0]) {
			WriteError(c, apperr.Invalid("the Idempotency-Key header is invalid",
				apperr.Field(HeaderIdempotencyKey, "must be one value of 1 to 255 printable ASCII characters")))
			return
		}
		var body []byte
		if c.Request.Body != nil {
			b, err := io.ReadAll(c.Request.Body)
			if err != nil {
				if isTooLarge(err) {
					WriteError(c, errTooLarge(err))
				} else {
					WriteError(c, apperr.Wrap(apperr.CodeInvalid, "the request body could not be read", err))
				}
				return
			}
			body = b
			c.Request.Body = io.NopCloser(bytes.NewReader(body))
		}
		scope := ""
		if cfg.Scope != nil {
			scope = cfg.Scope(c)
		}
		key := idempotencyStoreKey(scope, values[0])
		fp := requestFingerprint(c.Request.Method, c.Request.URL.Path, body)

		rec, won, err := cfg.Store.Reserve(c.Request.Context(), key, fp)
		if err != nil {
			WriteError(c, apperr.Unavailable("idempotency keys cannot be checked now; retry later", err))
			return
		}
		if !won {
			switch {
			case rec.Fingerprint != fp:
				WriteError(c, apperr.IdempotencyMismatch(
					"this Idempotency-Key was already used for a different request; use a new key for a new request"))
			case !rec.Done:
				c.Header("Retry-After", "1")
				WriteError(c, apperr.Conflict(
					"a request with this Idempotency-Key is still being processed; retry later", nil))
			default:
				replay(c, rec)
			}
			return
		}

		cw := &captureWriter{ResponseWriter: c.Writer}
		c.Writer = cw
		finished := false
		defer func() {
			c.Writer = cw.ResponseWriter
			if finished {
				return
			}
			// A panic is on its way up to Recovery: free the key so that the
			// request can be retried, and let the panic continue.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), completeTimeout)
			defer cancel()
			if err := cfg.Store.Release(ctx, key, rec.Token); err != nil {
				logIdempotencyFailure(c, "release", err)
			}
		}()
		c.Next()
		finished = true

		ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), completeTimeout)
		defer cancel()
		status := cw.Status()
		if status >= 500 {
			if err := cfg.Store.Release(ctx, key, rec.Token); err != nil {
				logIdempotencyFailure(c, "release", err)
			}
			return
		}
		header := make(map[string]string, len(storedHeaders))
		for _, h := range storedHeaders {
			if v := cw.Header().Get(h); v != "" {
				header[h] = v
			}
		}
		rec.Done, rec.Status, rec.Header, rec.Body = true, status, header, cw.body.Bytes()
		if err := cfg.Store.Complete(ctx, key, rec); err != nil {
			// The answer has been sent; only its replay is lost. The key
			// stays reserved (409) until the store's lease expires.
			logIdempotencyFailure(c, "complete", err)
		}
	}
}

// replay writes a stored answer as it was first written.
func replay(c *gin.Context, rec IdempotencyRecord) {
	h := c.Writer.Header()
	for k, v := range rec.Header {
		h.Set(k, v)
	}
	h.Set(HeaderIdempotentReplayed, "true")
	c.Abort()
	c.Writer.WriteHeader(rec.Status)
	c.Writer.WriteHeaderNow()
	_, _ = c.Writer.Write(rec.Body)
}

func logIdempotencyFailure(c *gin.Context, op string, err error) {
	ctx := c.Request.Context()
	loggerOf(c).LogAttrs(ctx, slog.LevelError, "idempotency store failed",
		slog.String("op", op),
		slog.String("error", err.Error()),
		slog.String("route", c.FullPath()),
		slog.String("request_id", RequestID(ctx)),
		slog.String("correlation_id", CorrelationID(ctx)),
	)
}

// errReservationLost is returned by Complete and Release when the caller's
// reservation is gone (completed, released or taken over).
var errReservationLost = errors.New("httpedge: idempotency reservation is no longer the caller's")

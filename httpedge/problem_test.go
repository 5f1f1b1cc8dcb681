package httpedge_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/commerce-engine/commerce/apperr"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/httpedge"
)

type retryIn time.Duration

func (r retryIn) Error() string             { return "limited" }
func (r retryIn) RetryAfter() time.Duration { return time.Duration(r) }

func TestWriteErrorMapsEveryCode(t *testing.T) {
	t.Parallel()
	secret := errors.New("dial tcp 10.0.0.7:5432: password authentication failed")
	tests := []struct {
		code       apperr.Code
		err        error
		status     int
		detail     string
		retryAfter string
	}{
		{apperr.CodeInvalid, apperr.Invalid("bad cart item", apperr.Field("quantity", "must be a number")), 400, "bad cart item", ""},
		{apperr.CodeUnauthorized, apperr.Unauthorized("token expired"), 401, "token expired", ""},
		{apperr.CodeForbidden, apperr.Forbidden("admins only"), 403, "admins only", ""},
		{apperr.CodeNotFound, fmt.Errorf("load: %w", apperr.NotFound("no such order")), 404, "no such order", ""},
		{apperr.CodeConflict, apperr.Conflict("only 2 left", secret), 409, "only 2 left", ""},
		{apperr.CodeTooLarge, apperr.TooLarge("too big"), 413, "too big", ""},
		{apperr.CodeIdempotencyMismatch, apperr.IdempotencyMismatch("other body"), 422, "other body", ""},
		{apperr.CodeRateLimited, apperr.RateLimited("slow down"), 429, "slow down", "1"},
		{apperr.CodeUnavailable, apperr.Unavailable("redis is down", secret), 503, "redis is down", "5"},
		{apperr.CodeInternal, apperr.Internal(secret), 500, "", ""},
		{apperr.CodeInternal, secret, 500, "", ""},
		{apperr.CodeConflict, &eventstore.WrongExpectedVersionError{Stream: "cart-secret"}, 409, "", ""},
		{apperr.CodeUnavailable, fmt.Errorf("query: %w", context.DeadlineExceeded), 503, "", "5"},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%d_%s", i, tt.code), func(t *testing.T) {
			t.Parallel()
			r, logs := MustEngine(t, httpedge.Config{})
			r.POST("/api/v1/cart/items", func(c *gin.Context) { httpedge.WriteError(c, tt.err) })
			w := do(t, r, http.MethodPost, "/api/v1/cart/items?token=x", "", httpedge.HeaderRequestID, "req-1", httpedge.HeaderCorrelationID, "corr-1")
			p := mustProblem(t, w, tt.status)
			if p.Type != "https://commerce.dev/problems/"+string(tt.code) || p.Title == "" {
				t.Errorf("type %q title %q", p.Type, p.Title)
			}
			if p.Instance != "/api/v1/cart/items" || p.RequestID != "req-1" {
				t.Errorf("instance %q request_id %q", p.Instance, p.RequestID)
			}
			if tt.detail != "" && p.Detail != tt.detail {
				t.Errorf("detail %q, want %q", p.Detail, tt.detail)
			}
			if p.Detail == "" {
				t.Error("no detail at all")
			}
			if got := w.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tt.retryAfter)
			}
			if strings.Contains(w.Body.String(), "password") || strings.Contains(w.Body.String(), "10.0.0.7") || strings.Contains(w.Body.String(), "cart-secret") {
				t.Errorf("cause leaked: %s", w.Body.String())
			}
			if tt.code == apperr.CodeInvalid {
				if len(p.Errors) != 1 || p.Errors[0] != apperr.Field("quantity", "must be a number") {
					t.Errorf("errors %+v", p.Errors)
				}
			} else if len(p.Errors) != 0 {
				t.Errorf("errors %+v on a %s problem", p.Errors, tt.code)
			}
			if tt.status == 500 {
				if !strings.Contains(logs.String(), "password authentication failed") ||
					!strings.Contains(logs.String(), `"request_id":"req-1"`) ||
					!strings.Contains(logs.String(), `"correlation_id":"corr-1"`) {
					t.Errorf("internal error not logged with its ids:\n%s", logs.String())
				}
			}
		})
	}
}

func TestWriteErrorUsesRetryAfterOfTheError(t *testing.T) {
	t.Parallel()
	r, _ := MustEngine(t, httpedge.Config{})
	r.GET("/x", func(c *gin.Context) {
		httpedge.WriteError(c, apperr.Wrap(apperr.CodeRateLimited, "slow down", retryIn(2500*time.Millisecond)))
	})
	w := do(t, r, http.MethodGet, "/x", "")
	mustProblem(t, w, 429)
	if got := w.Header().Get("Retry-After"); got != "3" {
		t.Fatalf("Retry-After %q, want 3", got)
	}
}

func TestStatusOfCoversEveryCode(t *testing.T) {
	t.Parallel()
	for _, code := range apperr.Codes() {
		if s := httpedge.StatusOf(code); s < 400 || (s == 500 && code != apperr.CodeInternal) {
			t.Errorf("StatusOf(%s) = %d", code, s)
		}
	}
	if httpedge.StatusOf("made_up") != 500 {
		t.Error("an unknown code is not 500")
	}
}

func TestUnknownRouteAndMethodAreProblems(t *testing.T) {
	t.Parallel()
	r, _ := MustEngine(t, httpedge.Config{})
	r.GET("/things", func(c *gin.Context) { c.Status(204) })
	p := mustProblem(t, do(t, r, http.MethodGet, "/nothing/here", ""), 404)
	if p.Type != httpedge.ProblemTypeBase+"not_found" {
		t.Errorf("type %q", p.Type)
	}
	w := do(t, r, http.MethodDelete, "/things", "")
	mustProblem(t, w, 405)
	if w.Header().Get("Allow") == "" {
		t.Error("405 without Allow")
	}
}

func TestPanicIsA500WithoutDetails(t *testing.T) {
	t.Parallel()
	r, logs := MustEngine(t, httpedge.Config{})
	r.GET("/boom", func(*gin.Context) { panic("secret internal detail") })
	w := do(t, r, http.MethodGet, "/boom", "", httpedge.HeaderRequestID, "req-boom")
	p := mustProblem(t, w, 500)
	if strings.Contains(w.Body.String(), "secret") || p.RequestID != "req-boom" {
		t.Fatalf("panic answer: %s", w.Body.String())
	}
	if !strings.Contains(logs.String(), "secret internal detail") || !strings.Contains(logs.String(), "req-boom") {
		t.Fatalf("panic not logged with its request id:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), `"status":500`) {
		t.Fatalf("access log lacks the 500:\n%s", logs.String())
	}
}

func TestSetEventPosition(t *testing.T) {
	t.Parallel()
	r, _ := MustEngine(t, httpedge.Config{})
	r.POST("/w", func(c *gin.Context) {
		httpedge.SetEventPosition(c, eventstore.Position(4711))
		c.JSON(201, gin.H{})
	})
	if got := do(t, r, http.MethodPost, "/w", "").Header().Get(httpedge.HeaderEventPosition); got != "4711" {
		t.Fatalf("X-Event-Position %q", got)
	}
}

func TestRequestIDs(t *testing.T) {
	t.Parallel()
	r, logs := MustEngine(t, httpedge.Config{})
	var gotRID, gotCID string
	r.GET("/ids", func(c *gin.Context) {
		gotRID, gotCID = httpedge.RequestID(c.Request.Context()), httpedge.CorrelationID(c)
		c.Status(204)
	})
	w := do(t, r, http.MethodGet, "/ids", "", httpedge.HeaderRequestID, "req-42", httpedge.HeaderCorrelationID, "corr-7")
	if gotRID != "req-42" || gotCID != "corr-7" || w.Header().Get(httpedge.HeaderRequestID) != "req-42" || w.Header().Get(httpedge.HeaderCorrelationID) != "corr-7" {
		t.Fatalf("ids %q %q, headers %v", gotRID, gotCID, w.Header())
	}
	if !strings.Contains(logs.String(), `"msg":"http request"`) || !strings.Contains(logs.String(), `"route":"/ids"`) {
		t.Fatalf("no access log line:\n%s", logs.String())
	}
	w = do(t, r, http.MethodGet, "/ids", "", httpedge.HeaderRequestID, "bad id with spaces")
	if gotRID == "bad id with spaces" || len(gotRID) != 36 || gotCID != gotRID {
		t.Fatalf("invalid caller id kept or correlation id not defaulted: %q %q", gotRID, gotCID)
	}
	if w.Header().Get(httpedge.HeaderRequestID) != gotRID {
		t.Fatal("generated id not echoed")
	}
}

package apperr_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/commerce-engine/commerce/apperr"
	"github.com/commerce-engine/commerce/eventstore"
)

var errOutOfStock = errors.New("out of stock")

func TestCodeOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want apperr.Code
	}{
		{"nil", nil, ""},
		{"invalid", apperr.Invalid("bad", apperr.Field("quantity", "must be a number")), apperr.CodeInvalid},
		{"not found", apperr.NotFound("no cart"), apperr.CodeNotFound},
		{"conflict", apperr.Conflict("short", errOutOfStock), apperr.CodeConflict},
		{"unauthorized", apperr.Unauthorized("no token"), apperr.CodeUnauthorized},
		{"forbidden", apperr.Forbidden("admins only"), apperr.CodeForbidden},
		{"unavailable", apperr.Unavailable("redis down", errors.New("dial")), apperr.CodeUnavailable},
		{"rate limited", apperr.RateLimited("slow down"), apperr.CodeRateLimited},
		{"too large", apperr.TooLarge("1 MiB max"), apperr.CodeTooLarge},
		{"idempotency mismatch", apperr.IdempotencyMismatch("other body"), apperr.CodeIdempotencyMismatch},
		{"internal", apperr.Internal(errors.New("boom")), apperr.CodeInternal},
		{"wrapped twice", fmt.Errorf("add item: %w", fmt.Errorf("load: %w", apperr.NotFound("x"))), apperr.CodeNotFound},
		{"outermost apperr wins", apperr.Wrap(apperr.CodeConflict, "x", apperr.NotFound("y")), apperr.CodeConflict},
		{"wrong expected version", fmt.Errorf("append: %w", &eventstore.WrongExpectedVersionError{Stream: "cart-1"}), apperr.CodeConflict},
		{"wrong expected version sentinel", eventstore.ErrWrongExpectedVersion, apperr.CodeConflict},
		{"event store invalid input", &eventstore.ValidationError{Field: "stream_id", Reason: "is empty"}, apperr.CodeInvalid},
		{"event store idempotency conflict", fmt.Errorf("x: %w", eventstore.ErrIdempotencyConflict), apperr.CodeConflict},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), apperr.CodeUnavailable},
		{"closed store is internal", eventstore.ErrClosed, apperr.CodeInternal},
		{"unknown", errors.New("boom"), apperr.CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := apperr.CodeOf(tt.err); got != tt.want {
				t.Fatalf("CodeOf(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestErrorKeepsTheCause(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("add to cart: %w", apperr.Conflict("only 2 left", errOutOfStock))
	if !errors.Is(err, errOutOfStock) {
		t.Fatal("errors.Is does not find the domain sentinel through *apperr.Error")
	}
	var e *apperr.Error
	if !errors.As(err, &e) || e.Message != "only 2 left" {
		t.Fatalf("errors.As: %v", e)
	}
	if s := err.Error(); !strings.Contains(s, "conflict: only 2 left: out of stock") {
		t.Fatalf("Error() = %q", s)
	}
	inv := apperr.Invalid("bad body", apperr.Field("a", "x"), apperr.Field("b", "y"))
	if s := inv.Error(); s != "invalid: bad body (a: x; b: y)" {
		t.Fatalf("Error() = %q", s)
	}
}

func TestFromNeverShowsCauses(t *testing.T) {
	t.Parallel()
	secret := errors.New("pq: password authentication failed for user commerce")
	for _, err := range []error{
		secret,
		apperr.Internal(secret),
		apperr.Wrap(apperr.CodeInternal, "db password is hunter2", secret),
		fmt.Errorf("x: %w", context.DeadlineExceeded),
		&eventstore.WrongExpectedVersionError{Stream: "secret-stream"},
	} {
		e := apperr.From(err)
		if e.Message == "" || strings.Contains(e.Message, "password") || strings.Contains(e.Message, "hunter2") || strings.Contains(e.Message, "secret") {
			t.Errorf("From(%v).Message = %q", err, e.Message)
		}
		if e.Code != apperr.CodeOf(err) {
			t.Errorf("From(%v).Code = %q, want %q", err, e.Code, apperr.CodeOf(err))
		}
		if !errors.Is(e, secret) && errors.Is(err, secret) {
			t.Errorf("From(%v) lost the cause", err)
		}
	}
	if apperr.From(nil) != nil {
		t.Error("From(nil) != nil")
	}
	nf := apperr.NotFound("no such cart")
	if got := apperr.From(fmt.Errorf("w: %w", nf)); got != nf {
		t.Errorf("From did not return the *Error in the chain: %v", got)
	}
	if got := apperr.From(apperr.New(apperr.CodeConflict, "")); got.Message == "" {
		t.Error("an *Error without a message got no generic one")
	}
}

func TestCodesAreDistinct(t *testing.T) {
	t.Parallel()
	seen := map[apperr.Code]bool{}
	for _, c := range apperr.Codes() {
		if seen[c] || c == "" {
			t.Fatalf("code %q repeated or empty", c)
		}
		seen[c] = true
	}
	if len(seen) != 10 {
		t.Fatalf("%d codes, want 10", len(seen))
	}
}

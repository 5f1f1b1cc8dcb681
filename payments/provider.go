package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/commerce-engine/commerce/domain/money"
)

// IntentRequest asks a provider for a payment intent for one checkout.
type IntentRequest struct {
	CheckoutID string // also the idempotency key of the create call
	PaymentID  string // our id, put in the intent's metadata as payment_id
	CustomerID string // metadata customer_id
	Amount     money.Money
}

// Intent is the provider's answer to CreateIntent.
type Intent struct {
	ProviderID   string // "pi_..."
	ClientSecret string // returned to the shopper only, never logged or stored
	Status       string // e.g. "requires_payment_method"
}

// RefundRequest gives back Amount of a provider payment.
type RefundRequest struct {
	ProviderID     string
	PaymentID      string
	Amount         money.Money
	Reason         string
	IdempotencyKey string
}

// Provider is the port the checkout saga uses; Stripe and Offline implement it.
type Provider interface {
	// Name identifies the provider in events and logs: "stripe" or "offline".
	Name() string
	// CreateIntent creates (idempotently per CheckoutID) a payment intent.
	CreateIntent(ctx context.Context, r IntentRequest) (Intent, error)
	// Refund gives back r.Amount of the payment r.ProviderID.
	Refund(ctx context.Context, r RefundRequest) error
	// CancelIntent stops a still-pending intent (reservation expired). It returns
	// ErrAlreadySucceeded when the provider says the intent was already paid.
	CancelIntent(ctx context.Context, providerID, idempotencyKey string) error
}

var (
	// ErrAlreadySucceeded tells the saga that an intent it wants to cancel
	// was already paid, so it must refund (or keep the order) instead.
	ErrAlreadySucceeded = errors.New("payments: intent already succeeded")
	// ErrUnavailable marks a provider outage or an open circuit breaker; the
	// HTTP layer answers 503 with Retry-After. Returned errors are
	// *UnavailableError, which matches it with errors.Is.
	ErrUnavailable = errors.New("payments: provider unavailable")
	// ErrRejected means the request was refused for a reason that retrying
	// will not fix (a provider 4xx other than 429, or a request invalid
	// before it was sent); the error wraps the provider's message.
	ErrRejected = errors.New("payments: request rejected")
)

// UnavailableError says the provider is down or its circuit breaker is open,
// and when it is worth trying again; the HTTP layer answers 503 with
// Retry-After.
type UnavailableError struct {
	RetryAfter time.Duration // at least one second
	Err        error         // the network, 5xx, 429 or breaker error
}

// Error describes the outage and its cause.
func (e *UnavailableError) Error() string {
	return fmt.Sprintf("%v (retry after %s): %v", ErrUnavailable, e.RetryAfter, e.Err)
}

// Unwrap exposes the cause, e.g. gobreaker.ErrOpenState or a net error.
func (e *UnavailableError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnavailable) hold for every *UnavailableError.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// validateIntent rejects an intent request no provider would accept, so both
// providers fail the same way without a network call.
func validateIntent(r IntentRequest) error {
	switch {
	case r.CheckoutID == "":
		return fmt.Errorf("%w: checkout id is empty", ErrRejected)
	case r.PaymentID == "":
		return fmt.Errorf("%w: payment id is empty", ErrRejected)
	case !r.Amount.IsPositive():
		return fmt.Errorf("%w: amount %s is not a positive amount", ErrRejected, r.Amount)
	}
	return nil
}

// validateRefund is validateIntent for refunds.
func validateRefund(r RefundRequest) error {
	switch {
	case r.ProviderID == "":
		return fmt.Errorf("%w: provider id is empty", ErrRejected)
	case r.IdempotencyKey == "":
		return fmt.Errorf("%w: idempotency key is empty", ErrRejected)
	case !r.Amount.IsPositive():
		return fmt.Errorf("%w: refund amount %s is not a positive amount", ErrRejected, r.Amount)
	}
	return nil
}

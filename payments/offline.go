package payments

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
)

// Offline is the embedded default Provider: it needs no Stripe account and
// always succeeds, so the engine runs end to end on a laptop or in CI.
// Payments are then confirmed by webhooks built with SignedEvent. It is safe
// for concurrent use.
type Offline struct {
	mu        sync.Mutex
	succeeded map[string]bool // provider ids passed to MarkSucceeded
}

// NewOffline returns an Offline provider with no intent marked succeeded.
func NewOffline() *Offline {
	return &Offline{succeeded: make(map[string]bool)}
}

// Name returns "offline", the provider name recorded in events.
func (o *Offline) Name() string { return "offline" }

// OfflineIntentID returns the ProviderID the offline provider gives the
// checkout, so tests and load generators can sign its webhooks up front.
func OfflineIntentID(checkoutID string) string {
	sum := sha256.Sum256([]byte(checkoutID))
	return "pi_offline_" + hex.EncodeToString(sum[:])[:24]
}

// CreateIntent returns a ProviderID derived from the CheckoutID
// ("pi_offline_" + 24 hex of its sha256, so retries get the same id), a
// random client secret ProviderID+"_secret_"+hex and Status
// "requires_payment_method". It returns an error wrapping ErrRejected for a
// request Stripe would refuse too (empty ids, non-positive amount).
func (o *Offline) CreateIntent(ctx context.Context, r IntentRequest) (Intent, error) {
	if err := ctx.Err(); err != nil {
		return Intent{}, fmt.Errorf("payments: offline create intent: %w", err)
	}
	if err := validateIntent(r); err != nil {
		return Intent{}, fmt.Errorf("payments: offline create intent: %w", err)
	}
	id := OfflineIntentID(r.CheckoutID)
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Intent{}, fmt.Errorf("payments: offline client secret: %w", err)
	}
	return Intent{
		ProviderID:   id,
		ClientSecret: id + "_secret_" + hex.EncodeToString(b[:]),
		Status:       "requires_payment_method",
	}, nil
}

// Refund always succeeds for a valid request; it returns an error wrapping
// ErrRejected for an empty provider id or idempotency key or a non-positive
// amount.
func (o *Offline) Refund(ctx context.Context, r RefundRequest) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("payments: offline refund: %w", err)
	}
	if err := validateRefund(r); err != nil {
		return fmt.Errorf("payments: offline refund: %w", err)
	}
	return nil
}

// CancelIntent succeeds unless MarkSucceeded was called for providerID, in
// which case it returns ErrAlreadySucceeded, as Stripe would.
func (o *Offline) CancelIntent(ctx context.Context, providerID, idempotencyKey string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("payments: offline cancel intent: %w", err)
	}
	if providerID == "" {
		return fmt.Errorf("payments: offline cancel intent: %w: provider id is empty", ErrRejected)
	}
	o.mu.Lock()
	paid := o.succeeded[providerID]
	o.mu.Unlock()
	if paid {
		return fmt.Errorf("payments: offline cancel intent %s: %w", providerID, ErrAlreadySucceeded)
	}
	return nil
}

// MarkSucceeded records that providerID was paid, so a later CancelIntent
// returns ErrAlreadySucceeded. The mark lives in this process's memory only:
// it is lost on restart and not shared between replicas, which is fine for
// the offline provider's purpose (local runs and tests), not for production.
func (o *Offline) MarkSucceeded(providerID string) {
	o.mu.Lock()
	if o.succeeded == nil { // the zero Offline is usable too
		o.succeeded = make(map[string]bool)
	}
	o.succeeded[providerID] = true
	o.mu.Unlock()
}

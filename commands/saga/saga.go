// Package saga is the checkout process manager of DESIGN.md: it reserves a
// cart's lines before any money is taken, asks the payment provider for an
// intent, and reacts to what follows (the provider's webhooks recorded as
// payment events, its own decisions, order cancellations, timeouts) until the
// checkout ends in exactly one order or in released stock, with a refund for
// any payment that arrived too late.
//
// Its decisions live in the checkout's own stream (domain/checkout), so that
// two triggers racing for one checkout (a webhook and the timeout, two
// redeliveries) are serialised by the stream's expected version and decided
// once. Every side effect is a command whose id derives from the checkout
// (or the triggering event), and every provider call carries an idempotency
// key: a step repeated after a crash or a redelivery changes nothing.
//
// Every event of a checkout carries the checkout id as its correlation id,
// which is how an order's timeline gathers cart, product, payment, checkout
// and order events.
package saga

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/checkout"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/payments"
)

// DefaultExpiry is how long a checkout holds its stock waiting for payment.
const DefaultExpiry = 15 * time.Minute

// Actor names the saga in the metadata of the events it causes.
const Actor = "saga:checkout"

// Config wires the saga to the command path and the payment provider.
type Config struct {
	Runner   *commands.Runner
	Provider payments.Provider
	// Expiry is how long reservations hold (DefaultExpiry when zero).
	Expiry time.Duration
	Now    func() time.Time
	Logger *slog.Logger
}

// Saga runs checkouts; it is safe for concurrent use, also by several
// processes on one event store.
type Saga struct {
	run      *commands.Runner
	provider payments.Provider
	expiry   time.Duration
	now      func() time.Time
	log      *slog.Logger
}

// New returns a saga with cfg's defaults filled in.
func New(cfg Config) *Saga {
	s := &Saga{run: cfg.Runner, provider: cfg.Provider, expiry: cfg.Expiry, now: cfg.Now, log: cfg.Logger}
	if s.expiry <= 0 {
		s.expiry = DefaultExpiry
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// Provider returns the payment provider the saga charges through.
func (s *Saga) Provider() payments.Provider { return s.provider }

// Expiry returns how long a checkout's reservations hold.
func (s *Saga) Expiry() time.Duration { return s.expiry }

// checkout runs one decision on the checkout's stream.
func (s *Saga) checkout(ctx context.Context, checkoutID string, m meta, step string, cmd any) (checkout.State, error) {
	res, err := s.checkoutResult(ctx, checkoutID, m, step, cmd)
	return res.State, err
}

// checkoutResult is checkout for callers that also need the position of
// what the command wrote (or had written, when it is replayed).
func (s *Saga) checkoutResult(ctx context.Context, checkoutID string, m meta, step string, cmd any) (commands.Result[checkout.State], error) {
	res, err := commands.Handle(ctx, s.run, commands.Checkout, checkout.StreamID(checkoutID), cmd, m.step(step))
	if err != nil {
		return res, fmt.Errorf("checkout %s %s: %w", checkoutID, step, err)
	}
	return res, nil
}

// meta is the metadata every command of one checkout carries; step makes
// the command id.
type meta struct {
	checkoutID, causation, trace, actor string
}

func (s *Saga) meta(checkoutID, causation, trace, actor string) meta {
	return meta{checkoutID: checkoutID, causation: causation, trace: trace, actor: actor}
}

func (m meta) step(name string) commands.Metadata {
	return commands.Metadata{
		CommandID:     "checkout/" + m.checkoutID + "/" + name,
		CorrelationID: m.checkoutID,
		CausationID:   m.causation,
		Actor:         m.actor,
		TraceParent:   m.trace,
	}
}

// traceParent returns the W3C trace context an event was written under.
func traceParent(e eventstore.Event) string {
	md, err := commands.DecodeMetadata(e.Metadata)
	if err != nil {
		return ""
	}
	return md.TraceParent
}

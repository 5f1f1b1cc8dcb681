package saga

import (
	"context"
	"fmt"

	"github.com/commerce-engine/commerce/domain/checkout"
	"github.com/commerce-engine/commerce/domain/order"
	"github.com/commerce-engine/commerce/domain/payment"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/messaging"
)

// Reacting to events: the saga's subscription and the dispatch of each
// committed event to the phase it moves on.

// Types lists the event types Handle acts on: the saga's subscription.
var Types = []string{
	payment.SucceededType, payment.FailedType, payment.RefundedType,
	checkout.PaidType, checkout.AbandonedType, checkout.RefundRequestedType,
	order.CancelledType,
}

// Topics are the bus topics the saga binds: those of the stream categories
// Types come from.
var Topics = []string{
	messaging.Topic(payment.StreamPrefix), messaging.Topic(checkout.StreamPrefix), messaging.Topic(order.StreamPrefix),
}

// Handle is the saga's message handler: it applies one committed event.
// Delivery is at least once and in any order; Handle is idempotent and
// returns an error only when a retry may succeed.
func (s *Saga) Handle(ctx context.Context, e eventstore.Event) error {
	p, err := s.run.Codec.Decode(e)
	if err != nil {
		return fmt.Errorf("decode %s at %d: %w", e.Type, e.Position, err)
	}
	trace := traceParent(e)
	cause := e.ID.String()
	switch ev := p.(type) {
	case payment.Succeeded:
		m := s.meta(ev.CheckoutID, cause, trace, Actor)
		_, err := s.checkout(ctx, ev.CheckoutID, m, "paid/"+cause, checkout.PaymentSucceeded{PaymentID: ev.PaymentID, At: s.now().UTC()})
		return err
	case payment.Failed:
		m := s.meta(ev.CheckoutID, cause, trace, Actor)
		_, err := s.checkout(ctx, ev.CheckoutID, m, "failed/"+cause, checkout.PaymentFailed{PaymentID: ev.PaymentID, Reason: ev.Reason, At: s.now().UTC()})
		return err
	case payment.Refunded:
		return s.refunded(ctx, ev, s.meta(ev.CheckoutID, cause, trace, Actor))
	case checkout.Paid:
		return s.complete(ctx, ev.CheckoutID, e.Version, s.meta(ev.CheckoutID, cause, trace, Actor))
	case checkout.Abandoned:
		_, err := s.release(ctx, ev.CheckoutID, s.meta(ev.CheckoutID, cause, trace, Actor))
		return err
	case checkout.RefundRequested:
		return s.refundLatePayment(ctx, ev.CheckoutID, s.meta(ev.CheckoutID, cause, trace, Actor))
	case order.Cancelled:
		return s.compensateCancellation(ctx, ev.OrderID, cause, trace)
	}
	return nil
}

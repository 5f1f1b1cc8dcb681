package saga

import (
	"context"
	"errors"
	"fmt"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/catalog"
	"github.com/commerce-engine/commerce/domain/checkout"
	"github.com/commerce-engine/commerce/domain/order"
	"github.com/commerce-engine/commerce/domain/payment"
	"github.com/commerce-engine/commerce/payments"
)

// refundLatePayment gives back a payment that succeeded after its checkout
// had been abandoned.
func (s *Saga) refundLatePayment(ctx context.Context, checkoutID string, m meta) error {
	st, _, err := commands.Load(ctx, s.run, commands.Checkout, checkout.StreamID(checkoutID))
	if err != nil {
		return fmt.Errorf("load checkout %s: %w", checkoutID, err)
	}
	if st.RefundPaymentID == "" || st.RefundDone {
		return nil
	}
	if err := s.refundPayment(ctx, st.RefundPaymentID, "checkout abandoned before payment ("+st.Reason+")", m); err != nil {
		return err
	}
	_, err = s.checkout(ctx, checkoutID, m, "refunded", checkout.MarkRefunded{At: s.now().UTC()})
	return err
}

// refundPayment refunds what is left of a payment through the provider,
// then records it; the idempotency key and the command id make a repeat a
// no-op at both ends.
func (s *Saga) refundPayment(ctx context.Context, paymentID, reason string, m meta) error {
	p, _, err := commands.Load(ctx, s.run, commands.Payment, payment.StreamID(paymentID))
	if err != nil {
		return fmt.Errorf("load payment %s: %w", paymentID, err)
	}
	if p.Status == payment.StatusRefunded {
		return nil
	}
	if p.Status != payment.StatusSucceeded {
		return fmt.Errorf("refund payment %s: it is not succeeded (status %d)", paymentID, p.Status)
	}
	left, err := p.Amount.Sub(p.Refunded)
	if err != nil {
		return fmt.Errorf("refund payment %s: %w", paymentID, err)
	}
	if err := s.provider.Refund(ctx, payments.RefundRequest{
		ProviderID: p.ProviderID, PaymentID: paymentID, Amount: left, Reason: reason, IdempotencyKey: "refund-" + paymentID,
	}); err != nil {
		return fmt.Errorf("refund payment %s at the provider: %w", paymentID, err)
	}
	_, err = commands.Handle(ctx, s.run, commands.Payment, payment.StreamID(paymentID), payment.RecordRefund{
		PaymentID: paymentID, TotalRefunded: p.Amount, Reason: reason, At: s.now().UTC(),
	}, m.step("refund/"+paymentID))
	if err != nil {
		return fmt.Errorf("record refund of payment %s: %w", paymentID, err)
	}
	return nil
}

// refunded follows a recorded refund: a cancelled order becomes refunded,
// a late payment's checkout records its refund.
func (s *Saga) refunded(ctx context.Context, ev payment.Refunded, m meta) error {
	p, _, err := commands.Load(ctx, s.run, commands.Payment, payment.StreamID(ev.PaymentID))
	if err != nil {
		return fmt.Errorf("load payment %s: %w", ev.PaymentID, err)
	}
	if p.Status != payment.StatusRefunded {
		return nil
	}
	o, _, err := commands.Load(ctx, s.run, commands.Order, order.StreamID(ev.CheckoutID))
	if err != nil {
		return fmt.Errorf("load order %s: %w", ev.CheckoutID, err)
	}
	if o.Status == order.StatusCancelled {
		_, err := commands.Handle(ctx, s.run, commands.Order, order.StreamID(ev.CheckoutID), order.MarkRefunded{OrderID: ev.CheckoutID, At: s.now().UTC()}, m.step("order-refunded"))
		if err != nil && !errors.Is(err, order.ErrAlreadyRefunded) {
			return fmt.Errorf("mark order %s refunded: %w", ev.CheckoutID, err)
		}
	}
	return nil
}

// compensateCancellation returns a cancelled order's units to stock and
// refunds its payment; the payment's refunded event then marks the order
// refunded.
func (s *Saga) compensateCancellation(ctx context.Context, orderID, cause, trace string) error {
	o, _, err := commands.Load(ctx, s.run, commands.Order, order.StreamID(orderID))
	if err != nil {
		return fmt.Errorf("load order %s: %w", orderID, err)
	}
	if o.Status != order.StatusCancelled && o.Status != order.StatusRefunded {
		return nil
	}
	m := s.meta(o.CheckoutID, cause, trace, Actor)
	st, _, err := commands.Load(ctx, s.run, commands.Checkout, checkout.StreamID(o.CheckoutID))
	if err != nil {
		return fmt.Errorf("load checkout %s: %w", o.CheckoutID, err)
	}
	for _, l := range st.Lines {
		_, err := commands.Handle(ctx, s.run, commands.Product, catalog.StreamID(l.ProductID), catalog.AdjustStock{
			ProductID: l.ProductID, Delta: l.Quantity, Reason: "order " + orderID + " cancelled", At: s.now().UTC(),
		}, m.step("restock/"+l.ProductID))
		if err != nil && !errors.Is(err, catalog.ErrProductNotFound) {
			return fmt.Errorf("restock %s of order %s: %w", l.ProductID, orderID, err)
		}
	}
	if o.Status == order.StatusRefunded {
		return nil
	}
	if err := s.refundPayment(ctx, o.PaymentID, "order cancelled", m); err != nil {
		return err
	}
	_, err = commands.Handle(ctx, s.run, commands.Order, order.StreamID(orderID), order.MarkRefunded{OrderID: orderID, At: s.now().UTC()}, m.step("order-refunded"))
	if err != nil && !errors.Is(err, order.ErrAlreadyRefunded) {
		return fmt.Errorf("mark order %s refunded: %w", orderID, err)
	}
	return nil
}

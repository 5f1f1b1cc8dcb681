package saga

import (
	"context"
	"errors"
	"fmt"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/cart"
	"github.com/commerce-engine/commerce/domain/catalog"
	"github.com/commerce-engine/commerce/domain/checkout"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/payments"
)

// Expire is the timeout's trigger: it abandons checkoutID if it is still
// open at its expiry; the abandonment's event then releases its holds.
func (s *Saga) Expire(ctx context.Context, checkoutID string) error {
	m := s.meta(checkoutID, "timeout", "", Actor)
	_, err := s.checkout(ctx, checkoutID, m, "expire", checkout.Expire{At: s.now().UTC()})
	if errors.Is(err, checkout.ErrNotExpired) {
		return nil
	}
	return err
}

// release gives back every reservation of an abandoned checkout, unfreezes
// its cart, cancels its payment intent at the provider (a payment arriving
// anyway is refunded), and records the release. It returns the position
// of the release's record, 0 when there was nothing to release.
func (s *Saga) release(ctx context.Context, checkoutID string, m meta) (eventstore.Position, error) {
	st, _, err := commands.Load(ctx, s.run, commands.Checkout, checkout.StreamID(checkoutID))
	if err != nil {
		return 0, fmt.Errorf("load checkout %s: %w", checkoutID, err)
	}
	if st.Status != checkout.StatusAbandoned {
		return 0, nil
	}
	now := s.now().UTC()
	for _, l := range st.Lines {
		_, err := commands.Handle(ctx, s.run, commands.Product, catalog.StreamID(l.ProductID),
			catalog.ReleaseReservation{ProductID: l.ProductID, ReservationID: checkoutID, Reason: st.Reason, At: now}, m.step("release/"+l.ProductID))
		switch {
		case err == nil, errors.Is(err, catalog.ErrReservationUnknown), errors.Is(err, catalog.ErrReservationReleased),
			errors.Is(err, catalog.ErrProductNotFound):
		case errors.Is(err, catalog.ErrReservationAlreadyCommitted):
			// Only a paid checkout commits, and a paid one is never
			// abandoned: this is a bug worth shouting about, not retrying.
			s.log.ErrorContext(ctx, "abandoned checkout's reservation was committed", "checkout_id", checkoutID, "product_id", l.ProductID)
		default:
			return 0, fmt.Errorf("release %s of checkout %s: %w", l.ProductID, checkoutID, err)
		}
	}
	_, err = commands.Handle(ctx, s.run, commands.Cart, cart.StreamID(st.CartID),
		cart.CancelCheckout{CartID: st.CartID, CheckoutID: checkoutID, Reason: st.Reason, At: now}, m.step("cart-cancel"))
	if err != nil && !errors.Is(err, cart.ErrNotCheckedOut) {
		return 0, fmt.Errorf("unfreeze cart of checkout %s: %w", checkoutID, err)
	}
	if st.ProviderID != "" {
		err := s.provider.CancelIntent(ctx, st.ProviderID, "cancel-"+checkoutID)
		if err != nil && !errors.Is(err, payments.ErrAlreadySucceeded) {
			return 0, fmt.Errorf("cancel payment intent of checkout %s: %w", checkoutID, err)
		}
	}
	res, err := s.checkoutResult(ctx, checkoutID, m, "released", checkout.MarkReleased{At: now})
	return res.Position, err
}

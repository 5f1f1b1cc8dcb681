package saga

import (
	"context"
	"errors"
	"fmt"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/cart"
	"github.com/commerce-engine/commerce/domain/catalog"
	"github.com/commerce-engine/commerce/domain/checkout"
	"github.com/commerce-engine/commerce/domain/order"
)

// complete commits the reservations, places the order (its id is the
// checkout's: one checkout, at most one order), clears the cart and records
// the completion.
//
// paidAt is the version of the checkout's paid event: a cached state that
// includes it is as good as a read (what follows a payment is decided by
// the commands below, on the current state).
func (s *Saga) complete(ctx context.Context, checkoutID string, paidAt int64, m meta) error {
	st, _, err := commands.LoadAtLeast(ctx, s.run, commands.Checkout, checkout.StreamID(checkoutID), paidAt)
	if err != nil {
		return fmt.Errorf("load checkout %s: %w", checkoutID, err)
	}
	if st.Status != checkout.StatusPaid {
		return nil
	}
	now := s.now().UTC()
	err = eachLine(st.Lines, func(l checkout.Line) error {
		_, err := commands.Handle(ctx, s.run, commands.Product, catalog.StreamID(l.ProductID),
			catalog.CommitReservation{ProductID: l.ProductID, ReservationID: checkoutID, At: now}, m.step("commit/"+l.ProductID))
		if err != nil && !errors.Is(err, catalog.ErrReservationAlreadyCommitted) {
			return fmt.Errorf("commit %s of checkout %s: %w", l.ProductID, checkoutID, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	lines := make([]order.PlaceLine, len(st.Lines))
	for i, l := range st.Lines {
		lines[i] = order.PlaceLine{ProductID: l.ProductID, Quantity: l.Quantity, UnitPrice: l.UnitPrice}
	}
	_, err = commands.Handle(ctx, s.run, commands.Order, order.StreamID(checkoutID), order.Place{
		OrderID: checkoutID, CustomerID: st.CustomerID, CheckoutID: checkoutID, PaymentID: st.PaymentID,
		Lines: lines, Paid: st.Total, At: now,
	}, m.step("place"))
	if err != nil && !errors.Is(err, order.ErrOrderExists) {
		return fmt.Errorf("place order %s: %w", checkoutID, err)
	}
	_, err = commands.Handle(ctx, s.run, commands.Cart, cart.StreamID(st.CartID),
		cart.Clear{CartID: st.CartID, CheckoutID: checkoutID, At: now}, m.step("clear-cart"))
	if err != nil && !errors.Is(err, cart.ErrNotCheckedOut) {
		return fmt.Errorf("clear cart of checkout %s: %w", checkoutID, err)
	}
	_, err = s.checkout(ctx, checkoutID, m, "complete", checkout.Complete{OrderID: checkoutID, At: now})
	return err
}

package order

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/commerce-engine/commerce/domain/money"
)

// Rules of the order aggregate. An order exists only once paid: the saga
// places it after the payment succeeded, so "placed" means paid.
//
//  1. An order is placed once (ErrOrderExists) with an order id
//     (ErrOrderIDRequired), customer (ErrCustomerRequired), checkout
//     (ErrCheckoutRequired) and payment (ErrPaymentRequired), at least one
//     line (ErrNoLines), every line with a product, a quantity of at least one
//     and a positive price (ErrInvalidLine), one currency throughout
//     (ErrMixedCurrency), and the amount paid equal to the lines' total
//     (ErrTotalMismatch).
//  2. Every other command needs a placed order (ErrOrderNotFound); processing
//     and shipping an order that was never placed also match ErrOrderNotPaid.
//  3. Processing follows placed only (ErrInvalidTransition).
//  4. Shipping follows placed or processing only, with a carrier
//     (ErrCarrierRequired) and a tracking number (ErrTrackingRequired), both
//     valid UTF-8 without NUL (ErrInvalidText); a
//     shipped or delivered order does not ship again (ErrAlreadyShipped), a
//     cancelled one not at all (ErrOrderCancelled).
//  5. Delivery follows shipped only (ErrNotShipped, ErrAlreadyDelivered).
//  6. Cancellation is possible before shipping only (ErrAlreadyShipped), once
//     (ErrOrderCancelled), with a reason (ErrReasonRequired).
//  7. A refund is recorded only after cancellation (ErrNotCancelled), once
//     (ErrAlreadyRefunded), for the whole total. Returns after delivery are
//     out of scope: they would be a separate return flow.

// Decide returns the events that command produces on order s, or an error
// wrapping one of this package's sentinels (and no events). Commands are
// passed by value; an unknown command gives ErrUnknownCommand.
func Decide(s State, command any) ([]any, error) {
	switch c := command.(type) {
	case Place:
		return place(s, c)
	case StartProcessing:
		return startProcessing(s, c)
	case Ship:
		return ship(s, c)
	case Deliver:
		return deliver(s, c)
	case Cancel:
		return cancel(s, c)
	case MarkRefunded:
		return markRefunded(s, c)
	}
	return nil, fmt.Errorf("%w: %T", ErrUnknownCommand, command)
}

func place(s State, c Place) ([]any, error) {
	switch {
	case s.Status != 0:
		return nil, ErrOrderExists
	case c.OrderID == "":
		return nil, ErrOrderIDRequired
	case c.CustomerID == "":
		return nil, ErrCustomerRequired
	case c.CheckoutID == "":
		return nil, ErrCheckoutRequired
	case c.PaymentID == "":
		return nil, ErrPaymentRequired
	case len(c.Lines) == 0:
		return nil, ErrNoLines
	}
	currency := c.Lines[0].UnitPrice.Currency
	total := money.Zero(currency)
	lines := make([]Line, 0, len(c.Lines))
	for i, l := range c.Lines {
		if l.ProductID == "" || l.Quantity < 1 || !l.UnitPrice.IsPositive() {
			return nil, fmt.Errorf("%w: line %d", ErrInvalidLine, i)
		}
		if l.UnitPrice.Currency != currency {
			return nil, fmt.Errorf("%w: line %d in %s, order in %s", ErrMixedCurrency, i, l.UnitPrice.Currency, currency)
		}
		lt, err := l.UnitPrice.Mul(l.Quantity)
		if err == nil {
			total, err = total.Add(lt)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrTotalMismatch, err) //nolint:errorlint // the rule is the error; money's cause is detail
		}
		lines = append(lines, Line{ProductID: l.ProductID, Quantity: l.Quantity, UnitPrice: l.UnitPrice, LineTotal: lt})
	}
	if c.Paid.Currency != currency {
		return nil, fmt.Errorf("%w: paid in %q, order in %s", ErrMixedCurrency, c.Paid.Currency, currency)
	}
	if c.Paid != total {
		return nil, fmt.Errorf("%w: paid %v, total %v", ErrTotalMismatch, c.Paid, total)
	}
	return []any{Placed{
		OrderID: c.OrderID, CustomerID: c.CustomerID, CheckoutID: c.CheckoutID, PaymentID: c.PaymentID,
		Lines: lines, Total: total, At: c.At,
	}}, nil
}

func startProcessing(s State, c StartProcessing) ([]any, error) {
	switch s.Status {
	case 0:
		return nil, errNotPlaced
	case StatusPlaced:
		return []any{Processing{OrderID: s.OrderID, At: c.At}}, nil
	}
	return nil, fmt.Errorf("%w: processing from status %d", ErrInvalidTransition, s.Status)
}

func ship(s State, c Ship) ([]any, error) {
	switch s.Status {
	case 0:
		return nil, errNotPlaced
	case StatusShipped, StatusDelivered:
		return nil, ErrAlreadyShipped
	case StatusCancelled, StatusRefunded:
		return nil, ErrOrderCancelled
	}
	carrier, tracking := strings.TrimSpace(c.Carrier), strings.TrimSpace(c.TrackingNumber)
	if carrier == "" {
		return nil, ErrCarrierRequired
	}
	if tracking == "" {
		return nil, ErrTrackingRequired
	}
	for _, t := range []string{carrier, tracking} {
		if !utf8.ValidString(t) || strings.IndexByte(t, 0) >= 0 {
			return nil, ErrInvalidText
		}
	}
	return []any{Shipped{OrderID: s.OrderID, Carrier: carrier, TrackingNumber: tracking, At: c.At}}, nil
}

func deliver(s State, c Deliver) ([]any, error) {
	switch s.Status {
	case 0:
		return nil, ErrOrderNotFound
	case StatusShipped:
		return []any{Delivered{OrderID: s.OrderID, At: c.At}}, nil
	case StatusDelivered:
		return nil, ErrAlreadyDelivered
	}
	return nil, ErrNotShipped
}

func cancel(s State, c Cancel) ([]any, error) {
	switch s.Status {
	case 0:
		return nil, ErrOrderNotFound
	case StatusShipped, StatusDelivered:
		return nil, ErrAlreadyShipped
	case StatusCancelled, StatusRefunded:
		return nil, ErrOrderCancelled
	}
	reason := strings.TrimSpace(c.Reason)
	if reason == "" {
		return nil, ErrReasonRequired
	}
	return []any{Cancelled{OrderID: s.OrderID, Reason: reason, At: c.At}}, nil
}

func markRefunded(s State, c MarkRefunded) ([]any, error) {
	switch s.Status {
	case 0:
		return nil, ErrOrderNotFound
	case StatusCancelled:
		return []any{Refunded{OrderID: s.OrderID, PaymentID: s.PaymentID, Amount: s.Total, At: c.At}}, nil
	case StatusRefunded:
		return nil, ErrAlreadyRefunded
	}
	return nil, ErrNotCancelled
}

package checkout

import "fmt"

// Rules of the checkout process:
//
//  1. A checkout starts once (ErrCheckoutExists) with an id, a cart, a
//     customer and an expiry after its start (ErrInvalidStart), and lines
//     with a positive total (ErrInvalidPrice); every other command needs it
//     (ErrCheckoutNotFound).
//  2. Its steps go in order: started, payment requested (once every line is
//     held), paid or abandoned; a step out of order is ErrOutOfOrder, a step
//     repeated is no event and no error.
//  3. A payment succeeding while the stock is held decides completion
//     (Paid); one succeeding after the checkout was abandoned decides a
//     refund (RefundRequested), once. It must be the checkout's own payment
//     when one was requested (ErrPaymentMismatch).
//  4. A payment failure abandons a checkout that waits for payment; later, it
//     is old news. Abandoning, or expiring, a paid checkout is refused
//     (ErrAlreadyPaid, or nothing for the timeout); the timeout abandons only
//     an open checkout at or after its expiry (ErrNotExpired).
//  5. Completion follows Paid, release follows Abandoned, a refund's record
//     follows its request (ErrOutOfOrder otherwise), each once.
//
// These make the saga's decisions exclusive: a checkout is completed or
// released, never both, and a successful payment ends in exactly one order or
// one refund, whatever the order in which webhooks, timeouts and redelivered
// messages arrive.

// Decide returns the events that command produces on checkout s, or an error
// wrapping one of this package's sentinels (and no events).
func Decide(s State, command any) ([]any, error) {
	if _, ok := command.(Start); !ok && s.Status == 0 {
		if _, known := command.(interface{ checkoutCommand() }); known {
			return nil, ErrCheckoutNotFound
		}
	}
	switch c := command.(type) {
	case Start:
		return start(s, c)
	case RequestPayment:
		return step(s, StatusStarted, StatusAwaitingPayment, PaymentRequested{
			CheckoutID: s.CheckoutID, PaymentID: c.PaymentID, Provider: c.Provider, ProviderID: c.ProviderID, Amount: c.Amount, At: c.At,
		})
	case PaymentSucceeded:
		return succeeded(s, c)
	case PaymentFailed:
		return failed(s, c)
	case Abandon:
		return abandon(s, c)
	case Expire:
		return expire(s, c)
	case Complete:
		return step(s, StatusPaid, StatusCompleted, Completed{CheckoutID: s.CheckoutID, OrderID: c.OrderID, At: c.At})
	case MarkReleased:
		return step(s, StatusAbandoned, StatusReleased, Released{CheckoutID: s.CheckoutID, At: c.At})
	case MarkRefunded:
		switch {
		case s.RefundPaymentID == "":
			return nil, fmt.Errorf("%w: no refund was requested", ErrOutOfOrder)
		case s.RefundDone:
			return nil, nil
		}
		return []any{Refunded{CheckoutID: s.CheckoutID, PaymentID: s.RefundPaymentID, At: c.At}}, nil
	}
	return nil, fmt.Errorf("%w: %T", ErrUnknownCommand, command)
}

func (RequestPayment) checkoutCommand()   {}
func (PaymentSucceeded) checkoutCommand() {}
func (PaymentFailed) checkoutCommand()    {}
func (Abandon) checkoutCommand()          {}
func (Expire) checkoutCommand()           {}
func (Complete) checkoutCommand()         {}
func (MarkReleased) checkoutCommand()     {}
func (MarkRefunded) checkoutCommand()     {}

func start(s State, c Start) ([]any, error) {
	if s.Status != 0 {
		return nil, ErrCheckoutExists
	}
	if c.CheckoutID == "" || c.CartID == "" || c.CustomerID == "" || !c.ExpiresAt.After(c.At) {
		return nil, ErrInvalidStart
	}
	if len(c.Lines) == 0 || !c.Total.IsPositive() {
		return nil, ErrInvalidPrice
	}
	return []any{Started{
		CheckoutID: c.CheckoutID, CartID: c.CartID, CustomerID: c.CustomerID, Lines: c.Lines, Total: c.Total,
		ExpiresAt: c.ExpiresAt, At: c.At,
	}}, nil
}

// step emits e when s is at from, nothing when s already reached to by the
// same path, and ErrOutOfOrder otherwise.
func step(s State, from, to Status, e any) ([]any, error) {
	switch {
	case s.Status == from:
		return []any{e}, nil
	case s.Status == to, to < StatusPaid && s.Status > to && s.Status <= StatusCompleted:
		return nil, nil
	}
	return nil, fmt.Errorf("%w: %s while %s", ErrOutOfOrder, Status(to), s.Status)
}

func succeeded(s State, c PaymentSucceeded) ([]any, error) {
	if s.PaymentID != "" && c.PaymentID != s.PaymentID {
		return nil, fmt.Errorf("%w: %s", ErrPaymentMismatch, c.PaymentID)
	}
	switch s.Status {
	case StatusStarted, StatusAwaitingPayment:
		// Started: the intent exists (it is paid), so every line was held
		// before it was created; only its record here was not written yet.
		return []any{Paid{CheckoutID: s.CheckoutID, PaymentID: c.PaymentID, At: c.At}}, nil
	case StatusPaid, StatusCompleted:
		return nil, nil
	case StatusAbandoned, StatusReleased:
		if s.RefundPaymentID != "" {
			return nil, nil
		}
		return []any{RefundRequested{CheckoutID: s.CheckoutID, PaymentID: c.PaymentID, Reason: "checkout abandoned: " + s.Reason, At: c.At}}, nil
	}
	return nil, fmt.Errorf("%w: payment succeeded while %s", ErrOutOfOrder, s.Status)
}

func failed(s State, c PaymentFailed) ([]any, error) {
	if s.PaymentID != "" && c.PaymentID != s.PaymentID {
		return nil, fmt.Errorf("%w: %s", ErrPaymentMismatch, c.PaymentID)
	}
	if s.Status != StatusAwaitingPayment && s.Status != StatusStarted {
		return nil, nil
	}
	reason := "payment_failed"
	if c.Reason != "" {
		reason += ": " + c.Reason
	}
	return []any{Abandoned{CheckoutID: s.CheckoutID, Reason: reason, At: c.At}}, nil
}

func abandon(s State, c Abandon) ([]any, error) {
	switch s.Status {
	case StatusPaid, StatusCompleted:
		return nil, ErrAlreadyPaid
	case StatusAbandoned, StatusReleased:
		return nil, nil
	}
	return []any{Abandoned{CheckoutID: s.CheckoutID, Reason: c.Reason, Short: c.Short, At: c.At}}, nil
}

func expire(s State, c Expire) ([]any, error) {
	if !s.Open() {
		return nil, nil
	}
	if c.At.Before(s.ExpiresAt) {
		return nil, fmt.Errorf("%w: expires at %s", ErrNotExpired, s.ExpiresAt.Format("2006-01-02T15:04:05Z07:00"))
	}
	return []any{Abandoned{CheckoutID: s.CheckoutID, Reason: "expired", At: c.At}}, nil
}

package payment

import (
	"fmt"

	"github.com/commerce-engine/commerce/domain/money"
)

// Rules of the payment aggregate:
//
//  1. An intent is created once (ErrIntentExists), with a payment id
//     (ErrPaymentIDRequired), a checkout id (ErrCheckoutIDRequired), the
//     provider's id (ErrProviderIDRequired) and a positive amount in a valid
//     currency (ErrInvalidAmount).
//  2. Every other command needs the intent (ErrPaymentNotFound).
//  3. The provider is the authority on money and delivers at least once, in
//     any order: a success is accepted while pending or after a failure (the
//     shopper retried the same intent with another card); a failure only
//     while pending. A success once succeeded or refunded, and a failure
//     once failed, succeeded or refunded, are news already known: no event,
//     no error.
//  4. A reported success amount, when given, equals the intent's
//     (ErrAmountMismatch).
//  5. A refund needs a succeeded payment (ErrPaymentNotSucceeded), a positive
//     amount (ErrInvalidAmount) in the payment's currency (ErrAmountMismatch),
//     and refunds never add up to more than was paid
//     (ErrRefundExceedsPayment); the payment is refunded once they reach it.
//  6. A refund the provider reports (RecordRefund) carries the total refunded
//     so far: only the part not yet recorded is recorded, nothing when it is
//     all known. Reported before the success it implies (webhooks arrive out
//     of order), it records the success first.

// Decide returns the events that command produces on payment s, or an error
// wrapping one of this package's sentinels (and no events). Commands are
// passed by value; an unknown command gives ErrUnknownCommand.
func Decide(s State, command any) ([]any, error) {
	switch c := command.(type) {
	case CreateIntent:
		return createIntent(s, c)
	case MarkSucceeded:
		return succeed(s, c)
	case MarkFailed:
		return fail(s, c)
	case Refund:
		return refund(s, c)
	case RecordRefund:
		return recordRefund(s, c)
	}
	return nil, fmt.Errorf("%w: %T", ErrUnknownCommand, command)
}

func createIntent(s State, c CreateIntent) ([]any, error) {
	switch {
	case s.Status != 0:
		return nil, ErrIntentExists
	case c.PaymentID == "":
		return nil, ErrPaymentIDRequired
	case c.CheckoutID == "":
		return nil, ErrCheckoutIDRequired
	case c.ProviderID == "":
		return nil, ErrProviderIDRequired
	case !c.Amount.IsPositive():
		return nil, fmt.Errorf("%w: %v", ErrInvalidAmount, c.Amount)
	}
	return []any{IntentCreated{
		PaymentID: c.PaymentID, CheckoutID: c.CheckoutID, CustomerID: c.CustomerID,
		ProviderID: c.ProviderID, Amount: c.Amount, At: c.At,
	}}, nil
}

func succeed(s State, c MarkSucceeded) ([]any, error) {
	switch s.Status {
	case 0:
		return nil, ErrPaymentNotFound
	case StatusSucceeded, StatusRefunded:
		return nil, nil
	}
	if c.Amount != (money.Money{}) && c.Amount != s.Amount {
		return nil, fmt.Errorf("%w: provider says %v, intent is %v", ErrAmountMismatch, c.Amount, s.Amount)
	}
	return []any{Succeeded{PaymentID: s.PaymentID, CheckoutID: s.CheckoutID, Amount: s.Amount, At: c.At}}, nil
}

func fail(s State, c MarkFailed) ([]any, error) {
	switch s.Status {
	case 0:
		return nil, ErrPaymentNotFound
	case StatusFailed, StatusSucceeded, StatusRefunded:
		return nil, nil
	}
	return []any{Failed{PaymentID: s.PaymentID, CheckoutID: s.CheckoutID, Reason: c.Reason, At: c.At}}, nil
}

func refund(s State, c Refund) ([]any, error) {
	switch s.Status {
	case 0:
		return nil, ErrPaymentNotFound
	case StatusPending, StatusFailed:
		return nil, ErrPaymentNotSucceeded
	}
	if c.Amount.Amount <= 0 {
		return nil, fmt.Errorf("%w: %v", ErrInvalidAmount, c.Amount)
	}
	if !c.Amount.SameCurrency(s.Amount) {
		return nil, fmt.Errorf("%w: refund in %q, paid in %s", ErrAmountMismatch, c.Amount.Currency, s.Amount.Currency)
	}
	left, err := s.Amount.Sub(s.Refunded)
	if err != nil || c.Amount.Amount > left.Amount {
		return nil, fmt.Errorf("%w: %v asked, %v left", ErrRefundExceedsPayment, c.Amount, left)
	}
	return []any{Refunded{PaymentID: s.PaymentID, CheckoutID: s.CheckoutID, Amount: c.Amount, Reason: c.Reason, At: c.At}}, nil
}

func recordRefund(s State, c RecordRefund) ([]any, error) {
	if s.Status == 0 {
		return nil, ErrPaymentNotFound
	}
	if !c.TotalRefunded.IsPositive() {
		return nil, fmt.Errorf("%w: %v", ErrInvalidAmount, c.TotalRefunded)
	}
	if !c.TotalRefunded.SameCurrency(s.Amount) {
		return nil, fmt.Errorf("%w: refund in %q, paid in %s", ErrAmountMismatch, c.TotalRefunded.Currency, s.Amount.Currency)
	}
	if c.TotalRefunded.Amount > s.Amount.Amount {
		return nil, fmt.Errorf("%w: %v refunded of %v", ErrRefundExceedsPayment, c.TotalRefunded, s.Amount)
	}
	var events []any
	if s.Status == StatusPending || s.Status == StatusFailed {
		events = append(events, Succeeded{PaymentID: s.PaymentID, CheckoutID: s.CheckoutID, Amount: s.Amount, At: c.At})
	}
	if c.TotalRefunded.Amount > s.Refunded.Amount {
		events = append(events, Refunded{
			PaymentID: s.PaymentID, CheckoutID: s.CheckoutID,
			Amount: money.Money{Amount: c.TotalRefunded.Amount - s.Refunded.Amount, Currency: s.Amount.Currency},
			Reason: c.Reason, At: c.At,
		})
	}
	return events, nil
}

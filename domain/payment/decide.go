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
//  3. Success and failure are accepted only while pending
//     (ErrPaymentNotPending). A repeated success (the provider delivers at
//     least once) is idempotent: no event, no error, also once refunded; a
//     repeated failure likewise.
//  4. A reported success amount, when given, equals the intent's
//     (ErrAmountMismatch).
//  5. A refund needs a succeeded payment (ErrPaymentNotSucceeded), a positive
//     amount (ErrInvalidAmount) in the payment's currency (ErrAmountMismatch),
//     and refunds never add up to more than was paid
//     (ErrRefundExceedsPayment); the payment is refunded once they reach it.
//
// Known limit: a provider can report success for an intent it first reported
// as failed (the shopper retried with another card). Rule 3 refuses it, so the
// saga must refund such a payment through the provider rather than lose it.

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
	case StatusFailed:
		return nil, fmt.Errorf("%w: failed", ErrPaymentNotPending)
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
	case StatusFailed:
		return nil, nil
	case StatusSucceeded, StatusRefunded:
		return nil, fmt.Errorf("%w: succeeded", ErrPaymentNotPending)
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

package payment

import "errors"

// Sentinel errors, one per payment rule; match them with errors.Is.
var (
	// ErrUnknownCommand means Decide was given a command of another package.
	ErrUnknownCommand = errors.New("payment: unknown command")
	// ErrIntentExists means CreateIntent was sent to an existing payment.
	ErrIntentExists = errors.New("payment: intent already created")
	// ErrPaymentNotFound means a command was sent before CreateIntent.
	ErrPaymentNotFound = errors.New("payment: not found")
	// ErrPaymentIDRequired means CreateIntent carries no payment id.
	ErrPaymentIDRequired = errors.New("payment: payment id required")
	// ErrCheckoutIDRequired means CreateIntent carries no checkout id.
	ErrCheckoutIDRequired = errors.New("payment: checkout id required")
	// ErrProviderIDRequired means CreateIntent carries no provider id.
	ErrProviderIDRequired = errors.New("payment: provider id required")
	// ErrInvalidAmount means an amount is not positive with a valid currency.
	ErrInvalidAmount = errors.New("payment: amount must be positive with a valid currency")
	// ErrAmountMismatch means the provider reports another amount or
	// currency than the intent's, or a refund is in another currency.
	ErrAmountMismatch = errors.New("payment: amount does not match the intent")
	// ErrPaymentNotSucceeded means a refund was asked of a payment that never
	// succeeded.
	ErrPaymentNotSucceeded = errors.New("payment: payment has not succeeded")
	// ErrRefundExceedsPayment means the refunds would add up to more than
	// was paid.
	ErrRefundExceedsPayment = errors.New("payment: refund exceeds the amount paid")
)

package order

import (
	"errors"
	"fmt"
)

// Sentinel errors, one per order rule; match them with errors.Is.
var (
	// ErrUnknownCommand means Decide was given a command of another package.
	ErrUnknownCommand = errors.New("order: unknown command")
	// ErrOrderExists means Place was sent to an existing order.
	ErrOrderExists = errors.New("order: already placed")
	// ErrOrderNotFound means a command was sent to an order never placed.
	ErrOrderNotFound = errors.New("order: not found")
	// ErrOrderNotPaid means an order was to progress (processing, shipping)
	// without having been placed, which is what paid means here. It always
	// comes together with ErrOrderNotFound.
	ErrOrderNotPaid = errors.New("order: not paid")
	// ErrOrderIDRequired means Place carries no order id.
	ErrOrderIDRequired = errors.New("order: order id required")
	// ErrCustomerRequired means Place carries no customer id.
	ErrCustomerRequired = errors.New("order: customer id required")
	// ErrCheckoutRequired means Place carries no checkout id.
	ErrCheckoutRequired = errors.New("order: checkout id required")
	// ErrPaymentRequired means Place carries no payment id: an order exists
	// only once paid.
	ErrPaymentRequired = errors.New("order: payment id required")
	// ErrNoLines means Place carries no lines.
	ErrNoLines = errors.New("order: no lines")
	// ErrInvalidLine means a line has no product, a quantity below one, or a
	// price that is not positive with a valid currency.
	ErrInvalidLine = errors.New("order: invalid line")
	// ErrMixedCurrency means lines or payment are in different currencies.
	ErrMixedCurrency = errors.New("order: mixed currencies")
	// ErrTotalMismatch means the amount paid differs from the lines' total,
	// or the total overflows.
	ErrTotalMismatch = errors.New("order: amount paid does not match the total")
	// ErrInvalidTransition means processing was asked of an order that is
	// not merely placed (already processing, shipped, delivered, cancelled).
	ErrInvalidTransition = errors.New("order: invalid status transition")
	// ErrCarrierRequired means Ship carries no carrier.
	ErrCarrierRequired = errors.New("order: carrier required")
	// ErrTrackingRequired means Ship carries no tracking number.
	ErrTrackingRequired = errors.New("order: tracking number required")
	// ErrInvalidText refuses a carrier or tracking number that is not
	// valid UTF-8 or holds a NUL: no read model could store it.
	ErrInvalidText = errors.New("order: text must be valid UTF-8 without NUL characters")
	// ErrAlreadyShipped means the order shipped already: it cannot ship
	// again or be cancelled.
	ErrAlreadyShipped = errors.New("order: already shipped")
	// ErrNotShipped means delivery was recorded for an order that has not
	// shipped.
	ErrNotShipped = errors.New("order: not shipped")
	// ErrAlreadyDelivered means delivery was recorded twice.
	ErrAlreadyDelivered = errors.New("order: already delivered")
	// ErrOrderCancelled means a cancelled order was to progress, or be
	// cancelled again.
	ErrOrderCancelled = errors.New("order: cancelled")
	// ErrReasonRequired means Cancel carries no reason.
	ErrReasonRequired = errors.New("order: cancellation reason required")
	// ErrNotCancelled means a refund was recorded for an order that is not
	// cancelled.
	ErrNotCancelled = errors.New("order: refund only after cancellation")
	// ErrAlreadyRefunded means a refund was recorded twice.
	ErrAlreadyRefunded = errors.New("order: already refunded")

	errNotPlaced = fmt.Errorf("%w: %w", ErrOrderNotFound, ErrOrderNotPaid)
)

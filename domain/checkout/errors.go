package checkout

import "errors"

// Sentinel errors, one per checkout rule; match them with errors.Is.
var (
	// ErrUnknownCommand means Decide was given a command of another package.
	ErrUnknownCommand = errors.New("checkout: unknown command")
	// ErrCheckoutExists means Start was sent to an existing checkout.
	ErrCheckoutExists = errors.New("checkout: already started")
	// ErrCheckoutNotFound means a command was sent before Start.
	ErrCheckoutNotFound = errors.New("checkout: not found")
	// ErrInvalidStart means Start lacks an id, cart, customer or a future
	// expiry.
	ErrInvalidStart = errors.New("checkout: id, cart, customer and a future expiry are required")
	// ErrOutOfOrder means a step arrived before the one it follows (a
	// completion before the payment...).
	ErrOutOfOrder = errors.New("checkout: step out of order")
	// ErrInvalidPrice means Start has no lines or a non-positive total.
	ErrInvalidPrice = errors.New("checkout: lines and a positive total are required")
	// ErrAlreadyPaid means an abandonment was asked of a paid checkout.
	ErrAlreadyPaid = errors.New("checkout: already paid")
	// ErrNotExpired means the timeout fired before the checkout's expiry.
	ErrNotExpired = errors.New("checkout: not expired yet")
	// ErrPaymentMismatch means a payment outcome names another payment.
	ErrPaymentMismatch = errors.New("checkout: payment is not this checkout's")
)

package cart

import "errors"

// Sentinel errors, one per cart rule; match them with errors.Is.
var (
	// ErrUnknownCommand means Decide was given a command of another package.
	ErrUnknownCommand = errors.New("cart: unknown command")
	// ErrProductIDRequired means an item command names no product.
	ErrProductIDRequired = errors.New("cart: product id required")
	// ErrInvalidQuantity means a quantity is outside 1..MaxLineQuantity, or
	// adding would take a line above MaxLineQuantity.
	ErrInvalidQuantity = errors.New("cart: quantity must be between 1 and 99 per line")
	// ErrInvalidPrice means a unit price is not positive with a valid
	// currency.
	ErrInvalidPrice = errors.New("cart: unit price must be positive with a valid currency")
	// ErrMixedCurrency means an item is priced in another currency than the
	// cart's other lines.
	ErrMixedCurrency = errors.New("cart: all lines must share one currency")
	// ErrCartCheckedOut means the cart is frozen by a checkout and cannot
	// change until it is cleared or the checkout is cancelled.
	ErrCartCheckedOut = errors.New("cart: cart is checked out")
	// ErrItemNotInCart means a change or removal names a product the cart
	// does not hold.
	ErrItemNotInCart = errors.New("cart: item not in cart")
	// ErrCartEmpty means a checkout was asked of a cart with no lines.
	ErrCartEmpty = errors.New("cart: cart is empty")
	// ErrCheckoutIDRequired means a checkout command carries no checkout id.
	ErrCheckoutIDRequired = errors.New("cart: checkout id required")
	// ErrNotCheckedOut means a checkout was to be cancelled, or a checkout's
	// cart cleared, but the cart is not frozen by that checkout.
	ErrNotCheckedOut = errors.New("cart: cart is not checked out by this checkout")
	// ErrTotalOverflow means the checkout total does not fit in int64 minor
	// units.
	ErrTotalOverflow = errors.New("cart: total overflows")
)

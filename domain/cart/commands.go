package cart

import (
	"time"

	"github.com/commerce-engine/commerce/domain/money"
)

// Availability is the stock a command was decided against: the units of
// the product the catalog had available (on hand minus reserved) when the
// commands layer read it. The zero Availability (Known false) sets no
// bound, for callers that fill a cart without asking the catalog.
type Availability struct {
	// Known is true when the commands layer read the product's stock.
	Known bool
	// Units is how many units were available then.
	Units int64
}

// AddItem puts Quantity units of a product in the cart at UnitPrice, the
// catalog price the commands layer read when the shopper added it, within
// Available.
type AddItem struct {
	CartID     string
	CustomerID string
	ProductID  string
	Quantity   int64
	UnitPrice  money.Money
	Available  Availability
	At         time.Time
}

// ChangeItemQuantity sets a line's quantity (1..MaxLineQuantity) within
// Available; use RemoveItem to drop a line.
type ChangeItemQuantity struct {
	CartID    string
	ProductID string
	Quantity  int64
	Available Availability
	At        time.Time
}

// RemoveItem drops a line from the cart.
type RemoveItem struct {
	CartID    string
	ProductID string
	At        time.Time
}

// CheckOut freezes the cart into a priced snapshot for the checkout saga.
type CheckOut struct {
	CartID     string
	CheckoutID string
	At         time.Time
}

// CancelCheckout unfreezes a checked-out cart whose checkout failed, keeping
// its lines (saga: payment failed, stock short, expiry).
type CancelCheckout struct {
	CartID     string
	CheckoutID string
	Reason     string
	At         time.Time
}

// Clear empties the cart. With CheckoutID set (saga: order placed) it clears
// only the cart frozen by that checkout; without it (shopper) it clears a
// cart that is not checked out.
type Clear struct {
	CartID     string
	CheckoutID string
	At         time.Time
}

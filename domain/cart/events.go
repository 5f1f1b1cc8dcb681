package cart

import (
	"time"

	"github.com/commerce-engine/commerce/domain/money"
)

// Event type names and schema versions of the cart's events. A version
// changes only with an upcaster from the previous one in the codec.
const (
	// ItemAddedType names ItemAdded in the store.
	ItemAddedType = "cart.item_added"
	// ItemAddedVersion is ItemAdded's schema version.
	ItemAddedVersion = 1
	// ItemQuantityChangedType names ItemQuantityChanged in the store.
	ItemQuantityChangedType = "cart.item_quantity_changed"
	// ItemQuantityChangedVersion is ItemQuantityChanged's schema version.
	ItemQuantityChangedVersion = 1
	// ItemRemovedType names ItemRemoved in the store.
	ItemRemovedType = "cart.item_removed"
	// ItemRemovedVersion is ItemRemoved's schema version.
	ItemRemovedVersion = 1
	// CheckedOutType names CheckedOut in the store.
	CheckedOutType = "cart.checked_out"
	// CheckedOutVersion is CheckedOut's schema version.
	CheckedOutVersion = 1
	// CheckoutCancelledType names CheckoutCancelled in the store.
	CheckoutCancelledType = "cart.checkout_cancelled"
	// CheckoutCancelledVersion is CheckoutCancelled's schema version.
	CheckoutCancelledVersion = 1
	// ClearedType names Cleared in the store.
	ClearedType = "cart.cleared"
	// ClearedVersion is Cleared's schema version.
	ClearedVersion = 1
)

// ItemAdded records Quantity more units of a product in the cart, at the unit
// price shown to the shopper when adding (the snapshot replaces any earlier
// price of the same line).
type ItemAdded struct {
	CartID     string      `json:"cart_id"`
	CustomerID string      `json:"customer_id"`
	ProductID  string      `json:"product_id"`
	Quantity   int64       `json:"quantity"`
	UnitPrice  money.Money `json:"unit_price"`
	At         time.Time   `json:"at"`
}

// EventType returns "cart.item_added".
func (ItemAdded) EventType() string { return ItemAddedType }

// ItemQuantityChanged records a line's new absolute quantity.
type ItemQuantityChanged struct {
	CartID    string    `json:"cart_id"`
	ProductID string    `json:"product_id"`
	Quantity  int64     `json:"quantity"`
	At        time.Time `json:"at"`
}

// EventType returns "cart.item_quantity_changed".
func (ItemQuantityChanged) EventType() string { return ItemQuantityChangedType }

// ItemRemoved records that a line left the cart.
type ItemRemoved struct {
	CartID    string    `json:"cart_id"`
	ProductID string    `json:"product_id"`
	At        time.Time `json:"at"`
}

// EventType returns "cart.item_removed".
func (ItemRemoved) EventType() string { return ItemRemovedType }

// PricedLine is one line of a checkout snapshot: what the shopper agreed to
// pay for one product.
type PricedLine struct {
	ProductID string      `json:"product_id"`
	Quantity  int64       `json:"quantity"`
	UnitPrice money.Money `json:"unit_price"`
	LineTotal money.Money `json:"line_total"`
}

// CheckedOut records the priced snapshot a checkout reserves stock and takes
// payment for; the cart is frozen until it is cleared or the checkout is
// cancelled. Lines are sorted by product id.
type CheckedOut struct {
	CartID     string       `json:"cart_id"`
	CustomerID string       `json:"customer_id"`
	CheckoutID string       `json:"checkout_id"`
	Lines      []PricedLine `json:"lines"`
	Total      money.Money  `json:"total"`
	At         time.Time    `json:"at"`
}

// EventType returns "cart.checked_out".
func (CheckedOut) EventType() string { return CheckedOutType }

// CheckoutCancelled records that a checkout ended without an order (payment
// failed, stock short, reservation expired): the cart is kept, unfrozen.
type CheckoutCancelled struct {
	CartID     string    `json:"cart_id"`
	CheckoutID string    `json:"checkout_id"`
	Reason     string    `json:"reason"`
	At         time.Time `json:"at"`
}

// EventType returns "cart.checkout_cancelled".
func (CheckoutCancelled) EventType() string { return CheckoutCancelledType }

// Cleared records that the cart was emptied, after an order was placed from
// its checkout (CheckoutID set) or at the shopper's request.
type Cleared struct {
	CartID     string    `json:"cart_id"`
	CheckoutID string    `json:"checkout_id,omitempty"`
	At         time.Time `json:"at"`
}

// EventType returns "cart.cleared".
func (Cleared) EventType() string { return ClearedType }

// RegisterEvents binds every cart event type name and schema version to its
// payload type in r, typically an *eventstore.Codec; this package does not
// import eventstore, so the interface is declared here where it is consumed.
func RegisterEvents(r interface {
	RegisterType(name string, version int, sample any)
}) {
	r.RegisterType(ItemAddedType, ItemAddedVersion, ItemAdded{})
	r.RegisterType(ItemQuantityChangedType, ItemQuantityChangedVersion, ItemQuantityChanged{})
	r.RegisterType(ItemRemovedType, ItemRemovedVersion, ItemRemoved{})
	r.RegisterType(CheckedOutType, CheckedOutVersion, CheckedOut{})
	r.RegisterType(CheckoutCancelledType, CheckoutCancelledVersion, CheckoutCancelled{})
	r.RegisterType(ClearedType, ClearedVersion, Cleared{})
}

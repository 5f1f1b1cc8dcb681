// Package checkout is the checkout process's own aggregate: the decisions of
// the saga that turns a cart into an order (reserve, take payment, place,
// or release and refund), recorded in one stream per checkout so that
// competing triggers (a payment webhook, the reservation's timeout, a
// redelivered message) are serialised by optimistic concurrency and each
// decision is taken once. Side effects (reservations, provider calls,
// orders) are the saga's, in commands/saga; this package is pure.
package checkout

import (
	"time"

	"github.com/commerce-engine/commerce/domain/money"
)

// Event type names and schema versions of the checkout's events.
const (
	// StartedType names Started in the store.
	StartedType = "checkout.started"
	// PaymentRequestedType names PaymentRequested in the store.
	PaymentRequestedType = "checkout.payment_requested"
	// PaidType names Paid in the store.
	PaidType = "checkout.paid"
	// CompletedType names Completed in the store.
	CompletedType = "checkout.completed"
	// AbandonedType names Abandoned in the store.
	AbandonedType = "checkout.abandoned"
	// ReleasedType names Released in the store.
	ReleasedType = "checkout.released"
	// RefundRequestedType names RefundRequested in the store.
	RefundRequestedType = "checkout.refund_requested"
	// RefundedType names Refunded in the store.
	RefundedType = "checkout.refunded"
	// SchemaVersion is every checkout event's schema version.
	SchemaVersion = 1
)

// Line is one priced line of the cart snapshot the checkout reserves and
// charges for.
type Line struct {
	ProductID string      `json:"product_id"`
	Quantity  int64       `json:"quantity"`
	UnitPrice money.Money `json:"unit_price"`
	LineTotal money.Money `json:"line_total"`
}

// ShortLine is a line that could not be reserved, with what was available.
type ShortLine struct {
	ProductID string `json:"product_id"`
	Requested int64  `json:"requested"`
	Available int64  `json:"available"`
}

// Started records a shopper's checkout of a cart with the priced lines it
// reserves and the order will contain; its reservations expire, and the
// saga's timeout abandons it, at ExpiresAt.
type Started struct {
	CheckoutID string      `json:"checkout_id"`
	CartID     string      `json:"cart_id"`
	CustomerID string      `json:"customer_id"`
	Lines      []Line      `json:"lines"`
	Total      money.Money `json:"total"`
	ExpiresAt  time.Time   `json:"expires_at"`
	At         time.Time   `json:"at"`
}

// EventType returns "checkout.started".
func (Started) EventType() string { return StartedType }

// PaymentRequested records that every line is held and the payment intent
// the shopper pays.
type PaymentRequested struct {
	CheckoutID string      `json:"checkout_id"`
	PaymentID  string      `json:"payment_id"`
	Provider   string      `json:"provider"`
	ProviderID string      `json:"provider_id"`
	Amount     money.Money `json:"amount"`
	At         time.Time   `json:"at"`
}

// EventType returns "checkout.payment_requested".
func (PaymentRequested) EventType() string { return PaymentRequestedType }

// Paid is the decision to complete: the payment succeeded while the stock
// was still held, so the saga commits it and places the order.
type Paid struct {
	CheckoutID string    `json:"checkout_id"`
	PaymentID  string    `json:"payment_id"`
	At         time.Time `json:"at"`
}

// EventType returns "checkout.paid".
func (Paid) EventType() string { return PaidType }

// Completed records that the order was placed and the cart cleared.
type Completed struct {
	CheckoutID string    `json:"checkout_id"`
	OrderID    string    `json:"order_id"`
	At         time.Time `json:"at"`
}

// EventType returns "checkout.completed".
func (Completed) EventType() string { return CompletedType }

// Abandoned is the decision to give up: the saga releases whatever was
// reserved and unfreezes the cart. Short lists the lines short of stock
// when that is the reason.
type Abandoned struct {
	CheckoutID string      `json:"checkout_id"`
	Reason     string      `json:"reason"`
	Short      []ShortLine `json:"short,omitempty"`
	At         time.Time   `json:"at"`
}

// EventType returns "checkout.abandoned".
func (Abandoned) EventType() string { return AbandonedType }

// Released records that the abandoned checkout holds nothing any more.
type Released struct {
	CheckoutID string    `json:"checkout_id"`
	At         time.Time `json:"at"`
}

// EventType returns "checkout.released".
func (Released) EventType() string { return ReleasedType }

// RefundRequested is the decision to give money back: a payment succeeded
// for a checkout that had already been abandoned (its stock went
// elsewhere).
type RefundRequested struct {
	CheckoutID string    `json:"checkout_id"`
	PaymentID  string    `json:"payment_id"`
	Reason     string    `json:"reason"`
	At         time.Time `json:"at"`
}

// EventType returns "checkout.refund_requested".
func (RefundRequested) EventType() string { return RefundRequestedType }

// Refunded records that the requested refund went through.
type Refunded struct {
	CheckoutID string    `json:"checkout_id"`
	PaymentID  string    `json:"payment_id"`
	At         time.Time `json:"at"`
}

// EventType returns "checkout.refunded".
func (Refunded) EventType() string { return RefundedType }

// RegisterEvents binds every checkout event type to its payload type in r,
// typically an *eventstore.Codec.
func RegisterEvents(r interface {
	RegisterType(name string, version int, sample any)
}) {
	r.RegisterType(StartedType, SchemaVersion, Started{})
	r.RegisterType(PaymentRequestedType, SchemaVersion, PaymentRequested{})
	r.RegisterType(PaidType, SchemaVersion, Paid{})
	r.RegisterType(CompletedType, SchemaVersion, Completed{})
	r.RegisterType(AbandonedType, SchemaVersion, Abandoned{})
	r.RegisterType(ReleasedType, SchemaVersion, Released{})
	r.RegisterType(RefundRequestedType, SchemaVersion, RefundRequested{})
	r.RegisterType(RefundedType, SchemaVersion, Refunded{})
}

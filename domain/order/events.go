package order

import (
	"time"

	"github.com/commerce-engine/commerce/domain/money"
)

// Event type names and schema versions of the order's events. A version
// changes only with an upcaster from the previous one in the codec.
const (
	// PlacedType names Placed in the store.
	PlacedType = "order.placed"
	// PlacedVersion is Placed's schema version.
	PlacedVersion = 1
	// ProcessingType names Processing in the store.
	ProcessingType = "order.processing"
	// ProcessingVersion is Processing's schema version.
	ProcessingVersion = 1
	// ShippedType names Shipped in the store.
	ShippedType = "order.shipped"
	// ShippedVersion is Shipped's schema version.
	ShippedVersion = 1
	// DeliveredType names Delivered in the store.
	DeliveredType = "order.delivered"
	// DeliveredVersion is Delivered's schema version.
	DeliveredVersion = 1
	// CancelledType names Cancelled in the store.
	CancelledType = "order.cancelled"
	// CancelledVersion is Cancelled's schema version.
	CancelledVersion = 1
	// RefundedType names Refunded in the store.
	RefundedType = "order.refunded"
	// RefundedVersion is Refunded's schema version.
	RefundedVersion = 1
)

// Line is one product of a placed order at the price that was paid.
type Line struct {
	ProductID string      `json:"product_id"`
	Quantity  int64       `json:"quantity"`
	UnitPrice money.Money `json:"unit_price"`
	LineTotal money.Money `json:"line_total"`
}

// Placed records a paid order: an order exists only once its payment
// succeeded and its stock was committed.
type Placed struct {
	OrderID    string      `json:"order_id"`
	CustomerID string      `json:"customer_id"`
	CheckoutID string      `json:"checkout_id"`
	PaymentID  string      `json:"payment_id"`
	Lines      []Line      `json:"lines"`
	Total      money.Money `json:"total"`
	At         time.Time   `json:"at"`
}

// EventType returns "order.placed".
func (Placed) EventType() string { return PlacedType }

// Processing records that the warehouse started preparing the order (the
// "order.processing" status change).
type Processing struct {
	OrderID string    `json:"order_id"`
	At      time.Time `json:"at"`
}

// EventType returns "order.processing".
func (Processing) EventType() string { return ProcessingType }

// Shipped records the parcel's carrier and tracking number.
type Shipped struct {
	OrderID        string    `json:"order_id"`
	Carrier        string    `json:"carrier"`
	TrackingNumber string    `json:"tracking_number"`
	At             time.Time `json:"at"`
}

// EventType returns "order.shipped".
func (Shipped) EventType() string { return ShippedType }

// Delivered records that the parcel arrived.
type Delivered struct {
	OrderID string    `json:"order_id"`
	At      time.Time `json:"at"`
}

// EventType returns "order.delivered".
func (Delivered) EventType() string { return DeliveredType }

// Cancelled records that the order will not ship; the saga then refunds the
// payment and returns the committed units to stock.
type Cancelled struct {
	OrderID string    `json:"order_id"`
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
}

// EventType returns "order.cancelled".
func (Cancelled) EventType() string { return CancelledType }

// Refunded records that a cancelled order's payment was given back in full.
type Refunded struct {
	OrderID   string      `json:"order_id"`
	PaymentID string      `json:"payment_id"`
	Amount    money.Money `json:"amount"`
	At        time.Time   `json:"at"`
}

// EventType returns "order.refunded".
func (Refunded) EventType() string { return RefundedType }

// RegisterEvents binds every order event type name and schema version to its
// payload type in r, typically an *eventstore.Codec; this package does not
// import eventstore, so the interface is declared here where it is consumed.
func RegisterEvents(r interface {
	RegisterType(name string, version int, sample any)
}) {
	r.RegisterType(PlacedType, PlacedVersion, Placed{})
	r.RegisterType(ProcessingType, ProcessingVersion, Processing{})
	r.RegisterType(ShippedType, ShippedVersion, Shipped{})
	r.RegisterType(DeliveredType, DeliveredVersion, Delivered{})
	r.RegisterType(CancelledType, CancelledVersion, Cancelled{})
	r.RegisterType(RefundedType, RefundedVersion, Refunded{})
}

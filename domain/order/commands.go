package order

import (
	"time"

	"github.com/commerce-engine/commerce/domain/money"
)

// PlaceLine is one line of the checkout snapshot an order is placed from.
type PlaceLine struct {
	ProductID string
	Quantity  int64
	UnitPrice money.Money
}

// Place creates the order once its payment succeeded (saga). Paid is the
// amount the payment took; it must equal the lines' total.
type Place struct {
	OrderID    string
	CustomerID string
	CheckoutID string
	PaymentID  string
	Lines      []PlaceLine
	Paid       money.Money
	At         time.Time
}

// StartProcessing moves a placed order to processing (admin).
type StartProcessing struct {
	OrderID string
	At      time.Time
}

// Ship records the parcel of a placed or processing order (admin).
type Ship struct {
	OrderID        string
	Carrier        string
	TrackingNumber string
	At             time.Time
}

// Deliver records that a shipped order arrived (admin, or carrier webhook).
type Deliver struct {
	OrderID string
	At      time.Time
}

// Cancel stops an order that has not shipped (shopper or admin).
type Cancel struct {
	OrderID string
	Reason  string
	At      time.Time
}

// MarkRefunded records that a cancelled order's payment was refunded (saga,
// after payment.refunded).
type MarkRefunded struct {
	OrderID string
	At      time.Time
}

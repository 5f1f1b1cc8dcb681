package checkout

import (
	"time"

	"github.com/commerce-engine/commerce/domain/money"
)

// Start opens a checkout of a cart with its priced lines (POST
// /payments/intents).
type Start struct {
	CheckoutID string
	CartID     string
	CustomerID string
	Lines      []Line
	Total      money.Money
	ExpiresAt  time.Time
	At         time.Time
}

// RequestPayment records, once every line is held, the provider's intent for
// the checkout's total.
type RequestPayment struct {
	PaymentID  string
	Provider   string
	ProviderID string
	Amount     money.Money
	At         time.Time
}

// PaymentSucceeded applies a succeeded payment: complete while the stock is
// held, refund once the checkout was abandoned.
type PaymentSucceeded struct {
	PaymentID string
	At        time.Time
}

// PaymentFailed applies a refused payment: the checkout is abandoned.
type PaymentFailed struct {
	PaymentID string
	Reason    string
	At        time.Time
}

// Abandon gives up a checkout that is not paid (stock short, cart changed,
// provider down).
type Abandon struct {
	Reason string
	Short  []ShortLine
	At     time.Time
}

// Expire is the saga's timeout: it abandons a checkout still unpaid at its
// expiry.
type Expire struct{ At time.Time }

// Complete records the placed order.
type Complete struct {
	OrderID string
	At      time.Time
}

// MarkReleased records that an abandoned checkout's holds are gone.
type MarkReleased struct{ At time.Time }

// MarkRefunded records that a requested refund went through.
type MarkRefunded struct{ At time.Time }

package payment

import (
	"time"

	"github.com/commerce-engine/commerce/domain/money"
)

// Event type names and schema versions of the payment's events. A version
// changes only with an upcaster from the previous one in the codec.
const (
	// IntentCreatedType names IntentCreated in the store.
	IntentCreatedType = "payment.intent_created"
	// IntentCreatedVersion is IntentCreated's schema version.
	IntentCreatedVersion = 1
	// SucceededType names Succeeded in the store.
	SucceededType = "payment.succeeded"
	// SucceededVersion is Succeeded's schema version.
	SucceededVersion = 1
	// FailedType names Failed in the store.
	FailedType = "payment.failed"
	// FailedVersion is Failed's schema version.
	FailedVersion = 1
	// RefundedType names Refunded in the store.
	RefundedType = "payment.refunded"
	// RefundedVersion is Refunded's schema version.
	RefundedVersion = 1
)

// IntentCreated records a payment intent at the provider (a Stripe
// PaymentIntent id) for a checkout's total.
type IntentCreated struct {
	PaymentID  string      `json:"payment_id"`
	CheckoutID string      `json:"checkout_id"`
	CustomerID string      `json:"customer_id"`
	ProviderID string      `json:"provider_id"`
	Amount     money.Money `json:"amount"`
	At         time.Time   `json:"at"`
}

// EventType returns "payment.intent_created".
func (IntentCreated) EventType() string { return IntentCreatedType }

// Succeeded records that the provider took the money.
type Succeeded struct {
	PaymentID  string      `json:"payment_id"`
	CheckoutID string      `json:"checkout_id"`
	Amount     money.Money `json:"amount"`
	At         time.Time   `json:"at"`
}

// EventType returns "payment.succeeded".
func (Succeeded) EventType() string { return SucceededType }

// Failed records that the provider refused the payment.
type Failed struct {
	PaymentID  string    `json:"payment_id"`
	CheckoutID string    `json:"checkout_id"`
	Reason     string    `json:"reason"`
	At         time.Time `json:"at"`
}

// EventType returns "payment.failed".
func (Failed) EventType() string { return FailedType }

// Refunded records money given back, in full or in part.
type Refunded struct {
	PaymentID  string      `json:"payment_id"`
	CheckoutID string      `json:"checkout_id"`
	Amount     money.Money `json:"amount"`
	Reason     string      `json:"reason"`
	At         time.Time   `json:"at"`
}

// EventType returns "payment.refunded".
func (Refunded) EventType() string { return RefundedType }

// RegisterEvents binds every payment event type name and schema version to
// its payload type in r, typically an *eventstore.Codec; this package does
// not import eventstore, so the interface is declared here where it is
// consumed.
func RegisterEvents(r interface {
	RegisterType(name string, version int, sample any)
}) {
	r.RegisterType(IntentCreatedType, IntentCreatedVersion, IntentCreated{})
	r.RegisterType(SucceededType, SucceededVersion, Succeeded{})
	r.RegisterType(FailedType, FailedVersion, Failed{})
	r.RegisterType(RefundedType, RefundedVersion, Refunded{})
}

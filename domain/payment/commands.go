package payment

import (
	"time"

	"github.com/commerce-engine/commerce/domain/money"
)

// CreateIntent records the provider's payment intent for a checkout (saga).
type CreateIntent struct {
	PaymentID  string
	CheckoutID string
	CustomerID string
	ProviderID string
	Amount     money.Money
	At         time.Time
}

// MarkSucceeded applies the provider's success webhook. Amount, when set, is
// the amount the provider reports and must equal the intent's.
type MarkSucceeded struct {
	PaymentID string
	Amount    money.Money
	At        time.Time
}

// MarkFailed applies the provider's failure webhook.
type MarkFailed struct {
	PaymentID string
	Reason    string
	At        time.Time
}

// Refund gives back Amount of a succeeded payment (cancellation, or stock
// that went elsewhere).
type Refund struct {
	PaymentID string
	Amount    money.Money
	Reason    string
	At        time.Time
}

// RecordRefund applies the provider's refund webhook, which reports the total
// refunded so far rather than one refund: redelivered or reordered webhooks
// then record each unit of money once.
type RecordRefund struct {
	PaymentID     string
	TotalRefunded money.Money
	Reason        string
	At            time.Time
}

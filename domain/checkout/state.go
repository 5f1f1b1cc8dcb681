package checkout

import (
	"time"

	"github.com/commerce-engine/commerce/domain/money"
)

// Status is where a checkout is in the saga.
type Status int

// Checkout statuses; the zero Status is a checkout that does not exist.
const (
	// StatusStarted is freezing the cart, reserving its lines and asking the
	// provider for an intent.
	StatusStarted Status = iota + 1
	// StatusAwaitingPayment waits for the shopper's payment.
	StatusAwaitingPayment
	// StatusPaid is committing stock and placing the order.
	StatusPaid
	// StatusCompleted placed its order.
	StatusCompleted
	// StatusAbandoned is releasing what it held.
	StatusAbandoned
	// StatusReleased holds nothing any more.
	StatusReleased
)

// String names the status for APIs and logs.
func (s Status) String() string {
	switch s {
	case StatusStarted:
		return "started"
	case StatusAwaitingPayment:
		return "awaiting_payment"
	case StatusPaid:
		return "paid"
	case StatusCompleted:
		return "completed"
	case StatusAbandoned:
		return "abandoned"
	case StatusReleased:
		return "released"
	}
	return "none"
}

// State is a checkout folded from its stream.
type State struct {
	Status     Status
	CheckoutID string
	CartID     string
	CustomerID string
	ExpiresAt  time.Time
	Lines      []Line
	Total      money.Money
	PaymentID  string
	Provider   string
	ProviderID string
	Amount     money.Money
	OrderID    string
	Reason     string
	Short      []ShortLine
	// RefundPaymentID is set once a refund was decided, RefundDone once it
	// went through.
	RefundPaymentID string
	RefundDone      bool
}

// Open reports whether the checkout still may hold stock and wait for a
// payment: the states its timeout applies to.
func (s State) Open() bool { return s.Status >= StatusStarted && s.Status <= StatusAwaitingPayment }

// Evolve returns s with event applied, and s unchanged for events it does not
// know.
func Evolve(s State, event any) State {
	switch e := event.(type) {
	case Started:
		s = State{Status: StatusStarted, CheckoutID: e.CheckoutID, CartID: e.CartID, CustomerID: e.CustomerID,
			Lines: e.Lines, Total: e.Total, ExpiresAt: e.ExpiresAt}
	case PaymentRequested:
		s.Status, s.PaymentID, s.Provider, s.ProviderID, s.Amount = StatusAwaitingPayment, e.PaymentID, e.Provider, e.ProviderID, e.Amount
	case Paid:
		s.Status, s.PaymentID = StatusPaid, e.PaymentID
	case Completed:
		s.Status, s.OrderID = StatusCompleted, e.OrderID
	case Abandoned:
		s.Status, s.Reason, s.Short = StatusAbandoned, e.Reason, e.Short
	case Released:
		s.Status = StatusReleased
	case RefundRequested:
		s.RefundPaymentID = e.PaymentID
	case Refunded:
		s.RefundDone = true
	}
	return s
}

package payment

import "github.com/commerce-engine/commerce/domain/money"

// Status is where a payment is in its life.
type Status int

// Payment statuses; the zero Status is a payment that does not exist.
const (
	// StatusPending waits for the provider's answer.
	StatusPending Status = iota + 1
	// StatusSucceeded took the money (and may be partly refunded).
	StatusSucceeded
	// StatusFailed was refused by the provider.
	StatusFailed
	// StatusRefunded gave all the money back.
	StatusRefunded
)

// State is a payment folded from its stream.
type State struct {
	Status     Status
	PaymentID  string
	CheckoutID string
	CustomerID string
	ProviderID string
	Amount     money.Money
	Refunded   money.Money
}

// Evolve returns s with event applied, and s unchanged for events it does not
// know.
func Evolve(s State, event any) State {
	switch e := event.(type) {
	case IntentCreated:
		s = State{
			Status: StatusPending, PaymentID: e.PaymentID, CheckoutID: e.CheckoutID, CustomerID: e.CustomerID,
			ProviderID: e.ProviderID, Amount: e.Amount, Refunded: money.Zero(e.Amount.Currency),
		}
	case Succeeded:
		s.Status = StatusSucceeded
	case Failed:
		s.Status = StatusFailed
	case Refunded:
		if r, err := s.Refunded.Add(e.Amount); err == nil {
			s.Refunded = r
		}
		if s.Refunded.Amount >= s.Amount.Amount {
			s.Status = StatusRefunded
		}
	}
	return s
}

package order

import "github.com/commerce-engine/commerce/domain/money"

// Status is where an order is in its life.
type Status int

// Order statuses; the zero Status is an order never placed.
const (
	// StatusPlaced is paid and waiting for the warehouse.
	StatusPlaced Status = iota + 1
	// StatusProcessing is being prepared.
	StatusProcessing
	// StatusShipped is with the carrier.
	StatusShipped
	// StatusDelivered arrived.
	StatusDelivered
	// StatusCancelled will not ship; its payment is to be refunded.
	StatusCancelled
	// StatusRefunded is cancelled and refunded: the order's end.
	StatusRefunded
)

// statusNames are the statuses' names in the API and the read models.
var statusNames = map[Status]string{
	StatusPlaced: "placed", StatusProcessing: "processing", StatusShipped: "shipped",
	StatusDelivered: "delivered", StatusCancelled: "cancelled", StatusRefunded: "refunded",
}

// String returns the status's name as the API spells it ("" for an order
// never placed).
func (s Status) String() string { return statusNames[s] }

// State is an order folded from its stream.
type State struct {
	Status         Status
	OrderID        string
	CustomerID     string
	CheckoutID     string
	PaymentID      string
	Total          money.Money
	LineCount      int
	Carrier        string
	TrackingNumber string
}

// Evolve returns s with event applied, and s unchanged for events it does not
// know.
func Evolve(s State, event any) State {
	switch e := event.(type) {
	case Placed:
		s = State{
			Status: StatusPlaced, OrderID: e.OrderID, CustomerID: e.CustomerID, CheckoutID: e.CheckoutID,
			PaymentID: e.PaymentID, Total: e.Total, LineCount: len(e.Lines),
		}
	case Processing:
		s.Status = StatusProcessing
	case Shipped:
		s.Status, s.Carrier, s.TrackingNumber = StatusShipped, e.Carrier, e.TrackingNumber
	case Delivered:
		s.Status = StatusDelivered
	case Cancelled:
		s.Status = StatusCancelled
	case Refunded:
		s.Status = StatusRefunded
	}
	return s
}

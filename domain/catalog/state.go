package catalog

import (
	"maps"
	"time"

	"github.com/commerce-engine/commerce/domain/money"
)

// ReservationStatus is where a reservation is in its life: open, then
// released or committed, never both.
type ReservationStatus int

// Reservation statuses.
const (
	// StatusOpen holds units against the available stock.
	StatusOpen ReservationStatus = iota + 1
	// StatusReleased gave its units back.
	StatusReleased
	// StatusCommitted sold its units.
	StatusCommitted
)

// Reservation is the decider's memory of one reservation; closed ones are
// kept so that their ids are never reused and late commands are refused.
type Reservation struct {
	Quantity   int64
	CheckoutID string
	ExpiresAt  time.Time
	Status     ReservationStatus
}

// State is a product folded from its stream: what Decide needs to enforce
// the catalog rules. The zero State is a product that does not exist yet.
type State struct {
	Exists       bool
	ProductID    string
	SKU          string
	Name         string
	Description  string
	Category     string
	Price        money.Money
	ImageURL     string
	OnHand       int64
	Reserved     int64
	Reservations map[string]Reservation
}

// Available is the number of units that can still be reserved: on hand
// minus reserved, which the rules keep at zero or above.
func (s State) Available() int64 { return s.OnHand - s.Reserved }

// Evolve returns s with event applied. It never mutates s (the reservations
// map is copied on write) and returns s unchanged for events it does not know.
func Evolve(s State, event any) State {
	switch e := event.(type) {
	case ProductCreated:
		s = State{
			Exists: true, ProductID: e.ProductID, SKU: e.SKU, Name: e.Name,
			Description: e.Description, Category: e.Category, Price: e.Price, ImageURL: e.ImageURL,
		}
	case ProductUpdated:
		s.Name, s.Description, s.Category, s.Price, s.ImageURL = e.Name, e.Description, e.Category, e.Price, e.ImageURL
	case StockAdjusted:
		s.OnHand += e.Delta
	case StockReserved:
		s.Reservations = withReservation(s.Reservations, e.ReservationID, Reservation{
			Quantity: e.Quantity, CheckoutID: e.CheckoutID, ExpiresAt: e.ExpiresAt, Status: StatusOpen,
		})
		s.Reserved += e.Quantity
	case ReservationReleased:
		r := s.Reservations[e.ReservationID]
		r.Status = StatusReleased
		s.Reservations = withReservation(s.Reservations, e.ReservationID, r)
		s.Reserved -= e.Quantity
	case ReservationCommitted:
		r := s.Reservations[e.ReservationID]
		r.Status = StatusCommitted
		s.Reservations = withReservation(s.Reservations, e.ReservationID, r)
		s.Reserved -= e.Quantity
		s.OnHand -= e.Quantity
	}
	return s
}

func withReservation(m map[string]Reservation, id string, r Reservation) map[string]Reservation {
	m = maps.Clone(m)
	if m == nil {
		m = map[string]Reservation{}
	}
	m[id] = r
	return m
}

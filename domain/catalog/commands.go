package catalog

import (
	"time"

	"github.com/commerce-engine/commerce/domain/money"
)

// CreateProduct adds a product to the catalog (admin). Stock starts at zero;
// AdjustStock adds units.
type CreateProduct struct {
	ProductID   string
	SKU         string
	Name        string
	Description string
	Category    string
	Price       money.Money
	ImageURL    string
	At          time.Time
}

// UpdateProduct replaces a product's name, description, category, price and
// image (admin). SKU is immutable.
type UpdateProduct struct {
	ProductID   string
	Name        string
	Description string
	Category    string
	Price       money.Money
	ImageURL    string
	At          time.Time
}

// AdjustStock adds (Delta > 0) or removes (Delta < 0) units on hand (admin).
type AdjustStock struct {
	ProductID string
	Delta     int64
	Reason    string
	At        time.Time
}

// ReserveStock holds Quantity units for a checkout until ExpiresAt (saga).
// ReservationID is chosen by the caller and is unique within the product.
type ReserveStock struct {
	ProductID     string
	ReservationID string
	CheckoutID    string
	Quantity      int64
	ExpiresAt     time.Time
	At            time.Time
}

// ReleaseReservation makes an open reservation's units available again
// (saga: payment failed, timeout, cancellation).
type ReleaseReservation struct {
	ProductID     string
	ReservationID string
	Reason        string
	At            time.Time
}

// CommitReservation turns an open reservation into a sale (saga: payment
// succeeded).
type CommitReservation struct {
	ProductID     string
	ReservationID string
	At            time.Time
}

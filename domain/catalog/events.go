package catalog

import (
	"time"

	"github.com/commerce-engine/commerce/domain/money"
)

// Event type names and schema versions of the catalog's events. A version
// changes only with an upcaster from the previous one in the codec.
const (
	// ProductCreatedType names ProductCreated in the store.
	ProductCreatedType = "product.created"
	// ProductCreatedVersion is ProductCreated's schema version.
	ProductCreatedVersion = 1
	// ProductUpdatedType names ProductUpdated in the store.
	ProductUpdatedType = "product.updated"
	// ProductUpdatedVersion is ProductUpdated's schema version.
	ProductUpdatedVersion = 1
	// StockAdjustedType names StockAdjusted in the store.
	StockAdjustedType = "product.stock_adjusted"
	// StockAdjustedVersion is StockAdjusted's schema version.
	StockAdjustedVersion = 1
	// StockReservedType names StockReserved in the store.
	StockReservedType = "product.stock_reserved"
	// StockReservedVersion is StockReserved's schema version.
	StockReservedVersion = 1
	// ReservationReleasedType names ReservationReleased in the store.
	ReservationReleasedType = "product.reservation_released"
	// ReservationReleasedVersion is ReservationReleased's schema version.
	ReservationReleasedVersion = 1
	// ReservationCommittedType names ReservationCommitted in the store.
	ReservationCommittedType = "product.reservation_committed"
	// ReservationCommittedVersion is ReservationCommitted's schema version.
	ReservationCommittedVersion = 1
)

// ProductCreated records a new product in the catalog, with no stock yet.
type ProductCreated struct {
	ProductID   string      `json:"product_id"`
	SKU         string      `json:"sku"`
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Category    string      `json:"category"`
	Price       money.Money `json:"price"`
	ImageURL    string      `json:"image_url"`
	At          time.Time   `json:"at"`
}

// EventType returns "product.created".
func (ProductCreated) EventType() string { return ProductCreatedType }

// ProductUpdated records the new descriptive fields and price of a product;
// every field is the full new value, not a patch.
type ProductUpdated struct {
	ProductID   string      `json:"product_id"`
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Category    string      `json:"category"`
	Price       money.Money `json:"price"`
	ImageURL    string      `json:"image_url"`
	At          time.Time   `json:"at"`
}

// EventType returns "product.updated".
func (ProductUpdated) EventType() string { return ProductUpdatedType }

// StockAdjusted records a change of the units on hand (a delivery, a count
// correction, breakage); OnHand is the figure after the change, for readers.
type StockAdjusted struct {
	ProductID string    `json:"product_id"`
	Delta     int64     `json:"delta"`
	OnHand    int64     `json:"on_hand"`
	Reason    string    `json:"reason"`
	At        time.Time `json:"at"`
}

// EventType returns "product.stock_adjusted".
func (StockAdjusted) EventType() string { return StockAdjustedType }

// StockReserved records units held for a checkout until they are committed,
// released, or released by the saga's timeout after ExpiresAt.
type StockReserved struct {
	ProductID     string    `json:"product_id"`
	ReservationID string    `json:"reservation_id"`
	CheckoutID    string    `json:"checkout_id"`
	Quantity      int64     `json:"quantity"`
	ExpiresAt     time.Time `json:"expires_at"`
	At            time.Time `json:"at"`
}

// EventType returns "product.stock_reserved".
func (StockReserved) EventType() string { return StockReservedType }

// ReservationReleased records that a reservation's units are available again
// (payment failed, checkout abandoned, reservation expired, order cancelled).
type ReservationReleased struct {
	ProductID     string    `json:"product_id"`
	ReservationID string    `json:"reservation_id"`
	Quantity      int64     `json:"quantity"`
	Reason        string    `json:"reason"`
	At            time.Time `json:"at"`
}

// EventType returns "product.reservation_released".
func (ReservationReleased) EventType() string { return ReservationReleasedType }

// ReservationCommitted records that a reservation's units were sold: they
// leave both the reserved count and the stock on hand.
type ReservationCommitted struct {
	ProductID     string    `json:"product_id"`
	ReservationID string    `json:"reservation_id"`
	Quantity      int64     `json:"quantity"`
	At            time.Time `json:"at"`
}

// EventType returns "product.reservation_committed".
func (ReservationCommitted) EventType() string { return ReservationCommittedType }

// RegisterEvents binds every catalog event type name and schema version to its
// payload type in r, typically an *eventstore.Codec; this package does not
// import eventstore, so the interface is declared here where it is consumed.
func RegisterEvents(r interface {
	RegisterType(name string, version int, sample any)
}) {
	r.RegisterType(ProductCreatedType, ProductCreatedVersion, ProductCreated{})
	r.RegisterType(ProductUpdatedType, ProductUpdatedVersion, ProductUpdated{})
	r.RegisterType(StockAdjustedType, StockAdjustedVersion, StockAdjusted{})
	r.RegisterType(StockReservedType, StockReservedVersion, StockReserved{})
	r.RegisterType(ReservationReleasedType, ReservationReleasedVersion, ReservationReleased{})
	r.RegisterType(ReservationCommittedType, ReservationCommittedVersion, ReservationCommitted{})
}

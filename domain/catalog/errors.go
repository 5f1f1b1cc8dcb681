package catalog

import "errors"

// Sentinel errors, one per catalog rule; match them with errors.Is.
var (
	// ErrUnknownCommand means Decide was given a command of another package.
	ErrUnknownCommand = errors.New("catalog: unknown command")
	// ErrProductExists means CreateProduct was sent to a stream that already
	// holds a product.
	ErrProductExists = errors.New("catalog: product already exists")
	// ErrProductNotFound means a command other than CreateProduct was sent
	// before the product was created.
	ErrProductNotFound = errors.New("catalog: product not found")
	// ErrProductIDRequired means a command carries no product id.
	ErrProductIDRequired = errors.New("catalog: product id required")
	// ErrSKURequired means CreateProduct carries a blank SKU.
	ErrSKURequired = errors.New("catalog: sku required")
	// ErrNameRequired means a product would have a blank name.
	ErrNameRequired = errors.New("catalog: name required")
	// ErrInvalidText refuses product text (sku, name, description,
	// category, image url) that is not valid UTF-8 or holds a NUL: no read
	// model could store it (PostgreSQL text cannot), so the catalog would
	// stop on it.
	ErrInvalidText = errors.New("catalog: text must be valid UTF-8 without NUL characters")
	// ErrInvalidPrice means a price is not positive or its currency is not an
	// ISO 4217 code.
	ErrInvalidPrice = errors.New("catalog: price must be positive with a valid currency")
	// ErrInvalidQuantity means a stock delta is zero or a reservation quantity
	// is not positive.
	ErrInvalidQuantity = errors.New("catalog: invalid quantity")
	// ErrStockBelowReserved means an adjustment would leave fewer units on
	// hand than are reserved (or fewer than zero).
	ErrStockBelowReserved = errors.New("catalog: stock on hand cannot go below reserved")
	// ErrStockOverflow means an adjustment would overflow the stock counter.
	ErrStockOverflow = errors.New("catalog: stock overflow")
	// ErrInsufficientStock means a reservation asks for more units than are
	// available (on hand minus reserved).
	ErrInsufficientStock = errors.New("catalog: insufficient stock")
	// ErrReservationIDRequired means a reservation command carries no id.
	ErrReservationIDRequired = errors.New("catalog: reservation id required")
	// ErrDuplicateReservation means a reservation id was already used on this
	// product, whatever became of that reservation.
	ErrDuplicateReservation = errors.New("catalog: reservation id already used")
	// ErrInvalidExpiry means a reservation would expire at or before the
	// moment it is made.
	ErrInvalidExpiry = errors.New("catalog: reservation must expire after it is made")
	// ErrReservationUnknown means a release or commit names a reservation
	// this product never had.
	ErrReservationUnknown = errors.New("catalog: unknown reservation")
	// ErrReservationAlreadyCommitted means a reservation was committed
	// already: it can be neither committed again nor released.
	ErrReservationAlreadyCommitted = errors.New("catalog: reservation already committed")
	// ErrReservationReleased means a reservation was released already: it can
	// be neither committed nor released again.
	ErrReservationReleased = errors.New("catalog: reservation already released")
)

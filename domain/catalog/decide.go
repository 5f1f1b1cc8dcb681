package catalog

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Rules of the catalog aggregate (one product and its inventory):
//
//  1. A product is created once (ErrProductExists), with a product id
//     (ErrProductIDRequired), a SKU (ErrSKURequired) and a name
//     (ErrNameRequired); an update keeps the name non-blank. Its texts are
//     valid UTF-8 without NUL (ErrInvalidText).
//  2. A price is positive with an ISO 4217 currency (ErrInvalidPrice).
//  3. Every command but CreateProduct needs the product (ErrProductNotFound).
//  4. A stock adjustment is non-zero (ErrInvalidQuantity) and never takes the
//     units on hand below the units reserved (ErrStockBelowReserved), nor
//     overflows (ErrStockOverflow).
//  5. A reservation has an id (ErrReservationIDRequired) that the product has
//     never seen (ErrDuplicateReservation), a quantity above zero
//     (ErrInvalidQuantity) and at most the available units, on hand minus
//     reserved (ErrInsufficientStock), and expires after it is made
//     (ErrInvalidExpiry).
//  6. Only a known reservation (ErrReservationUnknown) that is still open can
//     be released or committed: a committed one can be neither committed again
//     nor released (ErrReservationAlreadyCommitted); a released one can be
//     neither committed nor released again (ErrReservationReleased).
//  7. A commit removes the units from both reserved and on hand.
//
// Together these keep on hand >= reserved >= 0 on every stream. Expiry is not
// checked on commit: an open reservation still holds its units, so selling
// them is safe; it is the saga's timeout that releases expired reservations.

// Decide returns the events that command produces on product s, or an error
// wrapping one of this package's sentinels (and no events). Commands are
// passed by value; an unknown command gives ErrUnknownCommand.
func Decide(s State, command any) ([]any, error) {
	switch c := command.(type) {
	case CreateProduct:
		return create(s, c)
	case UpdateProduct:
		return update(s, c)
	case AdjustStock:
		return adjust(s, c)
	case ReserveStock:
		return reserve(s, c)
	case ReleaseReservation:
		return release(s, c)
	case CommitReservation:
		return commit(s, c)
	}
	return nil, fmt.Errorf("%w: %T", ErrUnknownCommand, command)
}

func create(s State, c CreateProduct) ([]any, error) {
	switch {
	case s.Exists:
		return nil, ErrProductExists
	case strings.TrimSpace(c.ProductID) == "":
		return nil, ErrProductIDRequired
	case strings.TrimSpace(c.SKU) == "":
		return nil, ErrSKURequired
	case strings.TrimSpace(c.Name) == "":
		return nil, ErrNameRequired
	case !storable(c.SKU, c.Name, c.Description, c.Category, c.ImageURL):
		return nil, ErrInvalidText
	case !c.Price.IsPositive():
		return nil, fmt.Errorf("%w: %v", ErrInvalidPrice, c.Price)
	}
	return []any{ProductCreated{
		ProductID: c.ProductID, SKU: strings.TrimSpace(c.SKU), Name: strings.TrimSpace(c.Name),
		Description: c.Description, Category: c.Category, Price: c.Price, ImageURL: c.ImageURL, At: c.At,
	}}, nil
}

// storable reports whether every text is valid UTF-8 without NUL.
func storable(texts ...string) bool {
	for _, t := range texts {
		if !utf8.ValidString(t) || strings.IndexByte(t, 0) >= 0 {
			return false
		}
	}
	return true
}

func update(s State, c UpdateProduct) ([]any, error) {
	switch {
	case !s.Exists:
		return nil, ErrProductNotFound
	case strings.TrimSpace(c.Name) == "":
		return nil, ErrNameRequired
	case !storable(c.Name, c.Description, c.Category, c.ImageURL):
		return nil, ErrInvalidText
	case !c.Price.IsPositive():
		return nil, fmt.Errorf("%w: %v", ErrInvalidPrice, c.Price)
	}
	return []any{ProductUpdated{
		ProductID: s.ProductID, Name: strings.TrimSpace(c.Name), Description: c.Description,
		Category: c.Category, Price: c.Price, ImageURL: c.ImageURL, At: c.At,
	}}, nil
}

func adjust(s State, c AdjustStock) ([]any, error) {
	if !s.Exists {
		return nil, ErrProductNotFound
	}
	if c.Delta == 0 {
		return nil, fmt.Errorf("%w: zero adjustment", ErrInvalidQuantity)
	}
	after := s.OnHand + c.Delta
	if (c.Delta > 0) != (after > s.OnHand) {
		return nil, ErrStockOverflow
	}
	if after < s.Reserved {
		return nil, fmt.Errorf("%w: on hand %d%+d < reserved %d", ErrStockBelowReserved, s.OnHand, c.Delta, s.Reserved)
	}
	return []any{StockAdjusted{ProductID: s.ProductID, Delta: c.Delta, OnHand: after, Reason: c.Reason, At: c.At}}, nil
}

func reserve(s State, c ReserveStock) ([]any, error) {
	if !s.Exists {
		return nil, ErrProductNotFound
	}
	if c.ReservationID == "" {
		return nil, ErrReservationIDRequired
	}
	if _, used := s.Reservations[c.ReservationID]; used {
		return nil, fmt.Errorf("%w: %s", ErrDuplicateReservation, c.ReservationID)
	}
	if c.Quantity <= 0 {
		return nil, fmt.Errorf("%w: %d", ErrInvalidQuantity, c.Quantity)
	}
	if c.Quantity > s.Available() {
		return nil, fmt.Errorf("%w: want %d, available %d", ErrInsufficientStock, c.Quantity, s.Available())
	}
	if !c.ExpiresAt.After(c.At) {
		return nil, ErrInvalidExpiry
	}
	return []any{StockReserved{
		ProductID: s.ProductID, ReservationID: c.ReservationID, CheckoutID: c.CheckoutID,
		Quantity: c.Quantity, ExpiresAt: c.ExpiresAt, At: c.At,
	}}, nil
}

func openReservation(s State, id string) (Reservation, error) {
	if !s.Exists {
		return Reservation{}, ErrProductNotFound
	}
	r, ok := s.Reservations[id]
	if !ok {
		return Reservation{}, fmt.Errorf("%w: %q", ErrReservationUnknown, id)
	}
	switch r.Status {
	case StatusCommitted:
		return Reservation{}, fmt.Errorf("%w: %s", ErrReservationAlreadyCommitted, id)
	case StatusReleased:
		return Reservation{}, fmt.Errorf("%w: %s", ErrReservationReleased, id)
	}
	return r, nil
}

func release(s State, c ReleaseReservation) ([]any, error) {
	r, err := openReservation(s, c.ReservationID)
	if err != nil {
		return nil, err
	}
	return []any{ReservationReleased{
		ProductID: s.ProductID, ReservationID: c.ReservationID, Quantity: r.Quantity, Reason: c.Reason, At: c.At,
	}}, nil
}

func commit(s State, c CommitReservation) ([]any, error) {
	r, err := openReservation(s, c.ReservationID)
	if err != nil {
		return nil, err
	}
	return []any{ReservationCommitted{
		ProductID: s.ProductID, ReservationID: c.ReservationID, Quantity: r.Quantity, At: c.At,
	}}, nil
}

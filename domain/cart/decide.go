package cart

import (
	"fmt"

	"github.com/commerce-engine/commerce/domain/catalog"
)

// MaxLineQuantity caps the units of one product in one cart. It keeps totals
// far from overflow, stops a typo (1000 for 10) from reserving a whole stock,
// and matches what a shopper plausibly buys; wholesale goes elsewhere.
const MaxLineQuantity = 99

// Rules of the cart aggregate:
//
//  1. An item names a product (ErrProductIDRequired); a line holds 1 to
//     MaxLineQuantity units, whether added, added again or changed
//     (ErrInvalidQuantity).
//  2. The unit price is the snapshot carried by AddItem, positive with a
//     valid currency (ErrInvalidPrice), and every line shares one currency
//     (ErrMixedCurrency).
//  3. A checked-out cart cannot change (ErrCartCheckedOut) until it is
//     cleared or its checkout is cancelled; nor can it be checked out again.
//  4. Only a product in the cart can be changed or removed (ErrItemNotInCart).
//  5. An empty cart cannot be checked out (ErrCartEmpty); a checkout has an
//     id (ErrCheckoutIDRequired) and its total must fit (ErrTotalOverflow).
//  6. A checkout is cancelled, or a checkout's cart cleared, only by the
//     checkout that froze it (ErrNotCheckedOut); a repeat of either for a cart
//     already cleared or reopened by that checkout is an error too, which the
//     saga treats as done.
//  7. A shopper's Clear (no CheckoutID) of a checked-out cart is refused
//     (ErrCartCheckedOut); of an empty cart it is a no-op.
//  8. Changing a line to its current quantity is a no-op.
//  9. With the product's availability known (the command's Available), a
//     line never holds more units than are available: an add counts the
//     units already in the line (catalog.ErrInsufficientStock, checked
//     before every other rule). The check is advisory: stock is only held
//     by the reservation at checkout.

// Decide returns the events that command produces on cart s, or an error
// wrapping one of this package's sentinels (and no events). Commands are
// passed by value; an unknown command gives ErrUnknownCommand.
func Decide(s State, command any) ([]any, error) {
	switch c := command.(type) {
	case AddItem:
		return add(s, c)
	case ChangeItemQuantity:
		return change(s, c)
	case RemoveItem:
		return remove(s, c)
	case CheckOut:
		return checkOut(s, c)
	case CancelCheckout:
		return cancelCheckout(s, c)
	case Clear:
		return clearCart(s, c)
	}
	return nil, fmt.Errorf("%w: %T", ErrUnknownCommand, command)
}

func validQuantity(q int64) error {
	if q < 1 || q > MaxLineQuantity {
		return fmt.Errorf("%w: %d", ErrInvalidQuantity, q)
	}
	return nil
}

// inStock applies rule 9 to a line that would hold want units.
func inStock(a Availability, want int64, format string) error {
	if a.Known && want > a.Units {
		return fmt.Errorf("%w: "+format, catalog.ErrInsufficientStock, want, a.Units)
	}
	return nil
}

func add(s State, c AddItem) ([]any, error) {
	if err := inStock(c.Available, s.Lines[c.ProductID].Quantity+c.Quantity, "the cart would hold %d, %d available"); err != nil {
		return nil, err
	}
	if s.CheckedOut() {
		return nil, ErrCartCheckedOut
	}
	if c.ProductID == "" {
		return nil, ErrProductIDRequired
	}
	if err := validQuantity(c.Quantity); err != nil {
		return nil, err
	}
	if err := validQuantity(s.Lines[c.ProductID].Quantity + c.Quantity); err != nil {
		return nil, err
	}
	if !c.UnitPrice.IsPositive() {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPrice, c.UnitPrice)
	}
	// A product added again may bring a new price; only other lines fix the
	// currency.
	for id, l := range s.Lines {
		if id != c.ProductID && l.UnitPrice.Currency != c.UnitPrice.Currency {
			return nil, fmt.Errorf("%w: cart in %s, item in %s", ErrMixedCurrency, l.UnitPrice.Currency, c.UnitPrice.Currency)
		}
	}
	return []any{ItemAdded{
		CartID: c.CartID, CustomerID: c.CustomerID, ProductID: c.ProductID,
		Quantity: c.Quantity, UnitPrice: c.UnitPrice, At: c.At,
	}}, nil
}

func change(s State, c ChangeItemQuantity) ([]any, error) {
	if err := inStock(c.Available, c.Quantity, "%d wanted, %d available"); err != nil {
		return nil, err
	}
	if s.CheckedOut() {
		return nil, ErrCartCheckedOut
	}
	l, ok := s.Lines[c.ProductID]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrItemNotInCart, c.ProductID)
	}
	if err := validQuantity(c.Quantity); err != nil {
		return nil, err
	}
	if l.Quantity == c.Quantity {
		return nil, nil
	}
	return []any{ItemQuantityChanged{CartID: c.CartID, ProductID: c.ProductID, Quantity: c.Quantity, At: c.At}}, nil
}

func remove(s State, c RemoveItem) ([]any, error) {
	if s.CheckedOut() {
		return nil, ErrCartCheckedOut
	}
	if _, ok := s.Lines[c.ProductID]; !ok {
		return nil, fmt.Errorf("%w: %q", ErrItemNotInCart, c.ProductID)
	}
	return []any{ItemRemoved{CartID: c.CartID, ProductID: c.ProductID, At: c.At}}, nil
}

func checkOut(s State, c CheckOut) ([]any, error) {
	if s.CheckedOut() {
		return nil, ErrCartCheckedOut
	}
	if c.CheckoutID == "" {
		return nil, ErrCheckoutIDRequired
	}
	if len(s.Lines) == 0 {
		return nil, ErrCartEmpty
	}
	lines, total, err := s.Priced()
	if err != nil {
		return nil, err
	}
	return []any{CheckedOut{
		CartID: c.CartID, CustomerID: s.CustomerID, CheckoutID: c.CheckoutID, Lines: lines, Total: total, At: c.At,
	}}, nil
}

func cancelCheckout(s State, c CancelCheckout) ([]any, error) {
	if c.CheckoutID == "" {
		return nil, ErrCheckoutIDRequired
	}
	if s.CheckoutID != c.CheckoutID {
		return nil, fmt.Errorf("%w: %q", ErrNotCheckedOut, c.CheckoutID)
	}
	return []any{CheckoutCancelled{CartID: c.CartID, CheckoutID: c.CheckoutID, Reason: c.Reason, At: c.At}}, nil
}

func clearCart(s State, c Clear) ([]any, error) {
	if c.CheckoutID != "" {
		if s.CheckoutID != c.CheckoutID {
			return nil, fmt.Errorf("%w: %q", ErrNotCheckedOut, c.CheckoutID)
		}
		return []any{Cleared{CartID: c.CartID, CheckoutID: c.CheckoutID, At: c.At}}, nil
	}
	if s.CheckedOut() {
		return nil, ErrCartCheckedOut
	}
	if len(s.Lines) == 0 {
		return nil, nil
	}
	return []any{Cleared{CartID: c.CartID, At: c.At}}, nil
}

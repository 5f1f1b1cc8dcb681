package cart

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/commerce-engine/commerce/domain/money"
)

// Line is one product in the cart with its quantity and price snapshot.
type Line struct {
	Quantity  int64
	UnitPrice money.Money
	AddedAt   time.Time
}

// State is a cart folded from its stream. The zero State is an empty cart
// that is not checked out.
type State struct {
	CartID     string
	CustomerID string
	Lines      map[string]Line
	// CheckoutID is set while a checkout freezes the cart.
	CheckoutID string
}

// CheckedOut reports whether a checkout freezes the cart.
func (s State) CheckedOut() bool { return s.CheckoutID != "" }

// Priced returns the cart's lines sorted by product id, each with its line
// total, and the cart's total: the snapshot a checkout freezes, computed in
// one place for the decider and the saga that reserves it.
func (s State) Priced() ([]PricedLine, money.Money, error) {
	ids := slices.Sorted(maps.Keys(s.Lines))
	total := money.Zero(s.Currency())
	lines := make([]PricedLine, 0, len(ids))
	for _, id := range ids {
		l := s.Lines[id]
		lt, err := l.UnitPrice.Mul(l.Quantity)
		if err == nil {
			total, err = total.Add(lt)
		}
		if err != nil {
			return nil, money.Money{}, fmt.Errorf("%w: %v", ErrTotalOverflow, err) //nolint:errorlint // the rule is the error; money's cause is detail
		}
		lines = append(lines, PricedLine{ProductID: id, Quantity: l.Quantity, UnitPrice: l.UnitPrice, LineTotal: lt})
	}
	return lines, total, nil
}

// Currency returns the currency of the cart's lines, or "" for an empty
// cart.
func (s State) Currency() string {
	for _, l := range s.Lines {
		return l.UnitPrice.Currency
	}
	return ""
}

// Evolve returns s with event applied. It never mutates s (the lines map is
// copied on write) and returns s unchanged for events it does not know.
func Evolve(s State, event any) State {
	switch e := event.(type) {
	case ItemAdded:
		s.CartID, s.CustomerID = e.CartID, e.CustomerID
		l := s.Lines[e.ProductID]
		l.Quantity += e.Quantity
		l.UnitPrice = e.UnitPrice
		if l.AddedAt.IsZero() {
			l.AddedAt = e.At
		}
		s.Lines = cloneLines(s.Lines)
		s.Lines[e.ProductID] = l
	case ItemQuantityChanged:
		l, ok := s.Lines[e.ProductID]
		if ok {
			l.Quantity = e.Quantity
			s.Lines = cloneLines(s.Lines)
			s.Lines[e.ProductID] = l
		}
	case ItemRemoved:
		s.Lines = cloneLines(s.Lines)
		delete(s.Lines, e.ProductID)
	case CheckedOut:
		s.CheckoutID = e.CheckoutID
	case CheckoutCancelled:
		s.CheckoutID = ""
	case Cleared:
		s.Lines = nil
		s.CheckoutID = ""
	}
	return s
}

func cloneLines(m map[string]Line) map[string]Line {
	m = maps.Clone(m)
	if m == nil {
		m = map[string]Line{}
	}
	return m
}

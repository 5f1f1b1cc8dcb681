// Package analytics is the read model analysts query: daily sales, daily
// sales per product, refunds and the checkout funnel, folded from the event
// log. The logic is written once (Fold) and kept by two stores: Memory (the
// embedded default) and Postgres (tables analysts reach with SQL through
// the analytics schema's views). Both answer the Reader interface the same
// way.
package analytics

import (
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/commerce-engine/commerce/domain/cart"
	"github.com/commerce-engine/commerce/domain/catalog"
	"github.com/commerce-engine/commerce/domain/order"
	"github.com/commerce-engine/commerce/domain/payment"
	"github.com/commerce-engine/commerce/eventstore"
)

// Name is the projection's name: its checkpoint, its generations and the
// runner's status entry.
const Name = "analytics"

// Filter selects the only event types the analytics model reads, so a
// rebuild skips the rest of the log. cart.item_quantity_changed is not
// among them: a line's quantity is always 1 or more, so it never empties
// or fills a cart.
var Filter = eventstore.Filter{Types: []string{
	order.PlacedType, order.ShippedType, order.CancelledType, order.RefundedType,
	catalog.ProductCreatedType, catalog.ProductUpdatedType,
	cart.ItemAddedType, cart.ItemRemovedType, cart.ClearedType, cart.CheckedOutType,
	payment.SucceededType,
}}

// dayLayout is how a day is written everywhere in this package: the UTC
// date, which sorts as text.
const dayLayout = "2006-01-02"

// Day returns the UTC date of t as "2006-01-02": the day an event counts on.
func Day(t time.Time) string { return t.UTC().Format(dayLayout) }

// SalesKey names a sales_daily row: one day in one currency.
type SalesKey struct {
	Day, Currency string
}

// Sales are the counters of one day and currency; money in minor units.
type Sales struct {
	Orders, Units, Revenue, Refunds int64
}

// ProductKey names a product_sales_daily row: one product's sales of one
// day in one currency.
type ProductKey struct {
	Day, ProductID, Currency string
}

// ProductDay counts one product's units sold and revenue (minor units).
type ProductDay struct {
	Units, Revenue int64
}

// Refund is one order's refund, a row of the refunds table.
type Refund struct {
	OrderID    string
	PaymentID  string
	Day        string
	RefundedAt time.Time
	Currency   string
	Amount     int64
}

// FunnelDay counts the checkout funnel's steps on one day.
type FunnelDay struct {
	Carts, Checkouts, Paid, Shipped, Cancelled int64
}

// Delta is what a batch of events adds to the model: increments of the
// daily counters keyed as the tables are, the latest product names, and new
// refund rows. Stores add it to what they hold.
type Delta struct {
	Sales    map[SalesKey]Sales
	Products map[ProductKey]ProductDay
	Names    map[string]string
	Refunds  []Refund
	Funnel   map[string]FunnelDay
}

// NewDelta returns an empty delta ready for Fold.
func NewDelta() *Delta {
	return &Delta{
		Sales: map[SalesKey]Sales{}, Products: map[ProductKey]ProductDay{},
		Names: map[string]string{}, Funnel: map[string]FunnelDay{},
	}
}

// Empty reports whether d adds nothing, so a store can skip its writes.
func (d *Delta) Empty() bool {
	return len(d.Sales) == 0 && len(d.Products) == 0 && len(d.Names) == 0 && len(d.Refunds) == 0 && len(d.Funnel) == 0
}

// OpenCarts is the state the funnel needs: the products in each cart that
// has lines, so that an item added to an empty cart counts a new cart. A
// cart without lines has no entry.
type OpenCarts map[string]map[string]struct{}

// CartOf returns the cart a decoded payload changes the lines of, so a
// store can load those carts' lines before folding; false for payloads
// that touch no cart's lines.
func CartOf(payload any) (string, bool) {
	switch e := payload.(type) {
	case cart.ItemAdded:
		return e.CartID, true
	case cart.ItemRemoved:
		return e.CartID, true
	case cart.Cleared:
		return e.CartID, true
	}
	return "", false
}

// Fold adds the increments of one decoded event payload to d and updates
// carts, which must hold the lines of the cart the payload touches (see
// CartOf; a cart absent from carts is empty). It does no I/O and never
// fails: payloads it does not use leave both unchanged.
func Fold(d *Delta, carts OpenCarts, payload any) {
	switch e := payload.(type) {
	case order.Placed:
		day := Day(e.At)
		k := SalesKey{Day: day, Currency: e.Total.Currency}
		s := d.Sales[k]
		s.Orders++
		s.Revenue += e.Total.Amount
		for _, l := range e.Lines {
			s.Units += l.Quantity
			pk := ProductKey{Day: day, ProductID: l.ProductID, Currency: l.LineTotal.Currency}
			p := d.Products[pk]
			p.Units += l.Quantity
			p.Revenue += l.LineTotal.Amount
			d.Products[pk] = p
		}
		d.Sales[k] = s
	case order.Refunded:
		day := Day(e.At)
		k := SalesKey{Day: day, Currency: e.Amount.Currency}
		s := d.Sales[k]
		s.Refunds += e.Amount.Amount
		d.Sales[k] = s
		d.Refunds = append(d.Refunds, Refund{
			OrderID: e.OrderID, PaymentID: e.PaymentID, Day: day, RefundedAt: e.At.UTC(),
			Currency: e.Amount.Currency, Amount: e.Amount.Amount,
		})
	case order.Shipped:
		d.funnel(e.At, func(f *FunnelDay) { f.Shipped++ })
	case order.Cancelled:
		d.funnel(e.At, func(f *FunnelDay) { f.Cancelled++ })
	case payment.Succeeded:
		d.funnel(e.At, func(f *FunnelDay) { f.Paid++ })
	case cart.CheckedOut:
		d.funnel(e.At, func(f *FunnelDay) { f.Checkouts++ })
	case cart.ItemAdded:
		lines := carts[e.CartID]
		if len(lines) == 0 {
			d.funnel(e.At, func(f *FunnelDay) { f.Carts++ })
			lines = map[string]struct{}{}
			carts[e.CartID] = lines
		}
		lines[e.ProductID] = struct{}{}
	case cart.ItemRemoved:
		if lines, ok := carts[e.CartID]; ok {
			delete(lines, e.ProductID)
			if len(lines) == 0 {
				delete(carts, e.CartID)
			}
		}
	case cart.Cleared:
		delete(carts, e.CartID)
	case catalog.ProductCreated:
		d.Names[e.ProductID] = e.Name
	case catalog.ProductUpdated:
		d.Names[e.ProductID] = e.Name
	}
}

func (d *Delta) funnel(at time.Time, inc func(*FunnelDay)) {
	day := Day(at)
	f := d.Funnel[day]
	inc(&f)
	d.Funnel[day] = f
}

// parallelDecodeMin is the batch size from which decodeAll spreads the
// decoding (most of a rebuild's Go time) over the processors.
const parallelDecodeMin = 256

// decodeAll decodes evs with codec, naming the first event that does not
// decode.
func decodeAll(codec *eventstore.Codec, evs []eventstore.Event) ([]any, error) {
	out := make([]any, len(evs))
	errs := make([]error, len(evs))
	decode := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i], errs[i] = codec.Decode(evs[i])
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(evs)/(parallelDecodeMin/2))
	if len(evs) < parallelDecodeMin || workers < 2 {
		decode(0, len(evs))
	} else {
		var wg sync.WaitGroup
		chunk := (len(evs) + workers - 1) / workers
		for lo := 0; lo < len(evs); lo += chunk {
			wg.Go(func() { decode(lo, min(lo+chunk, len(evs))) })
		}
		wg.Wait()
	}
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("analytics projection at %d (%s): %w", evs[i].Position, evs[i].Type, err)
		}
	}
	return out, nil
}

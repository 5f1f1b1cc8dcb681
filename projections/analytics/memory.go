package analytics

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/eventstore"
)

// Memory is the analytics model held in memory (the embedded default),
// rebuilt from the log at start. A batch is folded into a Delta and into
// copies of the carts it touches before anything changes; the delta, the
// carts and the checkpoint then go in together under the write lock, so
// readers never see a batch half applied and a failing batch changes
// nothing.
type Memory struct {
	Codec *eventstore.Codec

	mu       sync.RWMutex
	pos      eventstore.Position
	sales    map[SalesKey]Sales
	products map[ProductKey]ProductDay
	names    map[string]string
	refunds  []Refund
	funnel   map[string]FunnelDay
	carts    OpenCarts
}

// NewMemory returns an empty analytics model decoding with codec.
func NewMemory(codec *eventstore.Codec) *Memory {
	return &Memory{
		Codec: codec, sales: map[SalesKey]Sales{}, products: map[ProductKey]ProductDay{},
		names: map[string]string{}, funnel: map[string]FunnelDay{}, carts: OpenCarts{},
	}
}

// Checkpoint implements projections.Target.
func (m *Memory) Checkpoint(context.Context) (eventstore.Position, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.pos, nil
}

// Position implements projections.Positioned: the last position applied.
func (m *Memory) Position(ctx context.Context) (eventstore.Position, error) {
	return m.Checkpoint(ctx)
}

// Apply implements projections.Target: events at or below the checkpoint
// are skipped, the rest applied all together or not at all.
func (m *Memory) Apply(_ context.Context, evs []eventstore.Event) error {
	m.mu.RLock()
	from := m.pos
	m.mu.RUnlock()
	fresh := make([]eventstore.Event, 0, len(evs))
	for _, e := range evs {
		if e.Position > from {
			fresh = append(fresh, e)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	payloads, err := decodeAll(m.Codec, fresh)
	if err != nil {
		return err
	}
	d := NewDelta()
	carts := OpenCarts{}
	touched := map[string]bool{}
	for _, p := range payloads {
		if id, ok := CartOf(p); ok && !touched[id] {
			touched[id] = true
			m.mu.RLock()
			if lines, ok := m.carts[id]; ok {
				carts[id] = maps.Clone(lines)
			}
			m.mu.RUnlock()
		}
		Fold(d, carts, p)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pos != from {
		return fmt.Errorf("analytics projection: applied concurrently from %d and %d", from, m.pos)
	}
	for k, v := range d.Sales {
		s := m.sales[k]
		s.Orders, s.Units, s.Revenue, s.Refunds = s.Orders+v.Orders, s.Units+v.Units, s.Revenue+v.Revenue, s.Refunds+v.Refunds
		m.sales[k] = s
	}
	for k, v := range d.Products {
		p := m.products[k]
		p.Units, p.Revenue = p.Units+v.Units, p.Revenue+v.Revenue
		m.products[k] = p
	}
	maps.Copy(m.names, d.Names)
	m.refunds = append(m.refunds, d.Refunds...)
	for k, v := range d.Funnel {
		f := m.funnel[k]
		f.Carts, f.Checkouts, f.Paid = f.Carts+v.Carts, f.Checkouts+v.Checkouts, f.Paid+v.Paid
		f.Shipped, f.Cancelled = f.Shipped+v.Shipped, f.Cancelled+v.Cancelled
		m.funnel[k] = f
	}
	for id := range touched {
		if lines, ok := carts[id]; ok {
			m.carts[id] = lines
		} else {
			delete(m.carts, id)
		}
	}
	m.pos = fresh[len(fresh)-1].Position
	return nil
}

// Refunds returns the refund rows of days in [from, to), oldest first: the
// memory counterpart of the refunds table.
func (m *Memory) Refunds(from, to time.Time) []Refund {
	lo, hi := Day(from), Day(to)
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []Refund
	for _, r := range m.refunds {
		if r.Day >= lo && r.Day < hi {
			out = append(out, r)
		}
	}
	return out
}

// Sales implements Reader.
func (m *Memory) Sales(_ context.Context, from, to time.Time, granularity string) ([]SalesPoint, error) {
	if err := validGranularity(granularity); err != nil {
		return nil, err
	}
	lo, hi := Day(from), Day(to)
	sums := map[SalesKey]Sales{}
	m.mu.RLock()
	for k, v := range m.sales {
		if k.Day < lo || k.Day >= hi {
			continue
		}
		p, err := period(k.Day, granularity)
		if err != nil {
			m.mu.RUnlock()
			return nil, err
		}
		pk := SalesKey{Day: p, Currency: k.Currency}
		s := sums[pk]
		s.Orders, s.Units, s.Revenue, s.Refunds = s.Orders+v.Orders, s.Units+v.Units, s.Revenue+v.Revenue, s.Refunds+v.Refunds
		sums[pk] = s
	}
	m.mu.RUnlock()
	out := make([]SalesPoint, 0, len(sums))
	for k, s := range sums {
		out = append(out, SalesPoint{
			Period: k.Day, Orders: s.Orders, Units: s.Units,
			Revenue: money.Money{Amount: s.Revenue, Currency: k.Currency},
			Refunds: money.Money{Amount: s.Refunds, Currency: k.Currency},
		})
	}
	slices.SortFunc(out, func(a, b SalesPoint) int {
		return cmp.Or(cmp.Compare(a.Period, b.Period), cmp.Compare(a.Revenue.Currency, b.Revenue.Currency))
	})
	return out, nil
}

// TopProducts implements Reader.
func (m *Memory) TopProducts(_ context.Context, from, to time.Time, limit int) ([]ProductSales, error) {
	if limit <= 0 {
		return []ProductSales{}, nil
	}
	lo, hi := Day(from), Day(to)
	type key struct{ id, currency string }
	sums := map[key]ProductDay{}
	m.mu.RLock()
	for k, v := range m.products {
		if k.Day < lo || k.Day >= hi {
			continue
		}
		pk := key{k.ProductID, k.Currency}
		s := sums[pk]
		s.Units, s.Revenue = s.Units+v.Units, s.Revenue+v.Revenue
		sums[pk] = s
	}
	out := make([]ProductSales, 0, len(sums))
	for k, s := range sums {
		out = append(out, ProductSales{ProductID: k.id, Name: m.names[k.id], Units: s.Units, Revenue: money.Money{Amount: s.Revenue, Currency: k.currency}})
	}
	m.mu.RUnlock()
	slices.SortFunc(out, compareTop)
	return out[:min(limit, len(out))], nil
}

// compareTop orders best sellers: revenue, then units, descending; then
// product id and currency, ascending, byte-wise.
func compareTop(a, b ProductSales) int {
	return cmp.Or(cmp.Compare(b.Revenue.Amount, a.Revenue.Amount), cmp.Compare(b.Units, a.Units),
		cmp.Compare(a.ProductID, b.ProductID), cmp.Compare(a.Revenue.Currency, b.Revenue.Currency))
}

// Funnel implements Reader.
func (m *Memory) Funnel(_ context.Context, from, to time.Time) (Funnel, error) {
	lo, hi := Day(from), Day(to)
	var f Funnel
	m.mu.RLock()
	defer m.mu.RUnlock()
	for day, v := range m.funnel {
		if day < lo || day >= hi {
			continue
		}
		f.Carts, f.Checkouts, f.Paid = f.Carts+v.Carts, f.Checkouts+v.Checkouts, f.Paid+v.Paid
		f.Shipped, f.Cancelled = f.Shipped+v.Shipped, f.Cancelled+v.Cancelled
	}
	return f, nil
}

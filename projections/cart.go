package projections

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/commerce-engine/commerce/domain/cart"
	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/eventstore"
)

// CartFilter is the only stream prefix the cart projection reads.
var CartFilter = eventstore.Filter{StreamPrefix: cart.StreamPrefix}

// MemoryCarts is every shopper's cart held in memory (the embedded
// default), folded with the cart aggregate's own Evolve: the shopper sees
// exactly the cart the next command will decide on.
type MemoryCarts struct {
	Codec *eventstore.Codec

	mu    sync.RWMutex
	pos   eventstore.Position
	carts map[string]cart.State
}

// NewMemoryCarts returns an empty cart model decoding with codec.
func NewMemoryCarts(codec *eventstore.Codec) *MemoryCarts {
	return &MemoryCarts{Codec: codec, carts: map[string]cart.State{}}
}

// Checkpoint implements Target.
func (m *MemoryCarts) Checkpoint(context.Context) (eventstore.Position, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.pos, nil
}

// Position implements Positioned: the last position applied.
func (m *MemoryCarts) Position(ctx context.Context) (eventstore.Position, error) {
	return m.Checkpoint(ctx)
}

// Apply implements Target; Evolve never mutates its input, so the touched
// carts are new values swapped in with the checkpoint.
func (m *MemoryCarts) Apply(ctx context.Context, evs []eventstore.Event) error {
	m.mu.RLock()
	from := m.pos
	m.mu.RUnlock()
	touched := map[string]cart.State{}
	last := from
	for _, e := range evs {
		if e.Position <= from {
			continue
		}
		payload, err := m.Codec.Decode(e)
		if err != nil {
			return fmt.Errorf("cart projection at %d: %w", e.Position, err)
		}
		id := CartID(e)
		s, ok := touched[id]
		if !ok {
			s, _ = m.Cart(ctx, id)
		}
		touched[id] = cart.Evolve(s, payload)
		last = e.Position
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pos != from {
		return fmt.Errorf("cart projection: applied concurrently from %d and %d", from, m.pos)
	}
	for id, s := range touched {
		m.carts[id] = s
	}
	m.pos = last
	return nil
}

// Cart implements CartReader.
func (m *MemoryCarts) Cart(_ context.Context, cartID string) (cart.State, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.carts[cartID], nil
}

// CartID names the cart (its customer) a cart event is about.
func CartID(e eventstore.Event) string { return strings.TrimPrefix(e.StreamID, cart.StreamPrefix) }

// CartLine and CartView are the cart resource of the API.
type CartLine struct {
	ProductID string      `json:"product_id"`
	SKU       string      `json:"sku"`
	Name      string      `json:"name"`
	Quantity  int64       `json:"quantity"`
	UnitPrice money.Money `json:"unit_price"`
	LineTotal money.Money `json:"line_total"`
	// Available is set by the summary only: units that can be bought now.
	Available *int64 `json:"available,omitempty"`
}

// CartView is the cart as shoppers see it.
type CartView struct {
	Items     []CartLine  `json:"items"`
	ItemCount int64       `json:"item_count"`
	Subtotal  money.Money `json:"subtotal"`
	Total     money.Money `json:"total"`
	// AllAvailable is set by the summary only.
	AllAvailable *bool `json:"all_available,omitempty"`
}

// RenderCart turns a cart into its view, lines in the order they were
// added, with each product's sku and name from product; with summary set
// it adds each line's availability.
func RenderCart(s cart.State, product func(id string) (Product, bool, error), summary bool) (CartView, error) {
	ids := make([]string, 0, len(s.Lines))
	for id := range s.Lines {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := s.Lines[ids[i]], s.Lines[ids[j]]
		if !a.AddedAt.Equal(b.AddedAt) {
			return a.AddedAt.Before(b.AddedAt)
		}
		return ids[i] < ids[j]
	})
	cur := s.Currency()
	if cur == "" {
		cur = "EUR"
	}
	v := CartView{Items: []CartLine{}, Subtotal: money.Money{Currency: cur}}
	all := true
	for _, id := range ids {
		l := s.Lines[id]
		total, err := l.UnitPrice.Mul(l.Quantity)
		if err != nil {
			return CartView{}, err
		}
		line := CartLine{ProductID: id, Quantity: l.Quantity, UnitPrice: l.UnitPrice, LineTotal: total}
		p, ok, err := product(id)
		if err != nil {
			return CartView{}, err
		}
		if ok {
			line.SKU, line.Name = p.SKU, p.Name
		}
		if summary {
			avail := p.Available
			line.Available = &avail
			all = all && ok && avail >= l.Quantity
		}
		v.Items = append(v.Items, line)
		v.ItemCount += l.Quantity
		if v.Subtotal, err = v.Subtotal.Add(total); err != nil {
			return CartView{}, err
		}
	}
	v.Total = v.Subtotal
	if summary {
		v.AllAvailable = &all
	}
	return v, nil
}

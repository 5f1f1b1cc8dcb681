package projections

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/commerce-engine/commerce/domain/cart"
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

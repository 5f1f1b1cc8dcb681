package projections

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/domain/order"
	"github.com/commerce-engine/commerce/eventstore"
)

// OrderFilter is the only stream prefix the orders projection reads.
var OrderFilter = eventstore.Filter{StreamPrefix: "order-"}

// Order is the order resource of the API: detail and history entries.
type Order struct {
	ID             string       `json:"id"`
	UserID         string       `json:"user_id"`
	Status         string       `json:"status"`
	Lines          []order.Line `json:"lines"`
	Total          money.Money  `json:"total"`
	PaymentID      string       `json:"payment_id"`
	Carrier        *string      `json:"carrier"`
	TrackingNumber *string      `json:"tracking_number"`
	CreatedAt      time.Time    `json:"created_at"`
	UpdatedAt      time.Time    `json:"updated_at"`
	// Placed orders newest first in a customer's history.
	Placed eventstore.Position `json:"-"`
}

// MemoryOrders holds every order and each customer's history in memory
// (the embedded default).
type MemoryOrders struct {
	Codec *eventstore.Codec

	mu     sync.RWMutex
	pos    eventstore.Position
	orders map[string]Order
	byUser map[string][]string
}

// NewMemoryOrders returns an empty orders model decoding with codec.
func NewMemoryOrders(codec *eventstore.Codec) *MemoryOrders {
	return &MemoryOrders{Codec: codec, orders: map[string]Order{}, byUser: map[string][]string{}}
}

// Checkpoint implements Target.
func (m *MemoryOrders) Checkpoint(context.Context) (eventstore.Position, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.pos, nil
}

// Position is the last position applied, for X-Min-Position waits.
func (m *MemoryOrders) Position() eventstore.Position {
	pos, _ := m.Checkpoint(context.Background())
	return pos
}

// Apply implements Target: touched orders are copies swapped in with the
// checkpoint.
func (m *MemoryOrders) Apply(_ context.Context, evs []eventstore.Event) error {
	m.mu.RLock()
	from := m.pos
	m.mu.RUnlock()
	touched := map[string]Order{}
	var newOrders []Order
	last := from
	for _, e := range evs {
		if e.Position <= from {
			continue
		}
		payload, err := m.Codec.Decode(e)
		if err != nil {
			return fmt.Errorf("orders projection at %d: %w", e.Position, err)
		}
		id := strings.TrimPrefix(e.StreamID, "order-")
		if p, ok := payload.(order.Placed); ok {
			o := Order{ID: id, UserID: p.CustomerID, Status: order.StatusPlaced.String(), Lines: p.Lines, Total: p.Total,
				PaymentID: p.PaymentID, CreatedAt: p.At.UTC(), UpdatedAt: p.At.UTC(), Placed: e.Position}
			touched[id] = o
			newOrders = append(newOrders, o)
			last = e.Position
			continue
		}
		o, ok := touched[id]
		if !ok {
			if o, ok = m.Get(id); !ok {
				return fmt.Errorf("orders projection at %d (%s): order never placed", e.Position, e.Type)
			}
		}
		switch ev := payload.(type) {
		case order.Processing:
			o.Status, o.UpdatedAt = order.StatusProcessing.String(), ev.At.UTC()
		case order.Shipped:
			carrier, tracking := ev.Carrier, ev.TrackingNumber
			o.Status, o.Carrier, o.TrackingNumber, o.UpdatedAt = order.StatusShipped.String(), &carrier, &tracking, ev.At.UTC()
		case order.Delivered:
			o.Status, o.UpdatedAt = order.StatusDelivered.String(), ev.At.UTC()
		case order.Cancelled:
			o.Status, o.UpdatedAt = order.StatusCancelled.String(), ev.At.UTC()
		case order.Refunded:
			o.Status, o.UpdatedAt = order.StatusRefunded.String(), ev.At.UTC()
		}
		touched[id] = o
		last = e.Position
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pos != from {
		return fmt.Errorf("orders projection: applied concurrently from %d and %d", from, m.pos)
	}
	for id, o := range touched {
		m.orders[id] = o
	}
	for _, o := range newOrders {
		m.byUser[o.UserID] = append(m.byUser[o.UserID], o.ID)
	}
	m.pos = last
	return nil
}

// Get returns one order.
func (m *MemoryOrders) Get(id string) (Order, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	o, ok := m.orders[id]
	return o, ok
}

// ForUser returns a customer's orders, newest first.
func (m *MemoryOrders) ForUser(userID string) []Order {
	m.mu.RLock()
	out := make([]Order, 0, len(m.byUser[userID]))
	for _, id := range m.byUser[userID] {
		out = append(out, m.orders[id])
	}
	m.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Placed > out[j].Placed })
	return out
}

package projections

import (
	"context"
	"errors"
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
var OrderFilter = eventstore.Filter{StreamPrefix: order.StreamPrefix}

// Order is one order of the orders read model: detail and history
// entries. It is a record, not an API shape (httpapi.Order is); Placed is
// bookkeeping that in-process comparisons of read models leave out.
type Order struct {
	ID             string
	UserID         string
	Status         string
	Lines          []order.Line
	Total          money.Money
	PaymentID      string
	Carrier        *string
	TrackingNumber *string
	CreatedAt      time.Time
	UpdatedAt      time.Time
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

// Position implements Positioned: the last position applied.
func (m *MemoryOrders) Position(ctx context.Context) (eventstore.Position, error) {
	return m.Checkpoint(ctx)
}

// Apply implements Target: touched orders are copies swapped in with the
// checkpoint.
func (m *MemoryOrders) Apply(ctx context.Context, evs []eventstore.Event) error {
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
		id := OrderID(e)
		o, ok := touched[id]
		if !ok {
			o, ok, _ = m.Order(ctx, id)
		}
		o, placed, err := FoldOrder(m.Codec, o, ok, e)
		if err != nil {
			return err
		}
		if placed {
			newOrders = append(newOrders, o)
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

// Order implements OrderReader.
func (m *MemoryOrders) Order(_ context.Context, id string) (Order, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	o, ok := m.orders[id]
	return o, ok, nil
}

// OrdersOf implements OrderReader.
func (m *MemoryOrders) OrdersOf(_ context.Context, userID string) ([]Order, error) {
	m.mu.RLock()
	out := make([]Order, 0, len(m.byUser[userID]))
	for _, id := range m.byUser[userID] {
		out = append(out, m.orders[id])
	}
	m.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Placed > out[j].Placed })
	return out, nil
}

// OrderID names the order an order event is about.
func OrderID(e eventstore.Event) string { return strings.TrimPrefix(e.StreamID, order.StreamPrefix) }

// ErrUnknownOrder means an order event names an order the model never saw
// placed: the log and the model disagree, and the projection stops.
var ErrUnknownOrder = errors.New("order event for an order never placed")

// FoldOrder is the orders projection's logic, written once for every
// store: it returns the order e leaves behind given the order as the model
// holds it (exists false: none yet), and whether e placed it.
func FoldOrder(codec *eventstore.Codec, o Order, exists bool, e eventstore.Event) (Order, bool, error) {
	payload, err := codec.Decode(e)
	if err != nil {
		return Order{}, false, fmt.Errorf("orders projection at %d: %w", e.Position, err)
	}
	if p, ok := payload.(order.Placed); ok {
		return Order{ID: OrderID(e), UserID: p.CustomerID, Status: order.StatusPlaced.String(), Lines: p.Lines, Total: p.Total,
			PaymentID: p.PaymentID, CreatedAt: p.At.UTC().Truncate(time.Microsecond), UpdatedAt: p.At.UTC().Truncate(time.Microsecond), Placed: e.Position}, true, nil
	}
	if !exists {
		return Order{}, false, fmt.Errorf("orders projection at %d (%s): %w", e.Position, e.Type, ErrUnknownOrder)
	}
	switch ev := payload.(type) {
	case order.Processing:
		o.Status, o.UpdatedAt = order.StatusProcessing.String(), ev.At.UTC().Truncate(time.Microsecond)
	case order.Shipped:
		carrier, tracking := ev.Carrier, ev.TrackingNumber
		o.Status, o.Carrier, o.TrackingNumber, o.UpdatedAt = order.StatusShipped.String(), &carrier, &tracking, ev.At.UTC().Truncate(time.Microsecond)
	case order.Delivered:
		o.Status, o.UpdatedAt = order.StatusDelivered.String(), ev.At.UTC().Truncate(time.Microsecond)
	case order.Cancelled:
		o.Status, o.UpdatedAt = order.StatusCancelled.String(), ev.At.UTC().Truncate(time.Microsecond)
	case order.Refunded:
		o.Status, o.UpdatedAt = order.StatusRefunded.String(), ev.At.UTC().Truncate(time.Microsecond)
	}
	return o, false, nil
}

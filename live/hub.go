// Package live pushes a shopper's order status changes to their open
// connections (GET /api/v1/orders/live, as text/event-stream).
//
// Every API process runs Consumer as a broadcast consumer of the order
// events (messaging.Consumer{Broadcast: true}), so whichever process holds a
// shopper's connection sees their updates; the Hub of that process fans them
// out. Delivery is best effort: an update published while a shopper is not
// connected, or dropped for a slow client, is not sent again; clients read
// the order itself for the current status.
package live

import (
	"sync"
	"sync/atomic"
	"time"
)

// Update is one order status change as the live endpoint sends it.
type Update struct {
	OrderID    string    `json:"order_id"`
	Status     string    `json:"status"`
	At         time.Time `json:"at"`
	CustomerID string    `json:"-"`
}

// DefaultBuffer is the per-subscriber buffer NewHub uses for a size <= 0.
const DefaultBuffer = 64

// Hub fans updates out to the connected shoppers of this process; it is
// safe for concurrent use and Publish never blocks on a subscriber.
type Hub struct {
	buffer  int
	dropped atomic.Int64

	mu     sync.Mutex
	subs   map[string]map[*subscriber]struct{} // by customer id
	closed bool
}

type subscriber struct{ ch chan Update }

// NewHub returns a hub whose subscribers each buffer up to buffer updates
// (DefaultBuffer for buffer <= 0). A subscriber whose buffer is full loses
// its oldest buffered update to make room for the new one, since the newest
// status is the one the shopper needs; each loss is counted in Dropped.
func NewHub(buffer int) *Hub {
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	return &Hub{buffer: buffer, subs: map[string]map[*subscriber]struct{}{}}
}

// Subscribe returns the updates of customerID's orders from now on, and a
// cancel func (idempotent) that removes the subscription and closes the
// channel. After Close the channel is returned already closed.
func (h *Hub) Subscribe(customerID string) (updates <-chan Update, cancel func()) {
	s := &subscriber{ch: make(chan Update, h.buffer)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(s.ch)
		return s.ch, func() {}
	}
	set := h.subs[customerID]
	if set == nil {
		set = map[*subscriber]struct{}{}
		h.subs[customerID] = set
	}
	set[s] = struct{}{}
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			set := h.subs[customerID]
			if _, ok := set[s]; !ok {
				return // closed by Close already
			}
			delete(set, s)
			if len(set) == 0 {
				delete(h.subs, customerID)
			}
			close(s.ch)
		})
	}
}

// Publish sends u to the subscribers of u.CustomerID only; it never waits
// for a reader (see NewHub for what a full buffer loses).
func (h *Hub) Publish(u Update) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs[u.CustomerID] {
		select {
		case s.ch <- u:
			continue
		default:
		}
		// Full: only this goroutine sends (h.mu is held) and the reader
		// only takes, so after taking the oldest there is room.
		select {
		case <-s.ch:
			h.dropped.Add(1)
		default:
		}
		select {
		case s.ch <- u:
		default:
			h.dropped.Add(1)
		}
	}
}

// Dropped returns how many updates were lost for slow clients: a metric,
// and how tests see that a slow client did not block anyone.
func (h *Hub) Dropped() int64 { return h.dropped.Load() }

// Close ends every subscription (their channels close, so live handlers
// return) and makes later ones start closed: call it when the server stops,
// since streaming requests would otherwise hold graceful shutdown until its
// timeout.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for _, set := range h.subs {
		for s := range set {
			close(s.ch)
		}
	}
	h.subs = map[string]map[*subscriber]struct{}{}
}

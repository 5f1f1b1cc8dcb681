package saga

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/commerce-engine/commerce/domain/checkout"
	"github.com/commerce-engine/commerce/eventstore"
)

// Timeouts fires the saga's durable timeouts: every open checkout is
// abandoned at its expiry, which releases its stock and cancels its payment
// intent (so a payment that stays pending ends too). The schedule is not
// kept anywhere but the log: Timeouts folds the checkout streams of $all
// from the start, so it survives any restart, and several saga processes
// may run it at once (the checkout stream decides each expiry once).
type Timeouts struct {
	Saga  *Saga
	Store eventstore.Store
	// Tick is how often due checkouts are looked for (1 s when zero).
	Tick time.Duration

	mu   sync.Mutex
	open map[string]time.Time
}

// Run follows the checkout streams and expires due checkouts until ctx is
// done. It reads the new checkout events once per tick rather than on every
// append: expiries are minutes away, and a busy shop appends hundreds of
// times a second.
func (t *Timeouts) Run(ctx context.Context) error {
	if t.Tick <= 0 {
		t.Tick = time.Second
	}
	t.mu.Lock()
	t.open = map[string]time.Time{}
	t.mu.Unlock()
	var after eventstore.Position
	tick := time.NewTicker(t.Tick)
	defer tick.Stop()
	for {
		next, err := t.follow(ctx, after)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			// The store is away for a moment: keep the schedule and read
			// from where it stopped on the next tick.
			t.Saga.log.WarnContext(ctx, "checkout timeouts: reading the checkouts failed; retrying on the next tick", "error", err)
		default:
			after = next
		}
		t.fire(ctx)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// follow folds the checkout events after `after` into the schedule and
// returns how far the log was read (see eventstore.ReadPast).
func (t *Timeouts) follow(ctx context.Context, after eventstore.Position) (eventstore.Position, error) {
	for {
		evs, through, err := eventstore.ReadPast(ctx, t.Store, eventstore.ReadAllOptions{After: after, Filter: eventstore.Filter{StreamPrefix: checkout.StreamPrefix}, Limit: eventstore.MaxReadLimit})
		if err != nil {
			return after, err
		}
		for _, e := range evs {
			t.apply(e)
		}
		after = through
		if len(evs) < eventstore.MaxReadLimit {
			return after, nil
		}
	}
}

// Pending returns how many checkouts wait for their timeout, for metrics and
// tests.
func (t *Timeouts) Pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.open)
}

// apply folds one checkout event into the schedule. Before the fold has
// caught up a checkout may be expired that a later event already ended: the
// checkout stream makes that a no-op.
func (t *Timeouts) apply(e eventstore.Event) {
	p, err := t.Saga.run.Codec.Decode(e)
	if err != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch ev := p.(type) {
	case checkout.Started:
		t.open[ev.CheckoutID] = ev.ExpiresAt
	case checkout.Paid, checkout.Abandoned:
		delete(t.open, checkoutIDOf(ev))
	}
}

func checkoutIDOf(e any) string {
	switch ev := e.(type) {
	case checkout.Paid:
		return ev.CheckoutID
	case checkout.Abandoned:
		return ev.CheckoutID
	}
	return ""
}

// fire expires every checkout whose expiry passed; a failure is retried on
// the next tick.
func (t *Timeouts) fire(ctx context.Context) {
	now := t.Saga.now()
	var due []string
	t.mu.Lock()
	for id, at := range t.open {
		if !now.Before(at) {
			due = append(due, id)
		}
	}
	t.mu.Unlock()
	for _, id := range due {
		err := t.Saga.Expire(ctx, id)
		switch {
		case err == nil:
			// The abandonment (or the payment that won the race) reaches
			// apply on the next tick and unschedules it.
		case errors.Is(err, context.Canceled):
			return
		default:
			t.Saga.log.WarnContext(ctx, "checkout timeout failed; retrying on the next tick", "checkout_id", id, "error", err)
		}
	}
}

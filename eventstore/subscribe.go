package eventstore

import (
	"context"
	"sync"
	"time"
)

// Notifier wakes every waiting subscriber when something was appended. It is
// a broadcast without a queue: a waiter takes the channel before it reads and
// waits on it after, so a notification between the two is never lost.
type Notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

// NewNotifier returns a Notifier ready for use.
func NewNotifier() *Notifier { return &Notifier{ch: make(chan struct{})} }

// Wait returns a channel that is closed by the next Notify.
func (n *Notifier) Wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ch
}

// Notify wakes every current waiter.
func (n *Notifier) Notify() {
	n.mu.Lock()
	close(n.ch)
	n.ch = make(chan struct{})
	n.mu.Unlock()
}

// AllReader is what a catch-up subscription needs from an adapter.
type AllReader interface {
	ReadAll(ctx context.Context, opts ReadAllOptions) ([]Event, error)
}

// headReader is what an AllReader also has when it can say where $all ends.
type headReader interface {
	Head(ctx context.Context) (Position, error)
}

// ReadPast reads the batch of $all that opts selects and says how far the
// log was read: to the batch's last event, or, when the batch came back
// short of opts.Limit on a filtered read, to the head taken before the read
// (every match up to there was in the batch). Reading on from there, not
// from the last match, spares filtered readers rescanning on every poll all
// that their filter skips. Readers without a Head go to the last event.
func ReadPast(ctx context.Context, r AllReader, opts ReadAllOptions) ([]Event, Position, error) {
	var head Position
	if h, ok := r.(headReader); ok && (len(opts.Filter.Types) > 0 || opts.Filter.StreamPrefix != "") {
		var err error
		if head, err = h.Head(ctx); err != nil {
			return nil, opts.After, err
		}
	}
	events, err := r.ReadAll(ctx, opts)
	if err != nil {
		return nil, opts.After, err
	}
	through := opts.After
	if len(events) > 0 {
		through = events[len(events)-1].Position
	}
	limit := opts.Limit
	if limit <= 0 {
		limit = DefaultReadLimit
	}
	if len(events) < limit {
		through = max(through, head)
	}
	return events, through, nil
}

// PollInterval bounds how long a catch-up subscription sleeps between reads:
// MinPoll right after a wake-up that found nothing yet (a concurrent commit
// may still be landing), doubling up to MaxPoll when nothing happens, which is
// also how appends from other processes are noticed without a notification.
type PollInterval struct {
	Min, Max time.Duration
	// Gather is the least time between the starts of two reads, unless the
	// first came back full: wake-ups closer together than that (a busy
	// store sends one per append) are gathered into one read.
	Gather time.Duration
}

// CatchUp implements Store.Subscribe on top of ReadAll: it reads batches
// until it is caught up, then waits for wake (nil: polling only) or the poll
// interval, and reads again. Correctness rests on ReadAll returning only
// stable prefixes of $all; CatchUp adds no ordering logic of its own.
func CatchUp(ctx context.Context, r AllReader, wake *Notifier, poll PollInterval, opts SubscribeOptions, fn func(Event) error) error {
	limit, err := ValidateLimit(opts.BatchSize)
	if err != nil {
		return err
	}
	if poll.Min <= 0 {
		poll.Min = time.Millisecond
	}
	if poll.Max < poll.Min {
		poll.Max = poll.Min
	}
	after := opts.After
	delay := poll.Min
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var readAt time.Time
	full := false
	for {
		if d := poll.Gather - time.Since(readAt); d > 0 && !full {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-timer.C:
			}
		}
		var woken <-chan struct{}
		if wake != nil {
			woken = wake.Wait()
		}
		readAt = time.Now()
		events, through, err := ReadPast(ctx, r, ReadAllOptions{After: after, Filter: opts.Filter, Limit: limit})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		for _, e := range events {
			if err := fn(e); err != nil {
				return err
			}
		}
		after = through
		full = len(events) == limit
		if len(events) > 0 {
			delay = poll.Min
			if full {
				continue
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		timer.Reset(delay)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-woken:
			delay = poll.Min
		case <-timer.C:
			delay = min(delay*2, poll.Max)
		}
		timer.Stop() // since Go 1.23 a stopped timer never delivers a stale tick
	}
}

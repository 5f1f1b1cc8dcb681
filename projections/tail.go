package projections

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/commerce-engine/commerce/eventstore"
)

// tail keeps the newest events of $all in memory for the projections of one
// Runner. Projections that follow the head read it instead of the store, so
// a process with five projections polls the store once per interval, not
// five times, and every projection wakes on the same refresh. A projection
// behind the window (catching up, or stuck on a failing event) reads the
// store directly.
type tail struct {
	store eventstore.Store
	fresh time.Duration // how old the window may be when a reader asks
	keep  int           // events kept at least; older ones leave the window

	wake *eventstore.Notifier // notified when a refresh found new events

	mu      sync.Mutex
	ready   bool
	evs     []eventstore.Event
	from    eventstore.Position // every event after from up to end is in evs
	end     eventstore.Position // how far the store has been read
	at      time.Time           // when the window was last refreshed
	loading chan struct{}       // closed when the refresh under way ends

	// waiting, when set (by tests), is called as a reader starts to wait
	// for the refresh under way.
	waiting func()
}

// tailPages bounds how many store reads one refresh makes, so a burst
// larger than the window is left to the readers' own store reads.
const tailPages = 4

func newTail(store eventstore.Store, fresh time.Duration, keep int) *tail {
	return &tail{store: store, fresh: fresh, keep: keep, wake: eventstore.NewNotifier()}
}

// read returns the events after `after` that match filter, at most limit of
// them, and the head the window was read to, as the store's Head would: an
// answer of fewer than limit events holds every match up to it. ok is false
// when the window does not reach back to after: the caller reads the store
// instead.
func (t *tail) read(ctx context.Context, after eventstore.Position, filter eventstore.Filter, limit int) (evs []eventstore.Event, head eventstore.Position, ok bool, err error) {
	if err := t.refresh(ctx); err != nil {
		return nil, 0, false, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if after < t.from {
		return nil, 0, false, nil
	}
	i := sort.Search(len(t.evs), func(i int) bool { return t.evs[i].Position > after })
	for ; i < len(t.evs) && len(evs) < limit; i++ {
		if filter.Match(t.evs[i]) {
			evs = append(evs, t.evs[i])
		}
	}
	return evs, max(t.end, after), true, nil
}

// refresh reads what the store appended since the last refresh when the
// window is older than t.fresh. Concurrent callers share one refresh.
func (t *tail) refresh(ctx context.Context) error {
	for {
		t.mu.Lock()
		if t.ready && time.Since(t.at) < t.fresh {
			t.mu.Unlock()
			return nil
		}
		if wait := t.loading; wait != nil {
			seen := t.at
			t.mu.Unlock()
			if t.waiting != nil {
				t.waiting()
			}
			select {
			case <-wait:
			case <-ctx.Done():
				return ctx.Err()
			}
			t.mu.Lock()
			refreshed := t.at.After(seen)
			t.mu.Unlock()
			if refreshed {
				return nil // the refresh waited for is as fresh as it gets
			}
			continue // it failed: try again
		}
		done := make(chan struct{})
		t.loading = done
		ready, end := t.ready, t.end
		t.mu.Unlock()

		evs, head, err := t.fetch(ctx, ready, end)

		t.mu.Lock()
		t.loading = nil
		close(done)
		if err != nil {
			t.mu.Unlock()
			return err
		}
		if !ready {
			// The window starts at the head: projections behind it
			// catch up from the store, in their own filtered reads.
			t.ready, t.from = true, head
		}
		t.evs = append(t.evs, evs...)
		if n := len(t.evs) - t.keep; n > t.keep {
			// Trimmed once per keep events, not on every refresh: the
			// window holds between keep and twice keep events.
			t.from = t.evs[n-1].Position
			kept := make([]eventstore.Event, t.keep, 2*t.keep+len(evs))
			copy(kept, t.evs[n:])
			t.evs = kept
		}
		t.end = max(t.end, head)
		t.at = time.Now()
		t.mu.Unlock()
		if len(evs) > 0 {
			t.wake.Notify()
		}
		return nil
	}
}

// fetch reads $all after end, up to tailPages pages, and returns the events
// and how far they reach (eventstore.ReadPast). Before the window is ready
// it only takes the head.
func (t *tail) fetch(ctx context.Context, ready bool, end eventstore.Position) ([]eventstore.Event, eventstore.Position, error) {
	if !ready {
		head, err := t.store.Head(ctx)
		return nil, head, err
	}
	var out []eventstore.Event
	page := min(t.keep, eventstore.MaxReadLimit)
	for range tailPages {
		evs, through, err := eventstore.ReadPast(ctx, t.store, eventstore.ReadAllOptions{After: end, Limit: page})
		if err != nil {
			return nil, 0, err
		}
		out, end = append(out, evs...), through
		if len(evs) < page {
			break
		}
	}
	return out, end, nil
}

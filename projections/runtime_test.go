package projections_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/eventstore/sqlite"
	"github.com/commerce-engine/commerce/projections"
)

// recorder is a Target that keeps the events it applied; poison makes it
// refuse events of that type.
type recorder struct {
	mu      sync.Mutex
	applied []eventstore.Event
	pos     eventstore.Position
	poison  string
}

func (r *recorder) Checkpoint(context.Context) (eventstore.Position, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pos, nil
}

func (r *recorder) Apply(_ context.Context, evs []eventstore.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var fresh []eventstore.Event
	for _, e := range evs {
		if e.Position <= r.pos {
			continue
		}
		if r.poison != "" && e.Type == r.poison {
			return fmt.Errorf("cannot apply %s", e.Type)
		}
		fresh = append(fresh, e)
	}
	if len(fresh) == 0 {
		return nil
	}
	r.applied = append(r.applied, fresh...)
	r.pos = fresh[len(fresh)-1].Position
	return nil
}

func (r *recorder) snapshot() ([]eventstore.Event, eventstore.Position) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]eventstore.Event(nil), r.applied...), r.pos
}

func (r *recorder) setPoison(t string) {
	r.mu.Lock()
	r.poison = t
	r.mu.Unlock()
}

func mustStore(t *testing.T) eventstore.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func appendN(t *testing.T, s eventstore.Store, stream, typ string, n int) {
	t.Helper()
	evs := make([]eventstore.EventData, n)
	for i := range evs {
		evs[i] = eventstore.EventData{ID: uuid.New(), Type: typ, SchemaVersion: 1, Data: []byte(`{}`)}
	}
	if _, err := s.Append(t.Context(), stream, eventstore.Any, evs...); err != nil {
		t.Fatal(err)
	}
}

// start runs p until the test ends and returns a function that waits for
// Run to return after a cancel.
func start(t *testing.T, r *projections.Runner, p projections.Projection) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, p) }()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			return errors.New("Run did not return within 30s of its context ending")
		}
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCatchUpThenLive(t *testing.T) {
	t.Parallel()
	s := mustStore(t)
	appendN(t, s, "a-1", "test.a", 1000)
	appendN(t, s, "a-2", "test.a", 200)
	target := &recorder{}
	r := &projections.Runner{Store: s, Batch: 500, Poll: 5 * time.Millisecond}
	stop := start(t, r, projections.Projection{Name: "all", Target: target})
	eventually(t, "catch-up", func() bool { evs, _ := target.snapshot(); return len(evs) == 1200 })
	appendN(t, s, "a-3", "test.a", 10)
	eventually(t, "live events", func() bool { evs, _ := target.snapshot(); return len(evs) == 1210 })
	head, _ := s.Head(t.Context())
	eventually(t, "a live status", func() bool {
		st := r.Statuses()["all"]
		return st.State == projections.StateLive && st.Position == head && st.Lag() == 0
	})
	evs, _ := target.snapshot()
	for i := 1; i < len(evs); i++ {
		if evs[i].Position <= evs[i-1].Position {
			t.Fatalf("applied out of order at %d", i)
		}
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
	if st := r.Statuses()["all"]; st.State != projections.StateStopped {
		t.Fatalf("state after stop = %s", st.State)
	}
}

func TestFailedEventStopsTheProjectionUntilItApplies(t *testing.T) {
	t.Parallel()
	s := mustStore(t)
	appendN(t, s, "b-1", "test.good", 3)
	appendN(t, s, "b-1", "test.poison", 1)
	appendN(t, s, "b-1", "test.good", 3)
	all, _ := s.ReadAll(t.Context(), eventstore.ReadAllOptions{})
	poison := all[3]
	target := &recorder{poison: "test.poison"}
	r := &projections.Runner{Store: s, Poll: 5 * time.Millisecond, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}
	start(t, r, projections.Projection{Name: "b", Target: target})
	eventually(t, "a failed status", func() bool {
		st := r.Statuses()["b"]
		return st.State == projections.StateFailed && st.Retries >= 3
	})
	st := r.Statuses()["b"]
	if st.FailedAt == nil || st.FailedAt.Position != poison.Position || st.FailedAt.Type != "test.poison" || st.Error == "" {
		t.Fatalf("failed status = %+v", st)
	}
	if evs, pos := target.snapshot(); len(evs) != 3 || pos != all[2].Position || st.Position != pos {
		t.Fatalf("applied %d events up to %d (status %d); want the 3 before the failing one", len(evs), pos, st.Position)
	}
	// Fixed (a deploy of the projection's code): it goes on from there.
	target.setPoison("")
	eventually(t, "recovery", func() bool { evs, _ := target.snapshot(); return len(evs) == 7 })
	eventually(t, "a live status", func() bool {
		st := r.Statuses()["b"]
		return st.State == projections.StateLive && st.Error == "" && st.FailedAt == nil
	})
	evs, _ := target.snapshot()
	seen := map[eventstore.Position]bool{}
	for _, e := range evs {
		if seen[e.Position] {
			t.Fatalf("event %d applied twice", e.Position)
		}
		seen[e.Position] = true
	}
}

func TestFilterAndResumeFromCheckpoint(t *testing.T) {
	t.Parallel()
	s := mustStore(t)
	appendN(t, s, "order-1", "order.placed", 2)
	appendN(t, s, "cart-1", "cart.item_added", 2)
	appendN(t, s, "order-2", "order.placed", 2)
	all, _ := s.ReadAll(t.Context(), eventstore.ReadAllOptions{})
	target := &recorder{pos: all[0].Position} // already applied the first event
	r := &projections.Runner{Store: s, Poll: 5 * time.Millisecond}
	start(t, r, projections.Projection{Name: "orders", Filter: eventstore.Filter{StreamPrefix: "order-"}, Target: target})
	eventually(t, "the order events", func() bool { evs, _ := target.snapshot(); return len(evs) == 3 })
	// One order event more: once it is applied, anything the runner would
	// apply wrongly from before it (a cart event, the first again) is too.
	appendN(t, s, "order-3", "order.placed", 1)
	eventually(t, "the last order event", func() bool { evs, _ := target.snapshot(); return len(evs) >= 4 })
	evs, _ := target.snapshot()
	if len(evs) != 4 {
		t.Fatalf("applied %d events, want 4", len(evs))
	}
	for _, e := range evs {
		if e.StreamID == "cart-1" || e.Position == all[0].Position {
			t.Fatalf("applied %s@%d", e.StreamID, e.Position)
		}
	}
}

// A filtered projection has processed the log through events its filter
// skips: a read that waits for such a position must not wait forever.
func TestThroughCountsEventsTheFilterSkips(t *testing.T) {
	t.Parallel()
	s := mustStore(t)
	appendN(t, s, "order-1", "order.placed", 1)
	appendN(t, s, "product-1", "product.created", 3)
	target := &recorder{}
	r := &projections.Runner{Store: s, Poll: 2 * time.Millisecond}
	start(t, r, projections.Projection{Name: "orders", Filter: eventstore.Filter{StreamPrefix: "order-"}, Target: target})
	head, _ := s.Head(t.Context())
	eventually(t, "the projection to pass the skipped events", func() bool { return r.Through("orders") == head })
	if _, pos := target.snapshot(); pos == head {
		t.Fatalf("the target's checkpoint moved to %d without an event to apply", pos)
	}
	if st := r.Statuses()["orders"]; st.Lag() != 0 || st.State != projections.StateLive {
		t.Fatalf("status = %+v", st)
	}
}

// afterRecorder is a store that records where each ReadAll starts.
type afterRecorder struct {
	eventstore.Store
	mu     sync.Mutex
	afters []eventstore.Position
}

func (a *afterRecorder) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) ([]eventstore.Event, error) {
	a.mu.Lock()
	a.afters = append(a.afters, opts.After)
	a.mu.Unlock()
	return a.Store.ReadAll(ctx, opts)
}

// count returns how many starts are recorded.
func (a *afterRecorder) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.afters)
}

// take returns the starts recorded so far and forgets them.
func (a *afterRecorder) take() []eventstore.Position {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.afters
	a.afters = nil
	return out
}

// TestReadsStartPastTheEventsTheFilterSkips: once a filtered read found
// nothing more up to the head, the next reads start at the head, not at the
// last event the projection applied; else every poll scans again everything
// the filter skips since then, a cost that grows with the log. This holds
// for the runner's own store reads and for the window its projections share.
func TestReadsStartPastTheEventsTheFilterSkips(t *testing.T) {
	t.Parallel()
	s := &afterRecorder{Store: mustStore(t)}
	appendN(t, s, "order-1", "order.placed", 1)
	appendN(t, s, "product-1", "product.created", 50)
	target := &recorder{}
	r := &projections.Runner{Store: s, Poll: 2 * time.Millisecond}
	start(t, r, projections.Projection{Name: "orders", Filter: eventstore.Filter{StreamPrefix: "order-"}, Target: target})
	head, _ := s.Head(t.Context())
	eventually(t, "the projection to process the log through the head", func() bool { return r.Through("orders") == head })
	if _, pos := target.snapshot(); pos >= head {
		t.Fatalf("the target's checkpoint is %d, the head %d: the test needs skipped events after it", pos, head)
	}
	s.take()
	// A batch that comes back short also moves the start to the head.
	appendN(t, s, "order-2", "order.placed", 1)
	appendN(t, s, "product-1", "product.created", 10)
	next, _ := s.Head(t.Context())
	eventually(t, "the projection to process the log through the new head", func() bool { return r.Through("orders") == next })
	if evs, _ := target.snapshot(); len(evs) != 2 {
		t.Fatalf("the target holds %d events, want both orders", len(evs))
	}
	polled := s.count()
	eventually(t, "a few more polls", func() bool { return s.count() >= polled+3 })
	for _, after := range s.take() {
		if after < head {
			t.Fatalf("a read started at %d, before the head %d the projection had reached", after, head)
		}
	}
}

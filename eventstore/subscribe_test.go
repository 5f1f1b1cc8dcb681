package eventstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/commerce-engine/commerce/eventstore"
)

// logReader is a $all of n events at positions 1..n, of which only
// position 1 is in stream "order-1"; it records where each read starts.
type logReader struct {
	mu     sync.Mutex
	n      eventstore.Position
	afters []eventstore.Position
}

func (l *logReader) ReadAll(_ context.Context, opts eventstore.ReadAllOptions) ([]eventstore.Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.afters = append(l.afters, opts.After)
	var out []eventstore.Event
	for p := opts.After + 1; p <= l.n && len(out) < opts.Limit; p++ {
		e := eventstore.Event{Position: p, StreamID: "product-1", Type: "product.updated"}
		if p == 1 {
			e.StreamID, e.Type = "order-1", "order.placed"
		}
		if opts.Filter.Match(e) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (l *logReader) Head(context.Context) (eventstore.Position, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n, nil
}

// TestFilteredCatchUpStartsPastWhatItSkipped: after a filtered read came
// back short, the next one starts at the head taken before it, instead of
// scanning again every event the filter skipped since its last match.
func TestFilteredCatchUpStartsPastWhatItSkipped(t *testing.T) {
	l := &logReader{n: 100}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	var delivered int
	go func() {
		done <- eventstore.CatchUp(ctx, l, nil, eventstore.PollInterval{Min: time.Millisecond, Max: time.Millisecond},
			eventstore.SubscribeOptions{Filter: eventstore.Filter{StreamPrefix: "order-"}, BatchSize: 10},
			func(eventstore.Event) error { delivered++; return nil })
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if delivered != 1 || len(l.afters) < 3 {
		t.Fatalf("delivered %d events in %d reads", delivered, len(l.afters))
	}
	if got := l.afters[len(l.afters)-1]; got != 100 {
		t.Fatalf("reads still start at %d, want the head 100 (reads started at %v)", got, l.afters[:3])
	}
}

// TestCatchUpGathersWakeUps: appends that wake a subscription every
// millisecond cost one read per Gather, not one per wake-up, and every event
// is still delivered once, in order; a read that came back full is followed
// at once.
func TestCatchUpGathersWakeUps(t *testing.T) {
	l := &logReader{n: 25}
	wake := eventstore.NewNotifier()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	var mu sync.Mutex
	var delivered []eventstore.Position
	var starts []time.Time
	var sizes []int
	reads := &timedReader{logReader: l, starts: &starts, sizes: &sizes, mu: &mu}
	const gather = 20 * time.Millisecond
	go func() {
		done <- eventstore.CatchUp(ctx, reads, wake, eventstore.PollInterval{Min: time.Millisecond, Max: time.Second, Gather: gather},
			eventstore.SubscribeOptions{BatchSize: 10},
			func(e eventstore.Event) error {
				mu.Lock()
				delivered = append(delivered, e.Position)
				mu.Unlock()
				return nil
			})
	}()
	for range 200 {
		time.Sleep(time.Millisecond)
		l.mu.Lock()
		l.n++
		l.mu.Unlock()
		wake.Notify()
	}
	time.Sleep(3 * gather)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(delivered) != 225 {
		t.Fatalf("delivered %d events, want 225", len(delivered))
	}
	for i, p := range delivered {
		if p != eventstore.Position(i+1) {
			t.Fatalf("delivered position %d as number %d", p, i+1)
		}
	}
	// A read that came back full (the first: 25 events in batches of 10)
	// is followed at once; other reads are Gather apart.
	if starts[1].Sub(starts[0]) >= gather {
		t.Errorf("a full read was followed after %v, want at once", starts[1].Sub(starts[0]))
	}
	for i := 1; i < len(starts); i++ {
		if d := starts[i].Sub(starts[i-1]); d < gather && sizes[i-1] < 10 {
			t.Fatalf("reads %d and %d started %v apart, less than Gather %v (%d reads for 200 wake-ups)", i-1, i, d, gather, len(starts))
		}
	}
}

// timedReader records when each read of logReader starts and how many
// events it returned.
type timedReader struct {
	*logReader
	mu     *sync.Mutex
	starts *[]time.Time
	sizes  *[]int
}

func (r *timedReader) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) ([]eventstore.Event, error) {
	at := time.Now()
	evs, err := r.logReader.ReadAll(ctx, opts)
	r.mu.Lock()
	*r.starts = append(*r.starts, at)
	*r.sizes = append(*r.sizes, len(evs))
	r.mu.Unlock()
	return evs, err
}

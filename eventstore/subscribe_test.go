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

package eventstore_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/commerce-engine/commerce/eventstore"
)

// logReader is a $all of n events at positions 1..n, of which only
// position 1 is in stream "order-1"; it records where each read starts,
// and reads, when set, hears of each read.
type logReader struct {
	mu     sync.Mutex
	n      eventstore.Position
	afters []eventstore.Position
	reads  chan<- struct{}
}

func (l *logReader) ReadAll(_ context.Context, opts eventstore.ReadAllOptions) ([]eventstore.Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.afters = append(l.afters, opts.After)
	if l.reads != nil {
		select {
		case l.reads <- struct{}{}:
		default: // the test has heard enough
		}
	}
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
	reads := make(chan struct{}, 3)
	l := &logReader{n: 100, reads: reads}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	var delivered int
	go func() {
		done <- eventstore.CatchUp(ctx, l, nil, eventstore.PollInterval{Min: time.Millisecond, Max: time.Millisecond},
			eventstore.SubscribeOptions{Filter: eventstore.Filter{StreamPrefix: "order-"}, BatchSize: 10},
			func(eventstore.Event) error { delivered++; return nil })
	}()
	for i := range cap(reads) {
		select {
		case <-reads:
		case <-time.After(time.Minute):
			t.Fatalf("%d reads in a minute, polling every millisecond", i)
		}
	}
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
		time.Sleep(time.Millisecond) // spread the wake-ups out, for Gather to gather
		l.mu.Lock()
		l.n++
		l.mu.Unlock()
		wake.Notify()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(delivered) }
	for deadline := time.Now().Add(time.Minute); count() < 225 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
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
	// Reads that follow one that came back short are Gather apart (that a
	// full one is followed at once is TestCatchUpFollowsAFullReadAtOnce).
	for i := 1; i < len(starts); i++ {
		if d := starts[i].Sub(starts[i-1]); d < gather && sizes[i-1] < 10 {
			t.Fatalf("reads %d and %d started %v apart, less than Gather %v (%d reads for 200 wake-ups)", i-1, i, d, gather, len(starts))
		}
	}
}

// TestCatchUpFollowsAFullReadAtOnce: a read that came back full is followed
// by the next at once, without waiting for Gather, a wake-up or a poll, all
// hours long here: the 25 events of batches of 10 arrive in three reads.
func TestCatchUpFollowsAFullReadAtOnce(t *testing.T) {
	l := &logReader{n: 25}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	delivered := make(chan eventstore.Position, 25)
	done := make(chan error, 1)
	go func() {
		done <- eventstore.CatchUp(ctx, l, eventstore.NewNotifier(), eventstore.PollInterval{Min: 6 * time.Hour, Max: 6 * time.Hour, Gather: 6 * time.Hour},
			eventstore.SubscribeOptions{BatchSize: 10},
			func(e eventstore.Event) error { delivered <- e.Position; return nil })
	}()
	for want := eventstore.Position(1); want <= 25; want++ {
		select {
		case p := <-delivered:
			if p != want {
				t.Fatalf("delivered position %d, want %d", p, want)
			}
		case <-time.After(time.Minute):
			t.Fatalf("position %d not delivered within a minute: a full read waited", want)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if want := []eventstore.Position{0, 10, 20}; !slices.Equal(l.afters, want) {
		t.Fatalf("reads started at %v, want %v", l.afters, want)
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

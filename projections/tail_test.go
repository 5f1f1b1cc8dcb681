package projections

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/eventstore/sqlite"
)

// tailStore counts the store reads the window makes; gate, when set, holds
// every ReadAll until it is closed, and before, when set, runs first.
type tailStore struct {
	eventstore.Store
	reads  atomic.Int64
	gate   chan struct{}
	before func()
}

func (s *tailStore) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) ([]eventstore.Event, error) {
	s.reads.Add(1)
	if s.gate != nil {
		<-s.gate
	}
	if s.before != nil {
		s.before()
	}
	return s.Store.ReadAll(ctx, opts)
}

func tailFixture(t *testing.T) (*tailStore, func(n int)) {
	t.Helper()
	es, err := sqlite.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = es.Close() })
	add := func(n int) {
		evs := make([]eventstore.EventData, n)
		for i := range evs {
			evs[i] = eventstore.EventData{ID: uuid.New(), Type: "toy.added", SchemaVersion: 1, Data: []byte(`{}`)}
		}
		if _, err := es.Append(context.Background(), "toy-"+uuid.NewString(), eventstore.NoStream, evs...); err != nil {
			t.Fatal(err)
		}
	}
	return &tailStore{Store: es}, add
}

// TestTailSharesOneRefresh: readers that ask while a refresh is under way
// wait for it instead of reading the store themselves.
func TestTailSharesOneRefresh(t *testing.T) {
	t.Parallel()
	s, add := tailFixture(t)
	tl := newTail(s, time.Nanosecond, 100)
	ctx := context.Background()
	if _, _, _, err := tl.read(ctx, 0, eventstore.Filter{}, 10); err != nil { // the window starts here
		t.Fatal(err)
	}
	start, _ := s.Head(ctx)
	add(3)
	s.gate = make(chan struct{})
	s.reads.Store(0)
	var waiting atomic.Int64
	tl.waiting = func() { waiting.Add(1) }
	var wg sync.WaitGroup
	got := make([]int, 5)
	for i := range got {
		wg.Go(func() {
			evs, _, ok, err := tl.read(ctx, start, eventstore.Filter{}, 10)
			if err != nil || !ok {
				t.Errorf("reader %d: ok %v, %v", i, ok, err)
			}
			got[i] = len(evs)
		})
	}
	// One reader refreshes (held at the gate), the four others wait for it.
	for deadline := time.Now().Add(time.Minute); s.reads.Load() == 0 || waiting.Load() < int64(len(got)-1); {
		if time.Now().After(deadline) {
			t.Fatalf("%d store reads and %d readers waiting after a minute, want 1 and %d", s.reads.Load(), waiting.Load(), len(got)-1)
		}
		time.Sleep(time.Millisecond)
	}
	close(s.gate)
	wg.Wait()
	if n := s.reads.Load(); n != 1 {
		t.Errorf("%d store reads for 5 readers of one refresh, want 1", n)
	}
	for i, n := range got {
		if n != 3 {
			t.Errorf("reader %d got %d events, want 3", i, n)
		}
	}
}

// TestTailHoldsEachEventOnce: a store read can return events appended while
// the window was refreshing; the window must not read them again.
func TestTailHoldsEachEventOnce(t *testing.T) {
	t.Parallel()
	s, add := tailFixture(t)
	tl := newTail(s, time.Nanosecond, 100)
	ctx := context.Background()
	if _, _, _, err := tl.read(ctx, 0, eventstore.Filter{}, 100); err != nil {
		t.Fatal(err)
	}
	start, _ := s.Head(ctx)
	add(2)
	var once sync.Once
	s.before = func() { once.Do(func() { add(2) }) } // lands as the refresh reads
	var all []eventstore.Event
	after := start
	for range 3 {
		evs, head, ok, err := tl.read(ctx, after, eventstore.Filter{}, 100)
		if err != nil || !ok {
			t.Fatalf("ok %v, %v", ok, err)
		}
		all = append(all, evs...)
		after = max(after, head)
		if len(evs) > 0 {
			after = max(after, evs[len(evs)-1].Position)
		}
	}
	if len(all) != 4 {
		t.Fatalf("read %d events, want the 4 appended", len(all))
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for i := 1; i < len(tl.evs); i++ {
		if tl.evs[i].Position <= tl.evs[i-1].Position {
			t.Fatalf("the window holds position %d after %d", tl.evs[i].Position, tl.evs[i-1].Position)
		}
	}
}

// TestTailSendsReadersBehindItsWindowToTheStore: the window starts at the
// head it first saw and keeps only its newest events (trimmed back to keep
// once it holds twice that); a reader behind that
// is told to read the store, and a filtered reader is answered through the
// window's head even when nothing in it matches.
func TestTailSendsReadersBehindItsWindowToTheStore(t *testing.T) {
	t.Parallel()
	s, add := tailFixture(t)
	add(4)
	tl := newTail(s, time.Nanosecond, 5)
	ctx := context.Background()
	if _, _, ok, err := tl.read(ctx, 0, eventstore.Filter{}, 10); err != nil || ok {
		t.Fatalf("before the window: ok %v, %v; want the store", ok, err)
	}
	first, _ := s.Head(ctx)
	add(3)
	evs, head, ok, err := tl.read(ctx, first, eventstore.Filter{}, 10)
	if err != nil || !ok || len(evs) != 3 {
		t.Fatalf("in the window: %d events, ok %v, %v; want 3", len(evs), ok, err)
	}
	if want, _ := s.Head(ctx); head != want {
		t.Fatalf("answered through %d, want the head %d", head, want)
	}
	// A full answer still says where the window ends, as the store's
	// Head would: how far behind the reader is.
	if evs, h, ok, err := tl.read(ctx, first, eventstore.Filter{}, 2); err != nil || !ok || len(evs) != 2 || h != head {
		t.Fatalf("a full answer: %d events through %d, ok %v, %v; want 2 through %d", len(evs), h, ok, err, head)
	}
	evs, head2, ok, err := tl.read(ctx, first, eventstore.Filter{Types: []string{"toy.other"}}, 10)
	if err != nil || !ok || len(evs) != 0 || head2 != head {
		t.Fatalf("filtered: %d events through %d, ok %v, %v; want none through %d", len(evs), head2, ok, err, head)
	}
	add(8) // 11 events in a window that keeps 5 to 10: the oldest 6 leave it
	for _, after := range []eventstore.Position{first, head} {
		if _, _, ok, err := tl.read(ctx, after, eventstore.Filter{}, 10); err != nil || ok {
			t.Fatalf("after %d, behind the trimmed window: ok %v, %v; want the store", after, ok, err)
		}
	}
	if n := len(tl.evs); n != 5 {
		t.Fatalf("the trimmed window holds %d events, want 5", n)
	}
	evs, _, ok, err = tl.read(ctx, tl.from, eventstore.Filter{}, 10)
	if err != nil || !ok || len(evs) != 5 {
		t.Fatalf("after the trim: %d events, ok %v, %v; want 5", len(evs), ok, err)
	}
}

package messaging_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/messaging"
)

// collector is a consumer that remembers every delivery.
type collector struct {
	mu         sync.Mutex
	seen       map[uuid.UUID]int
	byTopic    map[string][]eventstore.Position
	deliveries int
}

func newCollector() *collector {
	return &collector{seen: map[uuid.UUID]int{}, byTopic: map[string][]eventstore.Position{}}
}

func (c *collector) handle(_ context.Context, e eventstore.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen[e.ID]++
	t := messaging.Topic(e.StreamID)
	c.byTopic[t] = append(c.byTopic[t], e.Position)
	c.deliveries++
	return nil
}

func (c *collector) hasAll(ids []uuid.UUID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		if c.seen[id] == 0 {
			return false
		}
	}
	return true
}

func topicsOf(cats []string) []string {
	var ts []string
	for _, c := range cats {
		ts = append(ts, messaging.Topic(c+"-x"))
	}
	return ts
}

// killPublisher publishes normally until its kill-th call, which publishes
// half of its messages, cancels the relay and fails, like a crash mid-batch.
type killPublisher struct {
	message.Publisher
	kill   int64
	calls  atomic.Int64
	cancel context.CancelFunc
}

func (p *killPublisher) Publish(topic string, msgs ...*message.Message) error {
	n := p.calls.Add(1)
	switch {
	case n < p.kill:
		return p.Publisher.Publish(topic, msgs...)
	case n == p.kill:
		if err := p.Publisher.Publish(topic, msgs[:len(msgs)/2]...); err != nil {
			return err
		}
		p.cancel()
		return errors.New("killed mid-batch")
	default:
		return errors.New("killed")
	}
}

func TestRelay(t *testing.T) {
	busKinds(t, func(t *testing.T, newBus func(t *testing.T) messaging.Bus) {
		ctx := testCtx(t)
		bus := newBus(t)
		store := MustOpenStore(t)
		col := newCollector()
		router, err := messaging.NewRouter(bus, messaging.NewMemoryPoisonStore(), messaging.RouterConfig{Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		if err := router.Add(messaging.Consumer{Name: "collector", Topics: topicsOf(categories), Handle: col.handle}); err != nil {
			t.Fatal(err)
		}
		startRouter(t, router)
		cps := messaging.NewFileCheckpoints(t.TempDir())
		newRelay := func(p message.Publisher, batch int) *messaging.Relay {
			return &messaging.Relay{Name: "relay", Store: store, Publisher: p, Checkpoints: cps, BatchSize: batch, Logger: testLogger(t)}
		}
		head := func() eventstore.Position {
			h, err := store.Head(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return h
		}
		saved := func() eventstore.Position {
			p, err := cps.Load(ctx, "relay")
			if err != nil {
				t.Fatal(err)
			}
			return p
		}

		// 1. Every event arrives, in position order per topic, and the
		// checkpoint reaches the head.
		first := appendEvents(t, ctx, store, 2000, "a")
		h1 := head()
		relay := newRelay(bus.Publisher(), 300)
		stop := runRelay(ctx, relay)
		waitFor(t, "every event of the first run", func() bool { return col.hasAll(first) })
		waitFor(t, "checkpoint at the head", func() bool { return relay.Position() == h1 })
		if err := stop(); err != nil {
			t.Fatalf("relay.Run: %v", err)
		}
		if got := saved(); got != h1 {
			t.Fatalf("saved checkpoint %d, want head %d", got, h1)
		}
		col.mu.Lock()
		if col.deliveries != len(first) {
			t.Errorf("%d deliveries for %d events", col.deliveries, len(first))
		}
		for topic, ps := range col.byTopic {
			for i := 1; i < len(ps); i++ {
				if ps[i] <= ps[i-1] {
					t.Fatalf("topic %s: position %d delivered after %d", topic, ps[i], ps[i-1])
				}
			}
		}
		if len(col.byTopic) != len(categories) {
			t.Errorf("got topics %v", col.byTopic)
		}
		col.mu.Unlock()

		// 2. A restart publishes nothing before the checkpoint again.
		second := appendEvents(t, ctx, store, 50, "b")
		h2 := head()
		relay = newRelay(bus.Publisher(), 300)
		if relay.Position() != 0 {
			t.Fatal("a relay that has not run reports a position")
		}
		stop = runRelay(ctx, relay)
		waitFor(t, "every event of the second run", func() bool { return col.hasAll(second) })
		waitFor(t, "checkpoint at the new head", func() bool { return relay.Position() == h2 })
		if err := stop(); err != nil {
			t.Fatalf("relay.Run: %v", err)
		}
		col.mu.Lock()
		if want := len(first) + len(second); col.deliveries != want {
			t.Errorf("after restart: %d deliveries, want exactly %d (nothing republished)", col.deliveries, want)
		}
		col.mu.Unlock()

		// 3. Killed mid-batch and restarted: every event still arrives.
		third := appendEvents(t, ctx, store, 1000, "c")
		h3 := head()
		kctx, kcancel := context.WithCancel(ctx)
		defer kcancel()
		kp := &killPublisher{Publisher: bus.Publisher(), kill: 10, cancel: kcancel}
		relay = newRelay(kp, 100)
		if err := relay.Run(kctx); err != nil {
			t.Fatalf("killed relay.Run: %v", err)
		}
		if got := saved(); got < h2 || got >= h3 {
			t.Fatalf("checkpoint after the kill is %d, want in [%d, %d)", got, h2, h3)
		}
		relay = newRelay(bus.Publisher(), 100)
		stop = runRelay(ctx, relay)
		waitFor(t, "every event after the kill", func() bool { return col.hasAll(third) })
		waitFor(t, "checkpoint at the head after the kill", func() bool { return relay.Position() == h3 })
		if err := stop(); err != nil {
			t.Fatalf("relay.Run: %v", err)
		}
		if !col.hasAll(first) || !col.hasAll(second) {
			t.Fatal("an earlier event went missing")
		}
	})
}

func TestRelayValidates(t *testing.T) {
	r := &messaging.Relay{Name: "x"}
	if err := r.Run(context.Background()); err == nil {
		t.Fatal("a relay without store, publisher and checkpoints ran")
	}
}

// recordingPublisher remembers the stream of every message published.
type recordingPublisher struct {
	mu      sync.Mutex
	streams []string
}

func (p *recordingPublisher) Publish(_ string, msgs ...*message.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range msgs {
		p.streams = append(p.streams, m.Metadata.Get(messaging.MetaStreamID))
	}
	return nil
}

func (p *recordingPublisher) Close() error { return nil }

func (p *recordingPublisher) published() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.streams...)
}

// TestRelaySkipsIdempotencyStreams checks that recorded HTTP answers never
// reach the bus while the checkpoint still moves past them, in a batch with
// business events and in a batch of nothing else.
func TestRelaySkipsIdempotencyStreams(t *testing.T) {
	ctx := testCtx(t)
	store := MustOpenStore(t)
	record := func(stream string) {
		t.Helper()
		if _, err := store.Append(ctx, stream, eventstore.Any, eventstore.EventData{ID: uuid.New(), Type: "test.happened", SchemaVersion: 1,
			Data: json.RawMessage(`{}`), Metadata: json.RawMessage(`{}`)}); err != nil {
			t.Fatalf("append %s: %v", stream, err)
		}
	}
	head := func() eventstore.Position {
		h, err := store.Head(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	record(eventstore.IdempotencyStreamPrefix + "k1")
	record("order-1")
	record(eventstore.IdempotencyStreamPrefix + "k2")
	pub := &recordingPublisher{}
	relay := &messaging.Relay{Name: "relay", Store: store, Publisher: pub, Checkpoints: messaging.NewFileCheckpoints(t.TempDir()), Logger: testLogger(t)}
	stop := runRelay(ctx, relay)
	defer func() { _ = stop() }() // the test is about the checkpoint, not how the relay stops
	h := head()
	waitFor(t, "checkpoint past the mixed batch", func() bool { return relay.Position() == h })
	if got := pub.published(); len(got) != 1 || got[0] != "order-1" {
		t.Fatalf("published streams %v, want only order-1", got)
	}

	record(eventstore.IdempotencyStreamPrefix + "k3")
	h = head()
	waitFor(t, "checkpoint past a batch of answers only", func() bool { return relay.Position() == h })
	record("order-2")
	h = head()
	waitFor(t, "checkpoint past the next business event", func() bool { return relay.Position() == h })
	if got := pub.published(); len(got) != 2 || got[1] != "order-2" {
		t.Fatalf("published streams %v, want order-1 then order-2", got)
	}
	if err := stop(); err != nil {
		t.Fatalf("relay.Run: %v", err)
	}
}

package messaging_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/internal/testsvc"
	"github.com/commerce-engine/commerce/messaging"
)

func fastRetries(t *testing.T) messaging.RouterConfig {
	return messaging.RouterConfig{MaxRetries: 3, InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond, Logger: testLogger(t)}
}

// publishEvent publishes one event as the relay would.
func publishEvent(t *testing.T, bus messaging.Bus, stream, typ string) eventstore.Event {
	t.Helper()
	e := eventstore.Event{ID: uuid.New(), StreamID: stream, Version: 1, Position: 7, Type: typ, SchemaVersion: 1,
		Data: json.RawMessage(`{"x":1}`), Metadata: json.RawMessage(`{"correlation_id":"corr-1"}`), RecordedAt: time.Now().UTC()}
	m, err := messaging.NewMessage(e)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Publisher().Publish(messaging.Topic(stream), m); err != nil {
		t.Fatalf("publish: %v", err)
	}
	return e
}

// counter counts the deliveries of each event id to one consumer.
type counter struct {
	mu sync.Mutex
	n  map[uuid.UUID]int
}

func (c *counter) add(id uuid.UUID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[uuid.UUID]int{}
	}
	c.n[id]++
	return c.n[id]
}

func (c *counter) get(id uuid.UUID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[id]
}

func TestRouterRetriesAFlakyHandler(t *testing.T) {
	busKinds(t, func(t *testing.T, newBus func(t *testing.T) messaging.Bus) {
		bus := newBus(t)
		poison := messaging.NewMemoryPoisonStore()
		router, err := messaging.NewRouter(bus, poison, fastRetries(t))
		if err != nil {
			t.Fatal(err)
		}
		var attempts counter
		var handled atomic.Bool
		var gotCorrelation atomic.Value
		err = router.Add(messaging.Consumer{Name: "flaky", Topics: []string{"events.cart"}, Handle: func(ctx context.Context, e eventstore.Event) error {
			if attempts.add(e.ID) <= 2 {
				return errors.New("transient")
			}
			gotCorrelation.Store(messaging.CorrelationIDFrom(ctx))
			handled.Store(true)
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		startRouter(t, router)
		e := publishEvent(t, bus, "cart-1", "cart.item_added")
		waitFor(t, "the third attempt to succeed", handled.Load)
		if n := attempts.get(e.ID); n != 3 {
			t.Errorf("%d attempts, want 3", n)
		}
		if got := gotCorrelation.Load(); got != "corr-1" {
			t.Errorf("correlation id in ctx = %v", got)
		}
		if l, _ := poison.List(context.Background(), 0); len(l) != 0 {
			t.Errorf("a message that succeeded on retry was poisoned: %+v", l)
		}
	})
}

func TestRouterPoisonsAndRedrives(t *testing.T) {
	busKinds(t, func(t *testing.T, newBus func(t *testing.T) messaging.Bus) {
		ctx := testCtx(t)
		bus := newBus(t)
		poison := messaging.NewMemoryPoisonStore()
		router, err := messaging.NewRouter(bus, poison, fastRetries(t))
		if err != nil {
			t.Fatal(err)
		}
		var fixed atomic.Bool
		var broken, bystander, skipped counter
		var brokenOK atomic.Bool
		add := func(c messaging.Consumer) {
			t.Helper()
			if err := router.Add(c); err != nil {
				t.Fatal(err)
			}
		}
		add(messaging.Consumer{Name: "broken", Topics: []string{"events.order"}, Handle: func(_ context.Context, e eventstore.Event) error {
			broken.add(e.ID)
			if !fixed.Load() {
				return errors.New("order service is confused")
			}
			brokenOK.Store(true)
			return nil
		}})
		add(messaging.Consumer{Name: "bystander", Topics: []string{"events.order"}, Handle: func(_ context.Context, e eventstore.Event) error {
			bystander.add(e.ID)
			return nil
		}})
		add(messaging.Consumer{Name: "picky", Topics: []string{"events.order"}, Types: []string{"order.shipped"}, Handle: func(_ context.Context, e eventstore.Event) error {
			skipped.add(e.ID)
			return nil
		}})
		add(messaging.Consumer{Name: "panicky", Topics: []string{"events.payment"}, Handle: func(context.Context, eventstore.Event) error {
			panic("boom")
		}})
		if err := router.Add(messaging.Consumer{Name: "broken", Topics: []string{"x"}, Handle: func(context.Context, eventstore.Event) error { return nil }}); err == nil {
			t.Error("a second consumer named broken was added")
		}
		if err := router.Add(messaging.Consumer{Name: messaging.PoisonRecorder, Topics: []string{"x"}, Handle: func(context.Context, eventstore.Event) error { return nil }}); err == nil {
			t.Error("a consumer took the poison recorder's name")
		}
		startRouter(t, router)

		e := publishEvent(t, bus, "order-1", "order.placed")
		p := publishEvent(t, bus, "payment-1", "payment.failed")
		id := e.ID.String() + "/broken"
		var pm messaging.PoisonedMessage
		waitFor(t, "the failing message in the poison store", func() bool {
			pm, err = poison.Get(ctx, id)
			return err == nil
		})
		waitFor(t, "the bystander's delivery", func() bool { return bystander.get(e.ID) == 1 })
		if pm.Consumer != "broken" || pm.Topic != "events.order" || pm.EventID != e.ID.String() ||
			pm.EventType != "order.placed" || pm.StreamID != "order-1" || pm.Position != 7 {
			t.Errorf("poisoned message = %+v", pm)
		}
		if !strings.Contains(pm.Reason, "order service is confused") {
			t.Errorf("reason %q lacks the handler's error", pm.Reason)
		}
		if n := broken.get(e.ID); n != 4 {
			t.Errorf("broken handled it %d times, want 1 + 3 retries", n)
		}
		if skipped.get(e.ID) != 0 {
			t.Error("a consumer got a type it does not want")
		}
		waitFor(t, "the panicking handler's message in the poison store", func() bool {
			pp, err := poison.Get(ctx, p.ID.String()+"/panicky")
			return err == nil && strings.Contains(pp.Reason, "boom")
		})

		if err := router.Redrive(ctx, "no-such-id"); !errors.Is(err, messaging.ErrNoSuchPoisoned) {
			t.Errorf("Redrive of an unknown id: %v", err)
		}
		// Re-driven while still broken: it fails again and is recorded again.
		if err := router.Redrive(ctx, id); err != nil {
			t.Fatalf("Redrive: %v", err)
		}
		waitFor(t, "the re-driven message to be poisoned again", func() bool {
			if broken.get(e.ID) < 8 {
				return false
			}
			again, err := poison.Get(ctx, id)
			return err == nil && again.Topic == "events.order"
		})
		fixed.Store(true)
		if err := router.Redrive(ctx, id); err != nil {
			t.Fatalf("Redrive: %v", err)
		}
		waitFor(t, "the fixed consumer to handle it", brokenOK.Load)
		if _, err := poison.Get(ctx, id); !errors.Is(err, messaging.ErrNoSuchPoisoned) {
			t.Errorf("handled message still in the poison store: %v", err)
		}
		if n := bystander.get(e.ID); n != 1 {
			t.Errorf("the bystander saw the message %d times, want 1", n)
		}
		if skipped.get(e.ID) != 0 {
			t.Error("a consumer got a type it does not want")
		}
	})
}

// TestConsumerConcurrency: on RabbitMQ a consumer with Concurrency n has n
// messages of one topic in hand at once (each delivered once); on the
// in-process channel, where every subscription gets every message, it
// stays at one and still sees each message once.
func TestConsumerConcurrency(t *testing.T) {
	busKinds(t, func(t *testing.T, newBus func(t *testing.T) messaging.Bus) {
		bus := newBus(t)
		router, err := messaging.NewRouter(bus, messaging.NewMemoryPoisonStore(), fastRetries(t))
		if err != nil {
			t.Fatal(err)
		}
		const n = 4
		var inFlight, peak atomic.Int64
		var seen counter
		release := make(chan struct{})
		err = router.Add(messaging.Consumer{Name: "wide", Topics: []string{"events.order"}, Concurrency: n,
			Handle: func(ctx context.Context, e eventstore.Event) error {
				seen.add(e.ID)
				cur := inFlight.Add(1)
				for p := peak.Load(); cur > p && !peak.CompareAndSwap(p, cur); p = peak.Load() {
				}
				select {
				case <-release:
				case <-ctx.Done(): // the router stops: the test failed
				}
				inFlight.Add(-1)
				return nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		startRouter(t, router)
		inProcess := t.Name() == "TestConsumerConcurrency/inprocess"
		if !inProcess {
			waitConsumers(t, bus, "wide.events.order", n)
		}
		var ids []uuid.UUID
		done := make(chan struct{})
		go func() {
			defer close(done)
			// The in-process channel blocks each publish until it is handled.
			for i := range n {
				ids = append(ids, publishEvent(t, bus, "order-"+strconv.Itoa(i), "order.placed").ID)
			}
		}()
		if !inProcess {
			waitFor(t, "every message in hand at once", func() bool { return peak.Load() == n })
		}
		close(release)
		<-done
		waitFor(t, "every message handled", func() bool {
			for _, id := range ids {
				if seen.get(id) != 1 {
					return false
				}
			}
			return len(ids) == n
		})
		if inProcess && peak.Load() != 1 {
			t.Errorf("in-process peak %d, want 1", peak.Load())
		}
	})
}

// waitConsumers waits until the queue whose name ends in suffix has n
// consumers: subscriptions attach asynchronously after the router runs, and
// RabbitMQ spreads messages only over the consumers it already has.
func waitConsumers(t *testing.T, bus messaging.Bus, suffix string, n int) {
	t.Helper()
	conn, err := amqp.Dial(testsvc.AMQP(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, queues := bus.Declared()
	var name string
	for _, q := range queues {
		if strings.HasSuffix(q, suffix) {
			name = q
		}
	}
	if name == "" {
		t.Fatalf("no queue ending in %s among %v", suffix, queues)
	}
	waitFor(t, fmt.Sprintf("%d consumers on %s", n, name), func() bool {
		ch, err := conn.Channel()
		if err != nil {
			return false
		}
		defer ch.Close()
		q, err := ch.QueueDeclarePassive(name, true, false, false, false, nil)
		return err == nil && q.Consumers >= n
	})
}

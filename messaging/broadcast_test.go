package messaging_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/internal/testsvc"
	"github.com/commerce-engine/commerce/messaging"
)

// twoProcesses runs fn with two buses standing for two processes: the same
// in-process bus twice (one process cannot be split), or two RabbitMQ buses
// on one prefix, as two processes of one deployment would be.
func twoProcesses(t *testing.T, fn func(t *testing.T, a, b messaging.Bus, rabbit bool)) {
	t.Run("inprocess", func(t *testing.T) {
		b := MustInProcessBus(t)
		fn(t, b, b, false)
	})
	t.Run("rabbitmq", func(t *testing.T) {
		url := testsvc.AMQP(t)
		cfg := messaging.AMQPConfig{URL: url, Prefix: testsvc.UniqueName("msgtest") + "."}
		var buses []messaging.Bus
		for range 2 {
			b, err := messaging.NewAMQP(cfg, testLogger(t))
			if err != nil {
				t.Fatalf("NewAMQP: %v", err)
			}
			buses = append(buses, b)
		}
		t.Cleanup(func() {
			var xs, qs []string
			for _, b := range buses {
				if err := b.Close(); err != nil {
					t.Errorf("close bus: %v", err)
				}
				x, q := b.Declared()
				xs, qs = append(xs, x...), append(qs, q...)
			}
			slices.Sort(xs)
			slices.Sort(qs)
			deleteNames(t, url, slices.Compact(xs), slices.Compact(qs))
		})
		fn(t, buses[0], buses[1], true)
	})
}

// deleteNames deletes the given exchanges and queues, each once.
func deleteNames(t *testing.T, url string, exchanges, queues []string) {
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Errorf("cleanup dial: %v", err)
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Errorf("cleanup channel: %v", err)
		return
	}
	for _, q := range queues {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			t.Errorf("delete queue %s: %v", q, err)
			return
		}
	}
	for _, x := range exchanges {
		if err := ch.ExchangeDelete(x, false, false); err != nil {
			t.Errorf("delete exchange %s: %v", x, err)
			return
		}
	}
}

func TestBroadcastConsumer(t *testing.T) {
	twoProcesses(t, func(t *testing.T, busA, busB messaging.Bus, rabbit bool) {
		const n = 20
		var live [2]counter
		var work counter
		var liveTotal, workTotal atomic.Int64
		var poisons []messaging.PoisonStore
		for i, bus := range []messaging.Bus{busA, busB} {
			poison := messaging.NewMemoryPoisonStore()
			poisons = append(poisons, poison)
			router, err := messaging.NewRouter(bus, poison, fastRetries(t))
			if err != nil {
				t.Fatal(err)
			}
			if err := router.Add(messaging.Consumer{Name: "live", Broadcast: true, Topics: []string{"events.order"},
				Types: []string{"order.shipped", "order.cancelled"},
				Handle: func(_ context.Context, e eventstore.Event) error {
					if e.Type == "order.cancelled" {
						return errors.New("this one always fails")
					}
					live[i].add(e.ID)
					liveTotal.Add(1)
					return nil
				}}); err != nil {
				t.Fatal(err)
			}
			if rabbit { // in-process every subscription sees every message: nothing competes
				if err := router.Add(messaging.Consumer{Name: "worker", Topics: []string{"events.order"}, Types: []string{"order.shipped"},
					Handle: func(_ context.Context, e eventstore.Event) error {
						work.add(e.ID)
						workTotal.Add(1)
						return nil
					}}); err != nil {
					t.Fatal(err)
				}
			}
			startRouter(t, router)
		}

		// Published first: the broadcast consumers drop it after their retries
		// and still handle what follows.
		publishEvent(t, busA, "order-0", "order.cancelled")
		var ids []uuid.UUID
		for range n {
			ids = append(ids, publishEvent(t, busA, "order-1", "order.shipped").ID)
		}
		waitFor(t, "both processes to see every broadcast message", func() bool { return liveTotal.Load() >= 2*n })
		if rabbit {
			waitFor(t, "the workers to share every message", func() bool { return workTotal.Load() >= n })
		}
		// One message more: once every consumer has it, a duplicate of
		// any before it has had its turn too.
		last := publishEvent(t, busA, "order-2", "order.shipped").ID
		waitFor(t, "both processes to see the last broadcast message", func() bool { return live[0].get(last) > 0 && live[1].get(last) > 0 })
		if rabbit {
			waitFor(t, "the workers to handle the last message", func() bool { return work.get(last) > 0 })
		}
		for _, id := range append(ids, last) {
			for i := range live {
				if got := live[i].get(id); got != 1 {
					t.Errorf("process %d saw broadcast %s %d times, want 1", i, id, got)
				}
			}
			if rabbit {
				if got := work.get(id); got != 1 {
					t.Errorf("durable consumer handled %s %d times across both processes, want 1 (competing)", id, got)
				}
			}
		}
		if got := liveTotal.Load(); got != 2*(n+1) {
			t.Errorf("broadcast deliveries = %d, want %d", got, 2*(n+1))
		}
		if rabbit {
			if got := workTotal.Load(); got != n+1 {
				t.Errorf("durable deliveries = %d, want %d", got, n+1)
			}
		}
		for i, p := range poisons {
			l, err := p.List(context.Background(), 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(l) != 0 {
				t.Errorf("process %d poisoned %d messages (want none from a broadcast consumer): %+v", i, len(l), l)
			}
		}
		for _, bus := range []messaging.Bus{busA, busB} {
			_, queues := bus.Declared()
			for _, q := range queues {
				if strings.Contains(q, "live.") {
					t.Errorf("broadcast queue %s recorded in Declared", q)
				}
			}
		}
	})
}

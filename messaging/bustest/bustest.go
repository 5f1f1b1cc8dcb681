// Package bustest is the conformance suite of messaging.Bus: both adapters
// (InProcessBus, AMQPBus) run it from messaging's tests, as every event
// store runs eventstore/storetest. What differs by design between them
// (competing consumers, broadcast across processes, redrive) is tested
// there over both, by the Router and Relay tests.
package bustest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/messaging"
)

// Run checks the buses newBus returns against the contract: an open bus
// pings; an event published on a topic reaches a subscriber of it intact
// and Publish returns (once acked in-process, once confirmed on RabbitMQ);
// a subscriber needs a consumer name; a closed bus refuses subscribers and
// fails Ping, and closing twice is harmless.
// newBus returns a fresh bus for each call, closed when the test ends; an
// integration adapter skips (or fails under CI) there when its service is
// missing.
func Run(t *testing.T, newBus func(t *testing.T) messaging.Bus) {
	t.Helper()
	t.Run("delivers an event intact", func(t *testing.T) {
		t.Parallel()
		bus := newBus(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := bus.Ping(ctx); err != nil {
			t.Fatalf("Ping of an open bus: %v", err)
		}
		sub, err := bus.Subscriber("bustest")
		if err != nil {
			t.Fatal(err)
		}
		topic := messaging.Topic("order-1")
		in, err := sub.Subscribe(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		e := eventstore.Event{ID: uuid.New(), StreamID: "order-1", Version: 3, Position: 42, Type: "order.placed", SchemaVersion: 2,
			Data: json.RawMessage(`{"x":1}`), Metadata: json.RawMessage(`{"correlation_id":"corr-1"}`),
			RecordedAt: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
		m, err := messaging.NewMessage(e)
		if err != nil {
			t.Fatal(err)
		}
		published := make(chan error, 1)
		go func() { published <- bus.Publisher().Publish(topic, m) }()
		select {
		case got := <-in:
			ev, err := messaging.DecodeEvent(got)
			if err != nil {
				t.Fatalf("DecodeEvent: %v", err)
			}
			if ev.ID != e.ID || ev.StreamID != e.StreamID || ev.Version != e.Version || ev.Position != e.Position ||
				ev.Type != e.Type || ev.SchemaVersion != e.SchemaVersion || string(ev.Data) != string(e.Data) ||
				!ev.RecordedAt.Equal(e.RecordedAt) || got.Metadata.Get(messaging.MetaCorrelationID) != "corr-1" {
				t.Fatalf("delivered %+v, want %+v", ev, e)
			}
			got.Ack()
		case <-ctx.Done():
			t.Fatal("the event was not delivered")
		}
		select {
		case err := <-published:
			if err != nil {
				t.Fatalf("Publish: %v", err)
			}
		case <-ctx.Done():
			t.Fatal("Publish did not return after the ack")
		}
	})
	t.Run("a subscriber needs a consumer name", func(t *testing.T) {
		t.Parallel()
		bus := newBus(t)
		if _, err := bus.Subscriber(""); err == nil {
			t.Error("Subscriber without a consumer name")
		}
		if _, err := bus.BroadcastSubscriber(""); err == nil {
			t.Error("BroadcastSubscriber without a consumer name")
		}
	})
	t.Run("a closed bus refuses subscribers", func(t *testing.T) {
		t.Parallel()
		bus := newBus(t)
		for range 2 {
			if err := bus.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
		}
		if _, err := bus.Subscriber("late"); err == nil {
			t.Error("a closed bus handed out a subscriber")
		}
		if _, err := bus.BroadcastSubscriber("late"); err == nil {
			t.Error("a closed bus handed out a broadcast subscriber")
		}
		if err := bus.Ping(context.Background()); err == nil {
			t.Error("Ping of a closed bus succeeded")
		}
	})
}

// Package poisontest is the conformance suite of messaging.PoisonStore:
// every adapter (memory, PostgreSQL) runs it from its own tests, as every
// event store runs eventstore/storetest.
package poisontest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/messaging"
)

// Run checks the PoisonStore newStore returns against the contract: Add is
// idempotent by id (the first record wins), List is newest first and
// honours its limit, Get returns every field as added, and Get and Remove
// of an unknown or removed id wrap messaging.ErrNoSuchPoisoned. newStore
// returns a fresh, empty store for each call; an integration adapter skips
// (or fails under CI) there when its service is missing.
func Run(t *testing.T, newStore func(t *testing.T) messaging.PoisonStore) {
	t.Helper()
	t.Run("add list get remove", func(t *testing.T) {
		s := newStore(t)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		base := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
		for i := range 3 {
			m := messaging.PoisonedMessage{ID: fmt.Sprintf("m%d/c", i), Consumer: "c", Topic: "events.order", Reason: "bad",
				EventID: fmt.Sprintf("e%d", i), EventType: "order.placed", StreamID: "order-1", Position: eventstore.Position(i + 1),
				At: base.Add(time.Duration(i) * time.Second), Payload: []byte(`{"i":1}`), Metadata: map[string]string{"k": "v"}}
			if err := s.Add(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		dup := messaging.PoisonedMessage{ID: "m0/c", Consumer: "c", Reason: "changed", At: base.Add(time.Hour)}
		if err := s.Add(ctx, dup); err != nil {
			t.Fatalf("idempotent Add: %v", err)
		}
		list, err := s.List(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 3 || list[0].ID != "m2/c" || list[2].ID != "m0/c" || list[2].Reason != "bad" {
			t.Fatalf("List = %+v", list)
		}
		if l, _ := s.List(ctx, 2); len(l) != 2 || l[0].ID != "m2/c" {
			t.Errorf("List(2) = %+v", l)
		}
		got, err := s.Get(ctx, "m1/c")
		if err != nil || got.Position != 2 || string(got.Payload) != `{"i":1}` || got.Metadata["k"] != "v" || !got.At.Equal(base.Add(time.Second)) {
			t.Errorf("Get = %+v, %v", got, err)
		}
		if err := s.Remove(ctx, "m1/c"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "m1/c"); !errors.Is(err, messaging.ErrNoSuchPoisoned) {
			t.Errorf("Get after Remove: %v", err)
		}
		if err := s.Remove(ctx, "m1/c"); !errors.Is(err, messaging.ErrNoSuchPoisoned) {
			t.Errorf("second Remove: %v", err)
		}
	})
}

package messaging_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/domain/cart"
	"github.com/commerce-engine/commerce/domain/catalog"
	"github.com/commerce-engine/commerce/domain/checkout"
	"github.com/commerce-engine/commerce/domain/customer"
	"github.com/commerce-engine/commerce/domain/order"
	"github.com/commerce-engine/commerce/domain/payment"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/messaging"
)

func TestTopic(t *testing.T) {
	for stream, want := range map[string]string{
		"product-42":        "events.product",
		"order-1f2e-3a":     "events.order",
		"checkout":          "events.checkout",
		"customer-email-ab": "events.customer",
	} {
		if got := messaging.Topic(stream); got != want {
			t.Errorf("Topic(%q) = %q, want %q", stream, got, want)
		}
	}
}

// TestDomainStreamsHaveTopics checks that every aggregate's stream prefix
// is one category: its streams all go to the topic named after it, and no
// two aggregates share a topic.
func TestDomainStreamsHaveTopics(t *testing.T) {
	seen := map[string]string{}
	for _, p := range []string{cart.StreamPrefix, catalog.StreamPrefix, checkout.StreamPrefix, customer.StreamPrefix, order.StreamPrefix, payment.StreamPrefix} {
		want := messaging.TopicPrefix + strings.TrimSuffix(p, "-")
		if !strings.HasSuffix(p, "-") || strings.Count(p, "-") != 1 {
			t.Errorf("stream prefix %q is not one category and a '-'", p)
		}
		if got := messaging.Topic(p + "1f2e-3a"); got != want || messaging.Topic(p) != want {
			t.Errorf("streams of %q go to %s, want %s", p, got, want)
		}
		if other, ok := seen[want]; ok {
			t.Errorf("%q and %q share topic %s", p, other, want)
		}
		seen[want] = p
	}
}

func TestMessageRoundTrip(t *testing.T) {
	recorded := time.Date(2026, 11, 26, 9, 30, 1, 123456789, time.UTC)
	cases := map[string]eventstore.Event{
		"full": {ID: uuid.New(), StreamID: "order-7", Version: 3, Position: 1234, Type: "order.placed", SchemaVersion: 2,
			Data:       json.RawMessage(`{"total":{"amount":1999,"currency":"EUR"}}`),
			Metadata:   json.RawMessage(`{"correlation_id":"c1","causation_id":"k9","actor":"u1","traceparent":"00-abc-def-01"}`),
			RecordedAt: recorded},
		"no metadata": {ID: uuid.New(), StreamID: "cart-1", Version: 1, Position: 1, Type: "cart.item_added", SchemaVersion: 1,
			Data: json.RawMessage(`{}`), RecordedAt: recorded},
		"metadata not an object": {ID: uuid.New(), StreamID: "cart-1", Version: 2, Position: 2, Type: "cart.cleared", SchemaVersion: 1,
			Data: json.RawMessage(`{}`), Metadata: json.RawMessage(`[1,2]`), RecordedAt: recorded},
	}
	for name, e := range cases {
		t.Run(name, func(t *testing.T) {
			m, err := messaging.NewMessage(e)
			if err != nil {
				t.Fatal(err)
			}
			if m.UUID != e.ID.String() || !bytes.Equal(m.Payload, e.Data) {
				t.Errorf("uuid %s payload %s", m.UUID, m.Payload)
			}
			if name == "full" {
				for k, want := range map[string]string{messaging.MetaCorrelationID: "c1", messaging.MetaCausationID: "k9",
					messaging.MetaTraceParent: "00-abc-def-01", messaging.MetaPosition: "1234", messaging.MetaEventType: "order.placed"} {
					if got := m.Metadata.Get(k); got != want {
						t.Errorf("metadata %s = %q, want %q", k, got, want)
					}
				}
			}
			got, err := messaging.DecodeEvent(m)
			if err != nil {
				t.Fatal(err)
			}
			if !got.RecordedAt.Equal(e.RecordedAt) {
				t.Errorf("RecordedAt %v, want %v", got.RecordedAt, e.RecordedAt)
			}
			got.RecordedAt = e.RecordedAt
			gj, _ := json.Marshal(got)
			ej, _ := json.Marshal(e)
			if !bytes.Equal(gj, ej) {
				t.Errorf("round trip:\n got %s\nwant %s", gj, ej)
			}
		})
	}
	if _, err := messaging.NewMessage(eventstore.Event{StreamID: "x-1"}); err == nil {
		t.Error("an event without id became a message")
	}
	m, _ := messaging.NewMessage(cases["full"])
	delete(m.Metadata, messaging.MetaPosition)
	if _, err := messaging.DecodeEvent(m); err == nil {
		t.Error("a message without position decoded")
	}
}

func TestBindingKeys(t *testing.T) {
	t.Parallel()
	types := []string{"payment.succeeded", "payment.failed", "checkout.paid", "order.cancelled"}
	for _, c := range []struct {
		topic string
		types []string
		want  []string
	}{
		{"events.payment", types, []string{"payment.succeeded", "payment.failed"}},
		{"events.order", types, []string{"order.cancelled"}},
		{"events.product", types, []string{"#"}},
		{"events.payment", nil, []string{"#"}},
		{"redrive.checkout-saga", types, []string{"#"}},
		{"poison", nil, []string{"#"}},
	} {
		if got := messaging.BindingKeys(c.topic, c.types); !slices.Equal(got, c.want) {
			t.Errorf("BindingKeys(%s) = %v, want %v", c.topic, got, c.want)
		}
	}
}

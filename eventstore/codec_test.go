package eventstore_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/commerce-engine/commerce/eventstore"
)

type itemAdded struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

type itemRemoved struct {
	SKU string `json:"sku"`
}

func newCodec() *eventstore.Codec {
	c := eventstore.NewCodec()
	eventstore.Register[itemAdded](c, "cart.item_added", 3)
	eventstore.Register[itemRemoved](c, "cart.item_removed", 1)
	// v1 had "product", v2 renamed it to "sku"; v3 added quantity (default 1).
	c.Upcast("cart.item_added", 1, func(in json.RawMessage) (json.RawMessage, error) {
		var v1 struct {
			Product string `json:"product"`
		}
		if err := json.Unmarshal(in, &v1); err != nil {
			return nil, err
		}
		return json.Marshal(map[string]string{"sku": v1.Product})
	})
	c.Upcast("cart.item_added", 2, func(in json.RawMessage) (json.RawMessage, error) {
		var v2 map[string]any
		if err := json.Unmarshal(in, &v2); err != nil {
			return nil, err
		}
		v2["quantity"] = 1
		return json.Marshal(v2)
	})
	return c
}

func TestCodecRoundTripAndUpcast(t *testing.T) {
	c := newCodec()
	typ, ver, data, err := c.Encode(itemAdded{SKU: "A", Quantity: 2})
	if err != nil || typ != "cart.item_added" || ver != 3 {
		t.Fatalf("encode = %s v%d %v", typ, ver, err)
	}
	cases := []struct {
		name string
		ev   eventstore.Event
		want any
	}{
		{"current", eventstore.Event{Type: typ, SchemaVersion: ver, Data: data}, itemAdded{"A", 2}},
		{"v2 upcast", eventstore.Event{Type: typ, SchemaVersion: 2, Data: json.RawMessage(`{"sku":"B"}`)}, itemAdded{"B", 1}},
		{"v1 upcast twice", eventstore.Event{Type: typ, SchemaVersion: 1, Data: json.RawMessage(`{"product":"C"}`)}, itemAdded{"C", 1}},
		{"other type", eventstore.Event{Type: "cart.item_removed", SchemaVersion: 1, Data: json.RawMessage(`{"sku":"D"}`)}, itemRemoved{"D"}},
	}
	for _, tc := range cases {
		got, err := c.Decode(tc.ev)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got != tc.want {
			t.Fatalf("%s: got %#v, want %#v", tc.name, got, tc.want)
		}
	}
}

func TestCodecErrors(t *testing.T) {
	c := newCodec()
	eventstore.Register[struct{ X int }](c, "test.no_upcaster", 2)
	cases := []struct {
		name string
		ev   eventstore.Event
		want error
	}{
		{"unknown type", eventstore.Event{Type: "cart.exploded", SchemaVersion: 1, Data: json.RawMessage(`{}`)}, eventstore.ErrUnknownEventType},
		{"newer than the code", eventstore.Event{Type: "cart.item_added", SchemaVersion: 4, Data: json.RawMessage(`{}`)}, eventstore.ErrSchemaVersion},
		{"schema version 0", eventstore.Event{Type: "cart.item_added", SchemaVersion: 0, Data: json.RawMessage(`{}`)}, eventstore.ErrSchemaVersion},
		{"no upcaster path", eventstore.Event{Type: "test.no_upcaster", SchemaVersion: 1, Data: json.RawMessage(`{}`)}, eventstore.ErrSchemaVersion},
		{"unknown field", eventstore.Event{Type: "cart.item_removed", SchemaVersion: 1, Data: json.RawMessage(`{"sku":"A","qty":1}`)}, eventstore.ErrDecode},
		{"wrong field type", eventstore.Event{Type: "cart.item_removed", SchemaVersion: 1, Data: json.RawMessage(`{"sku":1}`)}, eventstore.ErrDecode},
		{"not JSON", eventstore.Event{Type: "cart.item_removed", SchemaVersion: 1, Data: json.RawMessage(`{`)}, eventstore.ErrDecode},
		{"upcaster fails", eventstore.Event{Type: "cart.item_added", SchemaVersion: 1, Data: json.RawMessage(`[]`)}, eventstore.ErrDecode},
	}
	for _, tc := range cases {
		if _, err := c.Decode(tc.ev); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, _, _, err := c.Encode(struct{ Y int }{}); !errors.Is(err, eventstore.ErrUnknownEventType) {
		t.Errorf("encode of an unregistered type: %v", err)
	}
}

func TestExpectedVersionValid(t *testing.T) {
	for v, want := range map[eventstore.ExpectedVersion]bool{
		eventstore.Any: true, eventstore.NoStream: true, eventstore.StreamExists: true,
		eventstore.Exact(7): true, eventstore.ExpectedVersion(-3): false, eventstore.ExpectedVersion(-100): false,
	} {
		if v.Valid() != want {
			t.Errorf("%s.Valid() = %v, want %v", v, v.Valid(), want)
		}
	}
}

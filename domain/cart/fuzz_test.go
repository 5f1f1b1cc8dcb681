package cart_test

import (
	"encoding/json"
	"testing"

	"github.com/commerce-engine/commerce/domain/cart"
	"github.com/commerce-engine/commerce/domain/internal/decidertest"
	"github.com/commerce-engine/commerce/eventstore"
)

func codec(t testing.TB) (*eventstore.Codec, *decidertest.Recorder) {
	t.Helper()
	c := eventstore.NewCodec()
	r := &decidertest.Recorder{Next: c}
	cart.RegisterEvents(r)
	return c, r
}

func TestRegisterEvents(t *testing.T) {
	t.Parallel()
	_, r := codec(t)
	decidertest.CheckRegistry(t, r, 6)
}

// TestSeedCorpus checks that every committed valid_ seed decodes as its event.
func TestSeedCorpus(t *testing.T) {
	t.Parallel()
	c, r := codec(t)
	decidertest.CheckSeeds(t, "testdata/fuzz/FuzzDecodeEvents", r.Names, func(name string, data json.RawMessage) (any, error) {
		return c.Decode(eventstore.Event{Type: name, SchemaVersion: r.Versions[name], Data: data})
	})
}

// FuzzDecodeEvents feeds arbitrary bytes to the decoder of every cart
// event: it must never panic, and what decodes must round-trip unchanged.
func FuzzDecodeEvents(f *testing.F) {
	c, r := codec(f)
	f.Add([]byte(`{"cart_id":"c","customer_id":"u","product_id":"p","quantity":2,"unit_price":{"amount":500,"currency":"EUR"},"at":"2026-11-26T10:00:00Z"}`))
	f.Add([]byte(`{"cart_id":"c","customer_id":"u","checkout_id":"co","lines":[{"product_id":"p","quantity":2,"unit_price":{"amount":500,"currency":"EUR"},"line_total":{"amount":1000,"currency":"EUR"}}],"total":{"amount":1000,"currency":"EUR"},"at":"2026-11-26T10:00:00+02:00"}`))
	f.Add([]byte(`{"cart_id":"c","checkout_id":"co","at":"2026-11-26T10:00:00Z"}`))
	f.Add([]byte(`{"lines":null}`))
	f.Add([]byte(`{"quantity":"2"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		decidertest.RoundTrip(t, r.Names, data,
			func(name string, data json.RawMessage) (any, error) {
				return c.Decode(eventstore.Event{Type: name, SchemaVersion: r.Versions[name], Data: data})
			},
			func(p any) (string, json.RawMessage, error) {
				name, _, data, err := c.Encode(p)
				return name, data, err
			})
	})
}

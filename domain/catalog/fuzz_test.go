package catalog_test

import (
	"encoding/json"
	"testing"

	"github.com/commerce-engine/commerce/domain/catalog"
	"github.com/commerce-engine/commerce/domain/internal/decidertest"
	"github.com/commerce-engine/commerce/eventstore"
)

func codec(t testing.TB) (*eventstore.Codec, *decidertest.Recorder) {
	t.Helper()
	c := eventstore.NewCodec()
	r := &decidertest.Recorder{Next: c}
	catalog.RegisterEvents(r)
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

// FuzzDecodeEvents feeds arbitrary bytes to the decoder of every catalog
// event: it must never panic, and what decodes must round-trip unchanged.
func FuzzDecodeEvents(f *testing.F) {
	c, r := codec(f)
	f.Add([]byte(`{"product_id":"p","sku":"S","name":"N","description":"","category":"c","price":{"amount":1999,"currency":"EUR"},"image_url":"","at":"2026-11-26T10:00:00Z"}`))
	f.Add([]byte(`{"product_id":"p","reservation_id":"r","checkout_id":"c","quantity":2,"expires_at":"2026-11-26T10:15:00+01:00","at":"2026-11-26T10:00:00.123456789Z"}`))
	f.Add([]byte(`{"product_id":"p","delta":-3,"on_hand":7,"reason":"count","at":"0001-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"quantity":1e3}`))
	f.Add([]byte(`null`))
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

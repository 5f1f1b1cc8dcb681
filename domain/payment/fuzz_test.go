package payment_test

import (
	"encoding/json"
	"testing"

	"github.com/commerce-engine/commerce/domain/internal/decidertest"
	"github.com/commerce-engine/commerce/domain/payment"
	"github.com/commerce-engine/commerce/eventstore"
)

func codec(t testing.TB) (*eventstore.Codec, *decidertest.Recorder) {
	t.Helper()
	c := eventstore.NewCodec()
	r := &decidertest.Recorder{Next: c}
	payment.RegisterEvents(r)
	return c, r
}

func TestRegisterEvents(t *testing.T) {
	t.Parallel()
	_, r := codec(t)
	decidertest.CheckRegistry(t, r, 4)
}

// TestSeedCorpus checks that every committed valid_ seed decodes as its event.
func TestSeedCorpus(t *testing.T) {
	t.Parallel()
	c, r := codec(t)
	decidertest.CheckSeeds(t, "testdata/fuzz/FuzzDecodeEvents", r.Names, func(name string, data json.RawMessage) (any, error) {
		return c.Decode(eventstore.Event{Type: name, SchemaVersion: r.Versions[name], Data: data})
	})
}

// FuzzDecodeEvents feeds arbitrary bytes to the decoder of every payment
// event: it must never panic, and what decodes must round-trip unchanged.
func FuzzDecodeEvents(f *testing.F) {
	c, r := codec(f)
	f.Add([]byte(`{"payment_id":"p","checkout_id":"co","customer_id":"c","provider_id":"pi_1","amount":{"amount":5000,"currency":"EUR"},"at":"2026-11-26T10:00:00Z"}`))
	f.Add([]byte(`{"payment_id":"p","checkout_id":"co","amount":{"amount":100,"currency":"EUR"},"reason":"cancelled","at":"2026-11-26T10:00:00Z"}`))
	f.Add([]byte(`{"payment_id":"p","checkout_id":"co","reason":"card_declined","at":"2026-11-26T10:00:00Z"}`))
	f.Add([]byte(`{"amount":{"amount":1.5}}`))
	f.Add([]byte(`{"amount":{"amount":9223372036854775808}}`))
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

package customer_test

import (
	"encoding/json"
	"testing"

	"github.com/commerce-engine/commerce/domain/customer"
	"github.com/commerce-engine/commerce/domain/internal/decidertest"
	"github.com/commerce-engine/commerce/eventstore"
)

func codec(t testing.TB) (*eventstore.Codec, *decidertest.Recorder) {
	t.Helper()
	c := eventstore.NewCodec()
	r := &decidertest.Recorder{Next: c}
	customer.RegisterEvents(r)
	return c, r
}

func TestRegisterEvents(t *testing.T) {
	t.Parallel()
	_, r := codec(t)
	decidertest.CheckRegistry(t, r, 7)
}

// TestSeedCorpus checks that every committed valid_ seed decodes as its event.
func TestSeedCorpus(t *testing.T) {
	t.Parallel()
	c, r := codec(t)
	decidertest.CheckSeeds(t, "testdata/fuzz/FuzzDecodeEvents", r.Names, func(name string, data json.RawMessage) (any, error) {
		return c.Decode(eventstore.Event{Type: name, SchemaVersion: r.Versions[name], Data: data})
	})
}

// FuzzDecodeEvents feeds arbitrary bytes to the decoder of every customer
// event: it must never panic, and what decodes must round-trip unchanged.
func FuzzDecodeEvents(f *testing.F) {
	c, r := codec(f)
	f.Add([]byte(`{"customer_id":"c","email":"ann@example.com","name":"Ann","password_hash":"$argon2id$v=19$x","role":"shopper","at":"2026-11-26T10:00:00Z"}`))
	f.Add([]byte(`{"customer_id":"c","family_id":"f","previous_hash":"a","token_hash":"b","expires_at":"2026-12-26T10:00:00Z","at":"2026-11-26T10:00:00Z"}`))
	f.Add([]byte(`{"customer_id":"c","email":"ann@example.com","token_hash":"h","expires_at":"2026-11-27T10:00:00-05:00","at":"2026-11-26T10:00:00Z"}`))
	f.Add([]byte(`{"role":7}`))
	f.Add([]byte(`{"at":"not a time"}`))
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

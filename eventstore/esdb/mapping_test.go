package esdb

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/kurrent-io/KurrentDB-Client-Go/kurrentdb"

	"github.com/commerce-engine/commerce/eventstore"
)

func TestStreamStateOfEveryExpectedVersion(t *testing.T) {
	cases := []struct {
		in   eventstore.ExpectedVersion
		want kurrentdb.StreamState
	}{
		{eventstore.Any, kurrentdb.Any{}},
		{eventstore.NoStream, kurrentdb.NoStream{}},
		{eventstore.Exact(0), kurrentdb.NoStream{}},
		{eventstore.StreamExists, kurrentdb.StreamExists{}},
		{eventstore.Exact(1), kurrentdb.Revision(0)},
		{eventstore.Exact(42), kurrentdb.Revision(41)},
	}
	for _, tc := range cases {
		if got := streamState(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("streamState(%s) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
	if got := versionOf(0); got != 1 {
		t.Errorf("revision 0 is version %d, want 1", got)
	}
}

func TestPositionsKeepTheServersOrderAndResumeExactly(t *testing.T) {
	logPositions := []uint64{0, 1, 127, 4096, 1 << 40, math.MaxInt64 - 1}
	var prev eventstore.Position
	for i, lp := range logPositions {
		p, err := toPosition(kurrentdb.Position{Commit: lp, Prepare: lp})
		if err != nil {
			t.Fatalf("toPosition(%d): %v", lp, err)
		}
		if p <= 0 {
			t.Fatalf("log position %d maps to %d, which reads as 'before the first event'", lp, p)
		}
		if i > 0 && p <= prev {
			t.Fatalf("order lost: log %d -> %d after %d", lp, p, prev)
		}
		prev = p
		if back := fromPosition(p); back.Commit != lp || back.Prepare != lp {
			t.Fatalf("position %d resumes at %+v, want commit=prepare=%d", p, back, lp)
		}
	}
	if _, err := toPosition(kurrentdb.Position{Commit: 900, Prepare: 700}); !errors.Is(err, ErrLegacyPosition) {
		t.Fatalf("a legacy transaction's position gave %v, want ErrLegacyPosition", err)
	}
	if _, err := toPosition(kurrentdb.Position{Commit: math.MaxUint64, Prepare: math.MaxUint64}); err == nil {
		t.Fatalf("the client's 'no position' (max uint64) was accepted")
	}
	if !after(kurrentdb.Position{Commit: 10, Prepare: 10}, kurrentdb.Position{Commit: 9, Prepare: 20}) ||
		after(kurrentdb.Position{Commit: 9, Prepare: 20}, kurrentdb.Position{Commit: 10, Prepare: 10}) ||
		!after(kurrentdb.Position{Commit: 10, Prepare: 8}, kurrentdb.Position{Commit: 10, Prepare: 7}) {
		t.Fatalf("after does not order by commit, then prepare")
	}
}

func TestMetadataCarriesTheSchemaVersion(t *testing.T) {
	cases := []struct {
		name string
		in   json.RawMessage
		want string // what reads back; "" for none
	}{
		{"object", json.RawMessage(`{"correlation_id":"c-1","n":[1,2]}`), `{"correlation_id":"c-1","n":[1,2]}`},
		{"none", nil, ""},
		{"null", json.RawMessage(`null`), ""},
		{"empty object", json.RawMessage(`{}`), ""},
		{"array", json.RawMessage(`[1,"x"]`), `[1,"x"]`},
		{"string", json.RawMessage(`"just text"`), `"just text"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := encodeMetadata(tc.in, 7)
			if err != nil {
				t.Fatal(err)
			}
			var asObject map[string]json.RawMessage
			if err := json.Unmarshal(raw, &asObject); err != nil {
				t.Fatalf("stored metadata %s is not a JSON object (the server's tools expect one): %v", raw, err)
			}
			got, version, err := decodeMetadata(raw)
			if err != nil {
				t.Fatal(err)
			}
			if version != 7 {
				t.Fatalf("schema version %d read back as %d", 7, version)
			}
			if tc.want == "" {
				if len(got) != 0 {
					t.Fatalf("read back %s, want none", got)
				}
				return
			}
			if !jsonEqual(got, json.RawMessage(tc.want)) {
				t.Fatalf("read back %s, want %s", got, tc.want)
			}
		})
	}
	if _, err := encodeMetadata(json.RawMessage(`{"commerce_schema_version":3}`), 1); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Fatalf("metadata using the reserved key gave %v, want ErrInvalidInput", err)
	}
	// Events written by other tools: metadata kept as is, schema version 1.
	for _, foreign := range []string{`{"$correlationId":"x"}`, ``, `not json`} {
		got, version, err := decodeMetadata([]byte(foreign))
		if err != nil || version != 1 || string(got) != foreign {
			t.Fatalf("foreign metadata %q read as %q v%d, %v", foreign, got, version, err)
		}
	}
	if _, _, err := decodeMetadata([]byte(`{"commerce_schema_version":"two"}`)); err == nil {
		t.Fatalf("a malformed schema version was accepted")
	}
}

func TestRecordedEventsMapToOurs(t *testing.T) {
	id := uuid.New()
	created := time.Date(2026, 11, 26, 12, 0, 0, 123456700, time.UTC)
	meta, _ := encodeMetadata(json.RawMessage(`{"correlation_id":"c-9"}`), 2)
	rec := &kurrentdb.RecordedEvent{
		EventID: id, EventType: "cart.item_added", StreamID: "shop1:cart-7", EventNumber: 4,
		Position: kurrentdb.Position{Commit: 5000, Prepare: 5000}, CreatedDate: created,
		Data: []byte(`{"sku":"A"}`), UserMetadata: meta,
	}
	e, ok, err := fromRecorded("shop1:", rec)
	if err != nil || !ok {
		t.Fatalf("fromRecorded: ok=%v err=%v", ok, err)
	}
	want := eventstore.Event{
		ID: id, StreamID: "cart-7", Version: 5, Position: 5001, Type: "cart.item_added", SchemaVersion: 2,
		Data: json.RawMessage(`{"sku":"A"}`), Metadata: e.Metadata, RecordedAt: created.Truncate(time.Microsecond),
	}
	if !reflect.DeepEqual(e, want) || !jsonEqual(e.Metadata, json.RawMessage(`{"correlation_id":"c-9"}`)) {
		t.Fatalf("mapped to %+v (metadata %s), want %+v", e, e.Metadata, want)
	}
	for name, r := range map[string]*kurrentdb.RecordedEvent{
		"other namespace": {StreamID: "shop2:cart-7", EventType: "cart.item_added", Position: rec.Position},
		"system stream":   {StreamID: "$$shop1:cart-7", EventType: "$metadata", Position: rec.Position},
		"system type":     {StreamID: "shop1:cart-7", EventType: "$>", Position: rec.Position},
		"nil":             nil,
	} {
		if _, ok, err := fromRecorded("shop1:", r); ok || err != nil {
			t.Errorf("%s: ok=%v err=%v, want skipped", name, ok, err)
		}
	}
	legacy := *rec
	legacy.Position = kurrentdb.Position{Commit: 6000, Prepare: 5800}
	if _, _, err := fromRecorded("shop1:", &legacy); !errors.Is(err, ErrLegacyPosition) {
		t.Fatalf("legacy position: %v, want ErrLegacyPosition", err)
	}
}

func TestServerSideFilters(t *testing.T) {
	f := serverFilter("t1/", eventstore.Filter{StreamPrefix: "order-", Types: []string{"order.placed"}})
	if f.Type != kurrentdb.StreamFilterType || !reflect.DeepEqual(f.Prefixes, []string{"t1/order-"}) {
		t.Fatalf("namespace + prefix: %+v, want a stream prefix t1/order-", f)
	}
	f = serverFilter("", eventstore.Filter{Types: []string{"order.placed", "a+b"}})
	if f.Type != kurrentdb.EventFilterType {
		t.Fatalf("types: %+v, want an event type filter", f)
	}
	re := regexp.MustCompile(f.Regex)
	for typ, want := range map[string]bool{"order.placed": true, "a+b": true, "orderXplaced": false, "order.placed.v2": false, "aab": false} {
		if re.MatchString(typ) != want {
			t.Errorf("type regex %q on %q = %v, want %v", f.Regex, typ, !want, want)
		}
	}
	f = serverFilter("", eventstore.Filter{})
	re = regexp.MustCompile(f.Regex)
	if f.Type != kurrentdb.EventFilterType || re.MatchString("$metadata") || !re.MatchString("cart.item_added") {
		t.Fatalf("no filter: %+v, want system event types excluded", f)
	}
}

func TestRetriesAreRecognisedByContent(t *testing.T) {
	e := eventstore.EventData{ID: uuid.New(), Type: "t", SchemaVersion: 1, Data: json.RawMessage(`{"a":1,"b":2}`)}
	rec := eventstore.Event{ID: e.ID, Type: "t", SchemaVersion: 1, Data: json.RawMessage(`{"b":2, "a":1}`), Metadata: json.RawMessage(`{}`)}
	if !sameContent(rec, e) {
		t.Fatalf("reformatted JSON should be the same content")
	}
	// A retry may carry new metadata (a trace id): not compared, as in every adapter.
	retry := rec
	retry.Metadata = json.RawMessage(`{"traceparent":"00-abc"}`)
	if !sameContent(retry, e) {
		t.Fatalf("other metadata made a retry a conflict")
	}
	for name, change := range map[string]func(*eventstore.Event){
		"type": func(r *eventstore.Event) { r.Type = "u" },
		"data": func(r *eventstore.Event) { r.Data = json.RawMessage(`{"a":2,"b":2}`) },
		"id":   func(r *eventstore.Event) { r.ID = uuid.New() },
	} {
		r := rec
		change(&r)
		if sameContent(r, e) {
			t.Errorf("other %s counted as the same content", name)
		}
	}
}

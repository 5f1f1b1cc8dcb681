package storetest

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/eventstore"
)

func testAppendAndReadStream(t *testing.T, open Opener) {
	s := open(t)
	before := time.Now().Add(-time.Minute)
	in := []eventstore.EventData{
		NewEvent("cart.item_added", `{"sku":"A","quantity":1}`),
		NewEvent("cart.item_added", `{"sku": "B", "quantity": 2, "nested": {"z": [1, 2.5, "x"], "a": null}}`),
		NewEvent("cart.item_removed", `{"sku":"A"}`),
	}
	in[2].SchemaVersion = 3
	in[1].Metadata = nil
	res := mustAppend(t, s, "cart-1", eventstore.NoStream, in...)
	if res.NextExpectedVersion != 3 {
		t.Fatalf("next expected version = %d, want 3", res.NextExpectedVersion)
	}
	if res.FirstPosition <= 0 || res.LastPosition < res.FirstPosition {
		t.Fatalf("positions %d..%d are not a valid range", res.FirstPosition, res.LastPosition)
	}
	got := readStream(t, s, "cart-1")
	if len(got) != 3 {
		t.Fatalf("read %d events, want 3", len(got))
	}
	for i, e := range got {
		if e.ID != in[i].ID || e.Type != in[i].Type || e.SchemaVersion != in[i].SchemaVersion {
			t.Errorf("event %d = %v/%s/v%d, want %v/%s/v%d", i, e.ID, e.Type, e.SchemaVersion, in[i].ID, in[i].Type, in[i].SchemaVersion)
		}
		if e.StreamID != "cart-1" || e.Version != int64(i+1) {
			t.Errorf("event %d at %s v%d, want cart-1 v%d", i, e.StreamID, e.Version, i+1)
		}
		if !jsonEqual(t, e.Data, in[i].Data) {
			t.Errorf("event %d data = %s, want %s", i, e.Data, in[i].Data)
		}
		if i > 0 && e.Position <= got[i-1].Position {
			t.Errorf("positions not increasing: %d after %d", e.Position, got[i-1].Position)
		}
		if e.RecordedAt.Before(before) || e.RecordedAt.After(time.Now().Add(time.Minute)) || e.RecordedAt.Location() != time.UTC {
			t.Errorf("recorded at %v is not a recent UTC time", e.RecordedAt)
		}
	}
	if got[0].Position != res.FirstPosition || got[2].Position != res.LastPosition {
		t.Errorf("append reported %d..%d, read shows %d..%d", res.FirstPosition, res.LastPosition, got[0].Position, got[2].Position)
	}
	if !jsonEqual(t, got[0].Metadata, in[0].Metadata) {
		t.Errorf("metadata = %s, want %s", got[0].Metadata, in[0].Metadata)
	}
	if len(got[1].Metadata) > 0 && !json.Valid(got[1].Metadata) {
		t.Errorf("empty metadata read back as invalid JSON %q", got[1].Metadata)
	}
	// A missing stream reads as empty, not as an error.
	if evs := readStream(t, s, "cart-missing"); len(evs) != 0 {
		t.Errorf("missing stream read %d events", len(evs))
	}
	if h := head(t, s); h != res.LastPosition {
		t.Errorf("head = %d, want %d", h, res.LastPosition)
	}
}

func testExpectedVersion(t *testing.T, open Opener) {
	s := open(t)
	ev := func() eventstore.EventData { return NewEvent("test.happened", `{}`) }

	// StreamExists on a missing stream fails with actual 0.
	_, err := s.Append(ctxT(t), "s-1", eventstore.StreamExists, ev())
	wantWrongVersion(t, err, 0)
	// Exact(3) on a missing stream fails with actual 0.
	_, err = s.Append(ctxT(t), "s-1", eventstore.Exact(3), ev())
	wantWrongVersion(t, err, 0)
	if n := len(readStream(t, s, "s-1")); n != 0 {
		t.Fatalf("failed appends wrote %d events", n)
	}
	// NoStream creates it.
	mustAppend(t, s, "s-1", eventstore.NoStream, ev(), ev())
	// NoStream again fails with the actual version.
	_, err = s.Append(ctxT(t), "s-1", eventstore.NoStream, ev())
	wantWrongVersion(t, err, 2)
	// Exact(0) is the same as NoStream.
	_, err = s.Append(ctxT(t), "s-1", eventstore.Exact(0), ev())
	wantWrongVersion(t, err, 2)
	// Exact with the wrong version, lower and higher.
	_, err = s.Append(ctxT(t), "s-1", eventstore.Exact(1), ev())
	wantWrongVersion(t, err, 2)
	_, err = s.Append(ctxT(t), "s-1", eventstore.Exact(5), ev())
	wantWrongVersion(t, err, 2)
	// Exact with the right version, StreamExists and Any all succeed.
	if r := mustAppend(t, s, "s-1", eventstore.Exact(2), ev()); r.NextExpectedVersion != 3 {
		t.Fatalf("next = %d, want 3", r.NextExpectedVersion)
	}
	if r := mustAppend(t, s, "s-1", eventstore.StreamExists, ev()); r.NextExpectedVersion != 4 {
		t.Fatalf("next = %d, want 4", r.NextExpectedVersion)
	}
	if r := mustAppend(t, s, "s-1", eventstore.Any, ev()); r.NextExpectedVersion != 5 {
		t.Fatalf("next = %d, want 5", r.NextExpectedVersion)
	}
	if r := mustAppend(t, s, "s-2", eventstore.Any, ev()); r.NextExpectedVersion != 1 {
		t.Fatalf("Any on a new stream: next = %d, want 1", r.NextExpectedVersion)
	}
	evs := readStream(t, s, "s-1")
	if len(evs) != 5 {
		t.Fatalf("stream has %d events, want 5", len(evs))
	}
	for i, e := range evs {
		if e.Version != int64(i+1) {
			t.Fatalf("version %d at index %d: versions are not gap-free", e.Version, i)
		}
	}
}

func testConcurrentAppendSameVersion(t *testing.T, open Opener) {
	s := open(t)
	mustAppend(t, s, "race-1", eventstore.NoStream, NewEvent("test.happened", `{}`))
	const racers = 16
	var wg sync.WaitGroup
	errs := make([]error, racers)
	start := make(chan struct{})
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = s.Append(ctxT(t), "race-1", eventstore.Exact(1),
				NewEvent("test.raced", `{"racer":1}`), NewEvent("test.raced", `{"racer":2}`))
		}()
	}
	close(start)
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, eventstore.ErrWrongExpectedVersion):
			wantWrongVersion(t, err, 3)
		default:
			t.Errorf("racer failed with %v, want nil or a wrong expected version", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d racers won, want exactly 1", wins)
	}
	if n := len(readStream(t, s, "race-1")); n != 3 {
		t.Fatalf("stream has %d events, want 3", n)
	}
}

func testIdempotentRetry(t *testing.T, open Opener) {
	s := open(t)
	mustAppend(t, s, "other", eventstore.Any, NewEvent("test.happened", `{}`))
	evs := []eventstore.EventData{NewEvent("test.happened", `{"n":1}`), NewEvent("test.happened", `{"n":2}`)}
	first := mustAppend(t, s, "idem-1", eventstore.NoStream, evs...)
	headBefore := head(t, s)
	// The same request again, with the same (now stale) expected version,
	// and with Any: both succeed and write nothing.
	for _, exp := range []eventstore.ExpectedVersion{eventstore.NoStream, eventstore.Any, eventstore.Exact(0)} {
		again, err := s.Append(ctxT(t), "idem-1", exp, evs...)
		if err != nil {
			t.Fatalf("retry with expected %s: %v", exp, err)
		}
		if again != first {
			t.Fatalf("retry reported %+v, first append %+v", again, first)
		}
	}
	// Data re-serialised with other whitespace is the same content.
	reformatted := evs[0]
	reformatted.Data = json.RawMessage(`{ "n" : 1 }`)
	if _, err := s.Append(ctxT(t), "idem-1", eventstore.NoStream, reformatted); err != nil {
		t.Fatalf("retry of the first event alone, reformatted: %v", err)
	}
	// After more events, a retry of the first append still succeeds.
	mustAppend(t, s, "idem-1", eventstore.Exact(2), NewEvent("test.happened", `{"n":3}`))
	if _, err := s.Append(ctxT(t), "idem-1", eventstore.NoStream, evs...); err != nil {
		t.Fatalf("late retry: %v", err)
	}
	if n := len(readStream(t, s, "idem-1")); n != 3 {
		t.Fatalf("stream has %d events, want 3", n)
	}
	if got := len(readAll(t, s)); got != 4 {
		t.Fatalf("$all has %d events, want 4", got)
	}
	if h := head(t, s); h <= headBefore {
		t.Fatalf("head did not move for the one real append")
	}
}

func testIdempotencyConflict(t *testing.T, open Opener, byRetryOnly bool) {
	s := open(t)
	evs := []eventstore.EventData{NewEvent("test.happened", `{"n":1}`), NewEvent("test.happened", `{"n":2}`)}
	mustAppend(t, s, "idem-2", eventstore.NoStream, evs...)
	h := head(t, s)

	otherData := evs[0]
	otherData.Data = json.RawMessage(`{"n":99}`)
	otherType := evs[1]
	otherType.Type = "test.other"
	cases := map[string]struct {
		stream string
		events []eventstore.EventData
	}{
		"same id, other data":          {"idem-2", []eventstore.EventData{otherData}},
		"same id, other type":          {"idem-2", []eventstore.EventData{evs[0], otherType}},
		"some ids reused, some new":    {"idem-2", []eventstore.EventData{evs[0], evs[1], NewEvent("test.happened", `{"n":3}`)}},
		"new id then a reused one":     {"idem-2", []eventstore.EventData{NewEvent("test.happened", `{}`), evs[1]}},
		"ids reused in another stream": {"idem-3", evs},
		"ids out of their order":       {"idem-2", []eventstore.EventData{evs[1], evs[0]}},
	}
	for name, tc := range cases {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			if byRetryOnly && (name == "ids reused in another stream" || name == "new id then a reused one") {
				t.Skip("this store's server recognises reused ids only in a retry of an earlier append (Options.IdempotencyByRetryOnly)")
			}
			_, err := s.Append(ctxT(t), tc.stream, eventstore.Any, tc.events...)
			if !errors.Is(err, eventstore.ErrIdempotencyConflict) {
				t.Fatalf("got %v, want ErrIdempotencyConflict", err)
			}
		})
	}
	if got := head(t, s); got != h {
		t.Fatalf("rejected appends moved head from %d to %d", h, got)
	}
	if n := len(readAll(t, s)); n != 2 {
		t.Fatalf("$all has %d events after rejected appends, want 2", n)
	}
}

func testBadInput(t *testing.T, open Opener) {
	s := open(t)
	mustAppend(t, s, "good", eventstore.NoStream, NewEvent("test.happened", `{}`))
	h := head(t, s)
	ok := func() eventstore.EventData { return NewEvent("test.happened", `{}`) }
	with := func(f func(*eventstore.EventData)) eventstore.EventData { e := ok(); f(&e); return e }
	dup := ok()
	big := strings.Repeat("x", eventstore.MaxEventSize)
	cases := []struct {
		name     string
		stream   string
		expected eventstore.ExpectedVersion
		events   []eventstore.EventData
	}{
		{"empty stream id", "", eventstore.Any, []eventstore.EventData{ok()}},
		{"oversized stream id", strings.Repeat("s", eventstore.MaxStreamIDLength+1), eventstore.Any, []eventstore.EventData{ok()}},
		{"stream id with a space", "cart 1", eventstore.Any, []eventstore.EventData{ok()}},
		{"stream id with a control character", "cart-\n1", eventstore.Any, []eventstore.EventData{ok()}},
		{"negative expected version", "good", eventstore.ExpectedVersion(-5), []eventstore.EventData{ok()}},
		{"no events", "good", eventstore.Any, nil},
		{"invalid JSON data", "good", eventstore.Any, []eventstore.EventData{with(func(e *eventstore.EventData) { e.Data = json.RawMessage(`{"a":`) })}},
		{"empty data", "good", eventstore.Any, []eventstore.EventData{with(func(e *eventstore.EventData) { e.Data = nil })}},
		{"invalid JSON metadata", "good", eventstore.Any, []eventstore.EventData{with(func(e *eventstore.EventData) { e.Metadata = json.RawMessage(`nope`) })}},
		{"event over the size limit", "good", eventstore.Any, []eventstore.EventData{with(func(e *eventstore.EventData) { e.Data = json.RawMessage(`"` + big + `"`) })}},
		{"nil event id", "good", eventstore.Any, []eventstore.EventData{with(func(e *eventstore.EventData) { e.ID = uuid.Nil })}},
		{"empty type", "good", eventstore.Any, []eventstore.EventData{with(func(e *eventstore.EventData) { e.Type = "" })}},
		{"schema version 0", "good", eventstore.Any, []eventstore.EventData{with(func(e *eventstore.EventData) { e.SchemaVersion = 0 })}},
		{"same id twice in one append", "good", eventstore.Any, []eventstore.EventData{dup, dup}},
		{"one bad event among good ones", "good", eventstore.Any, []eventstore.EventData{ok(), with(func(e *eventstore.EventData) { e.Data = json.RawMessage(`{]`) })}},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			_, err := s.Append(ctxT(t), tc.stream, tc.expected, tc.events...)
			if !errors.Is(err, eventstore.ErrInvalidInput) {
				t.Fatalf("got %v, want ErrInvalidInput", err)
			}
			var ve *eventstore.ValidationError
			if !errors.As(err, &ve) || ve.Field == "" {
				t.Fatalf("error %v does not name the bad field", err)
			}
		})
	}
	for _, stream := range []string{"", strings.Repeat("s", eventstore.MaxStreamIDLength+1)} {
		if _, err := s.ReadStream(ctxT(t), stream, eventstore.ReadStreamOptions{}); !errors.Is(err, eventstore.ErrInvalidInput) {
			t.Errorf("ReadStream(%.10q...) = %v, want ErrInvalidInput", stream, err)
		}
	}
	for name, opts := range map[string]eventstore.ReadAllOptions{
		"negative limit": {Limit: -1}, "negative position": {After: -1},
	} {
		if _, err := s.ReadAll(ctxT(t), opts); !errors.Is(err, eventstore.ErrInvalidInput) {
			t.Errorf("ReadAll with a %s = %v, want ErrInvalidInput", name, err)
		}
	}
	for name, opts := range map[string]eventstore.ReadStreamOptions{
		"negative limit": {Limit: -1}, "negative version": {From: -1}, "unknown direction": {Direction: 7},
	} {
		if _, err := s.ReadStream(ctxT(t), "good", opts); !errors.Is(err, eventstore.ErrInvalidInput) {
			t.Errorf("ReadStream with a %s = %v, want ErrInvalidInput", name, err)
		}
	}
	if got := head(t, s); got != h {
		t.Fatalf("bad input moved head from %d to %d", h, got)
	}
	if n := len(readStream(t, s, "good")); n != 1 {
		t.Fatalf("bad input changed the stream: %d events", n)
	}
}

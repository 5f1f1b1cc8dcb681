package esdb_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/eventstore/esdb"
	"github.com/commerce-engine/commerce/eventstore/esdb/esdbstandin"
	"github.com/commerce-engine/commerce/eventstore/storetest"
)

// serverEnv points the suite at a real KurrentDB / EventStoreDB server.
const serverEnv = "COMMERCE_ESDB_URL"

// open returns a store on url in a namespace of its own, closed at the end.
func open(t *testing.T, url string) *esdb.Store {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	s, err := esdb.Open(esdb.Config{URL: url, Namespace: "t" + hex.EncodeToString(b[:])})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestConformanceOnAServer runs the event store conformance suite against a
// real server. None can be installed on the machine CI runs on, so without
// COMMERCE_ESDB_URL it skips, also under CI=true, and says so.
func TestConformanceOnAServer(t *testing.T) {
	url := os.Getenv(serverEnv)
	if url == "" {
		t.Skipf("SKIPPED: the conformance suite against EventStoreDB / KurrentDB needs a server and %s is not set "+
			"(none can be installed here). Run: docker compose up -d kurrentdb && make test-esdb", serverEnv)
	}
	storetest.Run(t, func(t *testing.T) eventstore.Store { return open(t, url) }, storetest.Options{IdempotencyByRetryOnly: true})
}

// TestMappingConformanceOnStandIn runs the same suite against the in-process
// stand-in. It proves the adapter's mapping (what it sends, how it reads the
// answers), not the server: the stand-in answers as the adapter's author
// understands the server to.
//
// It runs twice: the stand-in answering a recognised retry with the log
// position of its last event (current servers) and without one (older ones).
func TestMappingConformanceOnStandIn(t *testing.T) {
	for _, withoutPosition := range []bool{false, true} {
		t.Run(fmt.Sprintf("retries_without_position=%v", withoutPosition), func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) eventstore.Store {
				srv := esdbstandin.Start(t)
				if withoutPosition {
					srv.RetriesWithoutPosition()
				}
				return open(t, srv.URL())
			}, storetest.Options{IdempotencyByRetryOnly: true, GapRuns: 1, GapEventsPerWriter: 500})
		})
	}
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func event(typ, data string) eventstore.EventData {
	return eventstore.EventData{ID: uuid.New(), Type: typ, SchemaVersion: 1, Data: json.RawMessage(data)}
}

func mustOpenPlain(t *testing.T, srv *esdbstandin.Server, ns string) *esdb.Store {
	t.Helper()
	s, err := esdb.Open(esdb.Config{URL: srv.URL(), Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestMappingSendsRevisionsAndIDs checks on the wire what each expected
// version becomes and that our event ids are the server's.
func TestMappingSendsRevisionsAndIDs(t *testing.T) {
	srv := esdbstandin.Start(t)
	s := mustOpenPlain(t, srv, "shop")
	e1, e2, e3 := event("a.b", `{}`), event("a.b", `{}`), event("a.b", `{}`)
	steps := []struct {
		expected eventstore.ExpectedVersion
		events   []eventstore.EventData
		want     string
	}{
		{eventstore.NoStream, []eventstore.EventData{e1, e2}, "no_stream"},
		{eventstore.Exact(2), []eventstore.EventData{e3}, "1"},
		{eventstore.StreamExists, []eventstore.EventData{event("a.b", `{}`)}, "stream_exists"},
		{eventstore.Any, []eventstore.EventData{event("a.b", `{}`)}, "any"},
	}
	for _, st := range steps {
		srv.ResetRequests()
		if _, err := s.Append(ctxT(t), "cart-1", st.expected, st.events...); err != nil {
			t.Fatalf("append with %s: %v", st.expected, err)
		}
		var appends []esdbstandin.Request
		for _, r := range srv.Requests() {
			if r.Kind == esdbstandin.KindAppend {
				appends = append(appends, r)
			}
		}
		if len(appends) != 1 {
			t.Fatalf("append with %s sent %d appends, want 1", st.expected, len(appends))
		}
		a := appends[0]
		if a.Stream != "shop:cart-1" || a.ExpectedRevision != st.want {
			t.Fatalf("append with %s sent stream %q expected %q, want shop:cart-1 and %q", st.expected, a.Stream, a.ExpectedRevision, st.want)
		}
		var ids []string
		for _, e := range st.events {
			ids = append(ids, e.ID.String())
		}
		if !slices.Equal(a.EventIDs, ids) {
			t.Fatalf("sent ids %v, want ours %v", a.EventIDs, ids)
		}
	}
	for i, r := range srv.Records() {
		if r.Stream != "shop:cart-1" || r.Revision != uint64(i) {
			t.Fatalf("record %d is %s@%d", i, r.Stream, r.Revision)
		}
	}
}

// TestMappingReadsAnswers checks positions, versions, the wrong expected
// version error and a retry settled from the stream.
func TestMappingReadsAnswers(t *testing.T) {
	srv := esdbstandin.Start(t)
	s := mustOpenPlain(t, srv, "")
	evs := []eventstore.EventData{event("a.b", `{"n":1}`), event("a.b", `{"n":2}`)}
	res, err := s.Append(ctxT(t), "order-1", eventstore.NoStream, evs...)
	if err != nil {
		t.Fatal(err)
	}
	recs := srv.Records()
	if len(recs) != 2 {
		t.Fatalf("server holds %d records", len(recs))
	}
	if res.FirstPosition != eventstore.Position(recs[0].Position.Commit+1) || res.LastPosition != eventstore.Position(recs[1].Position.Commit+1) || res.NextExpectedVersion != 2 {
		t.Fatalf("append reported %+v; the server wrote at %v and %v", res, recs[0].Position, recs[1].Position)
	}
	_, err = s.Append(ctxT(t), "order-1", eventstore.Exact(1), event("a.b", `{}`))
	var wev *eventstore.WrongExpectedVersionError
	if !errors.As(err, &wev) || wev.Actual != 2 || wev.Expected != eventstore.Exact(1) || !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
		t.Fatalf("stale append: %v, want *WrongExpectedVersionError expected 1 actual 2", err)
	}
	// The server answers a retry with success and no position: the adapter
	// reports where the events were first written.
	again, err := s.Append(ctxT(t), "order-1", eventstore.NoStream, evs...)
	if err != nil || again != res {
		t.Fatalf("retry: %+v, %v; want %+v", again, err, res)
	}
	other := evs[0]
	other.Data = json.RawMessage(`{"n":99}`)
	if _, err := s.Append(ctxT(t), "order-1", eventstore.NoStream, other); !errors.Is(err, eventstore.ErrIdempotencyConflict) {
		t.Fatalf("same id, other content: %v, want ErrIdempotencyConflict", err)
	}
	if n := len(srv.Records()); n != 2 {
		t.Fatalf("server holds %d records after a retry and a conflict, want 2", n)
	}
}

// TestSystemEventsAndOtherNamespacesAreNotOurs appends what the server and
// another shop write into the same $all.
func TestSystemEventsAndOtherNamespacesAreNotOurs(t *testing.T) {
	srv := esdbstandin.Start(t)
	mine := mustOpenPlain(t, srv, "a")
	theirs := mustOpenPlain(t, srv, "b")
	srv.AppendSystem("$stats-127.0.0.1:2113", "$statsCollected", []byte(`{}`))
	if _, err := mine.Append(ctxT(t), "cart-1", eventstore.Any, event("cart.item_added", `{}`)); err != nil {
		t.Fatal(err)
	}
	srv.AppendSystem("$$a:cart-1", "$metadata", []byte(`{"$maxCount":10}`))
	if _, err := theirs.Append(ctxT(t), "cart-1", eventstore.Any, event("cart.item_added", `{}`)); err != nil {
		t.Fatal(err)
	}
	srv.AppendSystem("$ce-cart", "$>", []byte(`0@a:cart-1`))
	// A namespace that starts like ours is still another one.
	if _, err := mustOpenPlain(t, srv, "a1").Append(ctxT(t), "cart-1", eventstore.Any, event("cart.item_added", `{}`)); err != nil {
		t.Fatal(err)
	}
	all, err := mine.ReadAll(ctxT(t), eventstore.ReadAllOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].StreamID != "cart-1" {
		t.Fatalf("namespace a reads %+v, want only its cart-1", all)
	}
	head, err := mine.Head(ctxT(t))
	if err != nil || head != all[0].Position {
		t.Fatalf("head = %d, %v; want %d (its own last event, not the server's)", head, err, all[0].Position)
	}
	plain := mustOpenPlain(t, srv, "")
	all, err = plain.ReadAll(ctxT(t), eventstore.ReadAllOptions{})
	if err != nil || len(all) != 3 {
		t.Fatalf("without a namespace: %d events, %v; want the three shops' and no system event", len(all), err)
	}
	// A limit counts only the events returned, not the skipped ones.
	one, err := plain.ReadAll(ctxT(t), eventstore.ReadAllOptions{Limit: 1, After: all[0].Position})
	if err != nil || len(one) != 1 || one[0].ID != all[1].ID {
		t.Fatalf("after the first: %+v, %v", one, err)
	}
}

// TestLegacyTransactionIsRefusedNotMisplaced: an event whose commit and
// prepare positions differ has no exact Position; reading it fails plainly.
func TestLegacyTransactionIsRefusedNotMisplaced(t *testing.T) {
	srv := esdbstandin.Start(t)
	s := mustOpenPlain(t, srv, "")
	if _, err := s.Append(ctxT(t), "cart-1", eventstore.Any, event("cart.item_added", `{}`)); err != nil {
		t.Fatal(err)
	}
	srv.AppendLegacy("cart-2", esdbstandin.Event{ID: uuid.New(), Type: "cart.item_added", ContentType: "application/json", Data: []byte(`{}`)},
		esdbstandin.Event{ID: uuid.New(), Type: "cart.item_added", ContentType: "application/json", Data: []byte(`{}`)})
	if _, err := s.ReadAll(ctxT(t), eventstore.ReadAllOptions{}); !errors.Is(err, esdb.ErrLegacyPosition) {
		t.Fatalf("ReadAll over a legacy transaction: %v, want ErrLegacyPosition", err)
	}
	err := s.Subscribe(ctxT(t), eventstore.SubscribeOptions{}, func(eventstore.Event) error { return nil })
	if !errors.Is(err, esdb.ErrLegacyPosition) {
		t.Fatalf("Subscribe over a legacy transaction: %v, want ErrLegacyPosition", err)
	}
	// Another namespace's legacy events are not ours and do not stop us.
	other := mustOpenPlain(t, srv, "x")
	if evs, err := other.ReadAll(ctxT(t), eventstore.ReadAllOptions{}); err != nil || len(evs) != 0 {
		t.Fatalf("namespace x: %d events, %v", len(evs), err)
	}
}

// TestSubscriptionsFilterAtTheServer checks the filter a subscription sends.
func TestSubscriptionsFilterAtTheServer(t *testing.T) {
	srv := esdbstandin.Start(t)
	cases := []struct {
		ns     string
		filter eventstore.Filter
		on     string
		prefix []string
		regex  string
	}{
		{"shop", eventstore.Filter{Types: []string{"order.placed"}}, "stream", []string{"shop:"}, ""},
		{"", eventstore.Filter{StreamPrefix: "order-"}, "stream", []string{"order-"}, ""},
		{"", eventstore.Filter{Types: []string{"order.placed", "order.paid"}}, "type", nil, `^(?:order\.placed|order\.paid)$`},
		{"", eventstore.Filter{}, "type", nil, `^[^\$].*`},
	}
	for _, tc := range cases {
		s := mustOpenPlain(t, srv, tc.ns)
		srv.ResetRequests()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_ = s.Subscribe(ctx, eventstore.SubscribeOptions{Filter: tc.filter}, func(eventstore.Event) error { return nil })
		cancel()
		var got *esdbstandin.Filter
		for _, r := range srv.Requests() {
			if r.Kind == esdbstandin.KindSubscribe {
				got = r.Filter
			}
		}
		if got == nil || got.On != tc.on || !slices.Equal(got.Prefixes, tc.prefix) || got.Regex != tc.regex {
			t.Errorf("namespace %q filter %+v sent %+v, want on %s prefixes %v regex %q", tc.ns, tc.filter, got, tc.on, tc.prefix, tc.regex)
		}
	}
}

// TestDroppedSubscriptionsResumeExactly drops every subscription again and
// again while events are appended: $all and a stream subscription each see
// every event once, in order.
func TestDroppedSubscriptionsResumeExactly(t *testing.T) {
	saved := esdb.Reconnect
	esdb.Reconnect.Min, esdb.Reconnect.Max = time.Millisecond, 20*time.Millisecond
	t.Cleanup(func() { esdb.Reconnect = saved })
	srv := esdbstandin.Start(t)
	s := mustOpenPlain(t, srv, "shop")
	const total = 300
	// Some events exist before the subscriptions start after the first one.
	first, err := s.Append(ctxT(t), "cart-0", eventstore.Any, event("cart.item_added", `{"n":0}`))
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var all, stream []eventstore.Event
	done := make(chan error, 2)
	go func() {
		done <- s.Subscribe(ctx, eventstore.SubscribeOptions{After: first.LastPosition}, func(e eventstore.Event) error {
			mu.Lock()
			all = append(all, e)
			mu.Unlock()
			return nil
		})
	}()
	go func() {
		done <- s.SubscribeStream(ctx, "cart-1", 0, func(e eventstore.Event) error {
			mu.Lock()
			stream = append(stream, e)
			mu.Unlock()
			return nil
		})
	}()
	for i := 1; i < total; i++ {
		if _, err := s.Append(ctxT(t), fmt.Sprintf("cart-%d", i%2), eventstore.Any, event("cart.item_added", fmt.Sprintf(`{"n":%d}`, i))); err != nil {
			t.Fatal(err)
		}
		if i%25 == 0 {
			srv.DropSubscriptions()
		}
	}
	// One event more, on cart-1: once both subscriptions have it, any
	// event they would deliver twice or late has come too.
	last, err := s.Append(ctxT(t), "cart-1", eventstore.Any, event("cart.item_added", `{"n":"last"}`))
	if err != nil {
		t.Fatal(err)
	}
	has := func(evs []eventstore.Event) bool {
		return slices.ContainsFunc(evs, func(e eventstore.Event) bool { return e.Position == last.LastPosition })
	}
	deadline := time.Now().Add(time.Minute)
	for {
		mu.Lock()
		seen := has(all) && has(stream)
		mu.Unlock()
		if seen || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	for range 2 {
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("subscription ended with %v", err)
		}
	}
	want, err := s.ReadAll(ctxT(t), eventstore.ReadAllOptions{After: first.LastPosition, Limit: eventstore.MaxReadLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(want) || len(want) != total {
		t.Fatalf("$all subscription delivered %d events, $all holds %d after the start, want %d", len(all), len(want), total)
	}
	for i := range want {
		if all[i].ID != want[i].ID {
			t.Fatalf("$all subscription event %d is %v, want %v (skipped or repeated across a drop)", i, all[i].ID, want[i].ID)
		}
	}
	if len(stream) != total/2+1 {
		t.Fatalf("stream subscription delivered %d events, want %d", len(stream), total/2+1)
	}
	for i, e := range stream {
		if e.Version != int64(i+1) || e.StreamID != "cart-1" {
			t.Fatalf("stream subscription event %d is %s v%d", i, e.StreamID, e.Version)
		}
	}
}

// TestUnreadableEventIsReportedNotRetried: an event the adapter cannot map
// (here a schema version that is not one) ends a subscription with that
// error at once, instead of resubscribing to it for ever.
func TestUnreadableEventIsReportedNotRetried(t *testing.T) {
	srv := esdbstandin.Start(t)
	s := mustOpenPlain(t, srv, "")
	srv.Append("cart-1", esdbstandin.Event{ID: uuid.New(), Type: "cart.item_added", ContentType: "application/json",
		Data: []byte(`{}`), Metadata: []byte(`{"commerce_schema_version":"two"}`)})
	if _, err := s.ReadAll(ctxT(t), eventstore.ReadAllOptions{}); err == nil {
		t.Fatalf("ReadAll returned an unreadable event without an error")
	}
	start := time.Now()
	err := s.Subscribe(ctxT(t), eventstore.SubscribeOptions{}, func(eventstore.Event) error { return nil })
	// Resubscribing for ever ends at the 30 s deadline; 20 s leaves a busy
	// machine room and still tells the two apart.
	if err == nil || errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 20*time.Second {
		t.Fatalf("Subscribe over an unreadable event: %v after %s, want its error at once", err, time.Since(start))
	}
	subscribes := 0
	for _, r := range srv.Requests() {
		if r.Kind == esdbstandin.KindSubscribe {
			subscribes++
		}
	}
	if subscribes != 1 {
		t.Fatalf("subscribed %d times, want once", subscribes)
	}
}

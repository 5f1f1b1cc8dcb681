package esdbstandin_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/kurrent-io/KurrentDB-Client-Go/kurrentdb"
	"github.com/kurrent-io/KurrentDB-Client-Go/protos/kurrentdb/protocols/v1/shared"
	api "github.com/kurrent-io/KurrentDB-Client-Go/protos/kurrentdb/protocols/v1/streams"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/commerce-engine/commerce/eventstore/esdb/esdbstandin"
)

func newClient(t *testing.T, srv *esdbstandin.Server) *kurrentdb.Client {
	t.Helper()
	cfg, err := kurrentdb.ParseConnectionString(srv.URL())
	if err != nil {
		t.Fatalf("parse connection string: %v", err)
	}
	cfg.Logger = kurrentdb.NoopLogging()
	c, err := kurrentdb.NewClient(cfg)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func ev(typ, data string) kurrentdb.EventData {
	return kurrentdb.EventData{
		EventID:     uuid.New(),
		EventType:   typ,
		ContentType: kurrentdb.ContentTypeJson,
		Data:        []byte(data),
		Metadata:    []byte(`{"m":1}`),
	}
}

func readAll(rs *kurrentdb.ReadStream, err error) ([]*kurrentdb.ResolvedEvent, error) {
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []*kurrentdb.ResolvedEvent
	for {
		e, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
}

func errCode(err error) kurrentdb.ErrorCode {
	var e *kurrentdb.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return -1
}

func TestAppendReadRoundTrip(t *testing.T) {
	srv := esdbstandin.Start(t)
	c := newClient(t, srv)
	ctx := testCtx(t)

	e1, e2, e3 := ev("OrderPlaced", `{"n":1}`), ev("OrderPaid", `{"n":2}`), ev("CartOpened", `{}`)
	w1, err := c.AppendToStream(ctx, "order-1", kurrentdb.AppendToStreamOptions{StreamState: kurrentdb.NoStream{}}, e1, e2)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	if w1.NextExpectedVersion != 1 || w1.CommitPosition == 0 || w1.CommitPosition != w1.PreparePosition {
		t.Fatalf("unexpected write result %+v", w1)
	}
	w2, err := c.AppendToStream(ctx, "cart-1", kurrentdb.AppendToStreamOptions{StreamState: kurrentdb.Any{}}, e3)
	if err != nil {
		t.Fatalf("append cart: %v", err)
	}
	if w2.NextExpectedVersion != 0 || w2.CommitPosition <= w1.CommitPosition {
		t.Fatalf("unexpected second write result %+v (first %+v)", w2, w1)
	}

	// Stream read, forwards.
	got, err := readAll(c.ReadStream(ctx, "order-1", kurrentdb.ReadStreamOptions{From: kurrentdb.Start{}}, 100))
	if err != nil {
		t.Fatalf("read stream: %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("want 2 events, got %d", len(got))
	}
	for i, want := range []kurrentdb.EventData{e1, e2} {
		r := got[i].Event
		if r.EventID != want.EventID || r.EventType != want.EventType || string(r.Data) != string(want.Data) ||
			string(r.UserMetadata) != string(want.Metadata) || r.EventNumber != uint64(i) || r.StreamID != "order-1" ||
			r.ContentType != "application/json" {
			t.Fatalf("event %d mismatch: %+v", i, r)
		}
		if r.Position.Commit == 0 || r.Position.Commit != r.Position.Prepare {
			t.Fatalf("stream read event %d lacks commit==prepare position: %+v", i, r.Position)
		}
		if time.Since(r.CreatedDate) > time.Minute || time.Since(r.CreatedDate) < 0 {
			t.Fatalf("created date not parsed: %v", r.CreatedDate)
		}
	}
	if got[1].Event.Position.Commit != w1.CommitPosition {
		t.Fatalf("last event position %v != append position %d", got[1].Event.Position, w1.CommitPosition)
	}
	if got[0].Event.Position.Commit >= got[1].Event.Position.Commit {
		t.Fatal("positions must strictly increase")
	}

	// Stream read, backwards from end, count 1.
	back, err := readAll(c.ReadStream(ctx, "order-1", kurrentdb.ReadStreamOptions{Direction: kurrentdb.Backwards, From: kurrentdb.End{}}, 1))
	if err != nil || len(back) != 1 || back[0].Event.EventNumber != 1 {
		t.Fatalf("backwards read: %v %v", back, err)
	}

	// $all forwards from start.
	all, err := readAll(c.ReadAll(ctx, kurrentdb.ReadAllOptions{From: kurrentdb.Start{}}, 100))
	if err != nil || len(all) != 3 {
		t.Fatalf("read $all: %d events, err %v", len(all), err)
	}
	if all[2].Event.EventID != e3.EventID || all[2].Event.Position.Commit != w2.CommitPosition {
		t.Fatalf("$all tail mismatch: %+v", all[2].Event)
	}
	p2 := all[1].Event.Position
	// Forwards from P includes the event at P.
	fwd, err := readAll(c.ReadAll(ctx, kurrentdb.ReadAllOptions{From: p2}, 100))
	if err != nil || len(fwd) != 2 || fwd[0].Event.EventID != e2.EventID {
		t.Fatalf("forwards from %v: %v %v", p2, fwd, err)
	}
	// Backwards from P returns events strictly before P.
	bwd, err := readAll(c.ReadAll(ctx, kurrentdb.ReadAllOptions{From: p2, Direction: kurrentdb.Backwards}, 100))
	if err != nil || len(bwd) != 1 || bwd[0].Event.EventID != e1.EventID {
		t.Fatalf("backwards from %v: %v %v", p2, bwd, err)
	}

	// Missing stream.
	_, err = readAll(c.ReadStream(ctx, "nope", kurrentdb.ReadStreamOptions{}, 10))
	if errCode(err) != kurrentdb.ErrorCodeResourceNotFound {
		t.Fatalf("missing stream: want ResourceNotFound, got %v", err)
	}

	reqs := srv.Requests()
	if len(reqs) != 8 {
		t.Fatalf("want 8 requests, got %d: %+v", len(reqs), reqs)
	}
	if r := reqs[0]; r.Kind != esdbstandin.KindAppend || r.Stream != "order-1" || r.ExpectedRevision != "no_stream" ||
		len(r.EventIDs) != 2 || r.EventIDs[0] != e1.EventID.String() || r.EventTypes[1] != "OrderPaid" {
		t.Fatalf("append request not recorded right: %+v", r)
	}
	if r := reqs[1]; r.ExpectedRevision != "any" {
		t.Fatalf("any not recorded: %+v", r)
	}
	if r := reqs[3]; r.Kind != esdbstandin.KindRead || r.Direction != "backwards" || r.From != "end" || r.Count != 1 {
		t.Fatalf("backwards read not recorded right: %+v", r)
	}
	if r := reqs[5]; r.Stream != esdbstandin.AllStream || r.From != "position" || r.FromPosition == nil || *r.FromPosition != (esdbstandin.Position{Commit: p2.Commit, Prepare: p2.Prepare}) {
		t.Fatalf("$all read from position not recorded right: %+v", r)
	}
}

func TestWrongExpectedVersion(t *testing.T) {
	srv := esdbstandin.Start(t)
	c := newClient(t, srv)
	ctx := testCtx(t)

	_, err := c.AppendToStream(ctx, "s", kurrentdb.AppendToStreamOptions{StreamState: kurrentdb.StreamRevision{Value: 5}}, ev("A", `{}`))
	if errCode(err) != kurrentdb.ErrorCodeWrongExpectedVersion {
		t.Fatalf("exact on empty: want WrongExpectedVersion, got %v", err)
	}
	_, err = c.AppendToStream(ctx, "s", kurrentdb.AppendToStreamOptions{StreamState: kurrentdb.StreamExists{}}, ev("A", `{}`))
	if errCode(err) != kurrentdb.ErrorCodeWrongExpectedVersion {
		t.Fatalf("stream_exists on empty: want WrongExpectedVersion, got %v", err)
	}
	if _, err := c.AppendToStream(ctx, "s", kurrentdb.AppendToStreamOptions{StreamState: kurrentdb.NoStream{}}, ev("A", `{}`)); err != nil {
		t.Fatalf("first write: %v", err)
	}
	_, err = c.AppendToStream(ctx, "s", kurrentdb.AppendToStreamOptions{StreamState: kurrentdb.NoStream{}}, ev("B", `{}`))
	if errCode(err) != kurrentdb.ErrorCodeWrongExpectedVersion {
		t.Fatalf("no_stream on existing: want WrongExpectedVersion, got %v", err)
	}
	if _, err := c.AppendToStream(ctx, "s", kurrentdb.AppendToStreamOptions{StreamState: kurrentdb.StreamRevision{Value: 0}}, ev("B", `{}`)); err != nil {
		t.Fatalf("exact write: %v", err)
	}
	if n := len(srv.Records()); n != 2 {
		t.Fatalf("want 2 records, got %d", n)
	}
	if got := srv.Requests()[0].ExpectedRevision; got != "5" {
		t.Fatalf("expected revision recorded as %q", got)
	}
}

func TestIdempotentRetry(t *testing.T) {
	for _, withoutPosition := range []bool{false, true} {
		t.Run(fmt.Sprintf("without_position=%v", withoutPosition), func(t *testing.T) {
			srv := esdbstandin.Start(t)
			if withoutPosition {
				srv.RetriesWithoutPosition()
			}
			c := newClient(t, srv)
			ctx := testCtx(t)

			a, b := ev("A", `{"a":1}`), ev("B", `{"b":2}`)
			first, err := c.AppendToStream(ctx, "s", kurrentdb.AppendToStreamOptions{StreamState: kurrentdb.NoStream{}}, a, b)
			if err != nil || first.CommitPosition == 0 {
				t.Fatalf("first write: %+v %v", first, err)
			}
			// The answer to a recognised retry: the last event's revision, and
			// its position (current servers) or none (older ones).
			want := func(what string, w *kurrentdb.WriteResult, rev uint64, pos uint64) {
				t.Helper()
				if withoutPosition {
					pos = 0
				}
				if w.NextExpectedVersion != rev || w.CommitPosition != pos || w.PreparePosition != pos {
					t.Fatalf("%s: %+v, want revision %d position %d", what, w, rev, pos)
				}
			}
			w, err := c.AppendToStream(ctx, "s", kurrentdb.AppendToStreamOptions{StreamState: kurrentdb.NoStream{}}, a, b)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			want("retry with no_stream", w, 1, first.CommitPosition)
			w, err = c.AppendToStream(ctx, "s", kurrentdb.AppendToStreamOptions{StreamState: kurrentdb.Any{}}, a, b)
			if err != nil {
				t.Fatalf("any retry: %v", err)
			}
			want("retry with any", w, 1, first.CommitPosition)
			// With any, the server looks each id up and does not check their order.
			w, err = c.AppendToStream(ctx, "s", kurrentdb.AppendToStreamOptions{StreamState: kurrentdb.Any{}}, b, a)
			if err != nil {
				t.Fatalf("any retry out of order: %v", err)
			}
			recs := srv.Records()
			want("retry with any, out of order", w, 0, recs[0].Position.Commit)
			if n := len(srv.Records()); n != 2 {
				t.Fatalf("retries must not write, have %d records", n)
			}
			// Partial match is not idempotent.
			_, err = c.AppendToStream(ctx, "s", kurrentdb.AppendToStreamOptions{StreamState: kurrentdb.NoStream{}}, a, ev("C", `{}`))
			if errCode(err) != kurrentdb.ErrorCodeWrongExpectedVersion {
				t.Fatalf("partial retry: want WrongExpectedVersion, got %v", err)
			}
			_, err = c.AppendToStream(ctx, "s", kurrentdb.AppendToStreamOptions{StreamState: kurrentdb.Any{}}, a, ev("C", `{}`))
			if errCode(err) != kurrentdb.ErrorCodeWrongExpectedVersion {
				t.Fatalf("partial retry with any: want WrongExpectedVersion, got %v", err)
			}
			// Exact expectation behind the stream with different ids: wrong version.
			_, err = c.AppendToStream(ctx, "s", kurrentdb.AppendToStreamOptions{StreamState: kurrentdb.StreamRevision{Value: 0}}, ev("D", `{}`))
			if errCode(err) != kurrentdb.ErrorCodeWrongExpectedVersion {
				t.Fatalf("stale exact: want WrongExpectedVersion, got %v", err)
			}
			// Exact expectation 0 retrying only b: idempotent.
			w, err = c.AppendToStream(ctx, "s", kurrentdb.AppendToStreamOptions{StreamState: kurrentdb.StreamRevision{Value: 0}}, b)
			if err != nil {
				t.Fatalf("exact retry: %v", err)
			}
			want("exact retry", w, 1, first.CommitPosition)
		})
	}
}

// next returns the next subscription event that is not a checkpoint.
func next(t *testing.T, sub *kurrentdb.Subscription) *kurrentdb.SubscriptionEvent {
	t.Helper()
	for {
		e := sub.Recv()
		if e.CheckPointReached != nil {
			continue
		}
		return e
	}
}

func TestSubscribeToAllWithStreamPrefixFilter(t *testing.T) {
	srv := esdbstandin.Start(t)
	c := newClient(t, srv)
	ctx := testCtx(t)

	o1 := ev("OrderPlaced", `{}`)
	if _, err := c.AppendToStream(ctx, "order-1", kurrentdb.AppendToStreamOptions{}, o1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AppendToStream(ctx, "cart-1", kurrentdb.AppendToStreamOptions{}, ev("CartOpened", `{}`)); err != nil {
		t.Fatal(err)
	}
	srv.AppendSystem("$$order-1", "$metadata", []byte(`{"$maxAge":10}`))

	sub, err := c.SubscribeToAll(ctx, kurrentdb.SubscribeToAllOptions{
		From:   kurrentdb.Start{},
		Filter: &kurrentdb.SubscriptionFilter{Type: kurrentdb.StreamFilterType, Prefixes: []string{"order-"}},
	})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	defer sub.Close()

	e := next(t, sub)
	if e.EventAppeared == nil || e.EventAppeared.Event.EventID != o1.EventID {
		t.Fatalf("want catch-up order-1 event, got %+v", e)
	}
	e = next(t, sub)
	if e.CaughtUp == nil || e.CaughtUp.Position == nil {
		t.Fatalf("want caught up with position, got %+v", e)
	}

	o2 := ev("OrderPlaced", `{}`)
	if _, err := c.AppendToStream(ctx, "cart-2", kurrentdb.AppendToStreamOptions{}, ev("CartOpened", `{}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AppendToStream(ctx, "order-2", kurrentdb.AppendToStreamOptions{}, o2); err != nil {
		t.Fatal(err)
	}
	e = next(t, sub)
	if e.EventAppeared == nil || e.EventAppeared.Event.EventID != o2.EventID || e.EventAppeared.Event.StreamID != "order-2" {
		t.Fatalf("want live order-2 event, got %+v", e)
	}

	var subReq *esdbstandin.Request
	for _, r := range srv.Requests() {
		if r.Kind == esdbstandin.KindSubscribe {
			subReq = &r
		}
	}
	if subReq == nil || subReq.Stream != esdbstandin.AllStream || subReq.From != "start" || subReq.Filter == nil ||
		subReq.Filter.On != "stream" || len(subReq.Filter.Prefixes) != 1 || subReq.Filter.Prefixes[0] != "order-" ||
		subReq.Filter.MaxWindow != 32 || subReq.Filter.CheckpointIntervalMultiplier != 1 {
		t.Fatalf("subscribe request not recorded right: %+v", subReq)
	}
}

func TestFilteredSubscriptionSendsCheckpoints(t *testing.T) {
	srv := esdbstandin.Start(t)
	c := newClient(t, srv)
	ctx := testCtx(t)

	for i := 0; i < 5; i++ {
		srv.AppendSystem("$stats-x", "$statsCollected", []byte(`{}`))
	}
	sub, err := c.SubscribeToAll(ctx, kurrentdb.SubscribeToAllOptions{
		From:            kurrentdb.Start{},
		Filter:          kurrentdb.ExcludeSystemEventsFilter(),
		MaxSearchWindow: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	e := sub.Recv()
	if e.CheckPointReached == nil {
		t.Fatalf("want a checkpoint, got %+v", e)
	}
	recs := srv.Records()
	if *e.CheckPointReached != (kurrentdb.Position{Commit: recs[1].Position.Commit, Prepare: recs[1].Position.Prepare}) {
		t.Fatalf("checkpoint %v, want position of 2nd event %v", *e.CheckPointReached, recs[1].Position)
	}
}

func TestDropSubscriptions(t *testing.T) {
	srv := esdbstandin.Start(t)
	c := newClient(t, srv)
	ctx := testCtx(t)

	sub, err := c.SubscribeToStream(ctx, "s", kurrentdb.SubscribeToStreamOptions{From: kurrentdb.Start{}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if e := sub.Recv(); e.CaughtUp == nil {
		t.Fatalf("want caught up on empty stream, got %+v", e)
	}
	srv.DropSubscriptions()
	e := sub.Recv()
	if e.SubscriptionDropped == nil || e.SubscriptionDropped.Error == nil {
		t.Fatalf("want SubscriptionDropped, got %+v", e)
	}
	if errCode(e.SubscriptionDropped.Error) != kurrentdb.ErrorUnavailable {
		t.Fatalf("want unavailable, got %v", e.SubscriptionDropped.Error)
	}

	// A new subscription works (the client reconnects after Unavailable).
	first := ev("A", `{}`)
	if _, err := c.AppendToStream(ctx, "s", kurrentdb.AppendToStreamOptions{}, first); err != nil {
		t.Fatal(err)
	}
	sub2, err := c.SubscribeToStream(ctx, "s", kurrentdb.SubscribeToStreamOptions{From: kurrentdb.Start{}})
	if err != nil {
		t.Fatalf("resubscribe: %v", err)
	}
	defer sub2.Close()
	if e := sub2.Recv(); e.EventAppeared == nil || e.EventAppeared.Event.EventID != first.EventID {
		t.Fatalf("want event after resubscribe, got %+v", e)
	}
	if e := sub2.Recv(); e.CaughtUp == nil || e.CaughtUp.StreamRevision == nil || *e.CaughtUp.StreamRevision != 0 {
		t.Fatalf("want caught up at revision 0, got %+v", e)
	}
}

func TestStreamSubscriptionFromRevisionIsExclusive(t *testing.T) {
	srv := esdbstandin.Start(t)
	c := newClient(t, srv)
	ctx := testCtx(t)

	evs := []kurrentdb.EventData{ev("A", `{}`), ev("B", `{}`), ev("C", `{}`)}
	if _, err := c.AppendToStream(ctx, "s", kurrentdb.AppendToStreamOptions{}, evs...); err != nil {
		t.Fatal(err)
	}
	sub, err := c.SubscribeToStream(ctx, "s", kurrentdb.SubscribeToStreamOptions{From: kurrentdb.StreamRevision{Value: 0}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for _, want := range evs[1:] {
		if e := sub.Recv(); e.EventAppeared == nil || e.EventAppeared.Event.EventID != want.EventID {
			t.Fatalf("want %s, got %+v", want.EventType, e)
		}
	}
	if e := sub.Recv(); e.CaughtUp == nil {
		t.Fatalf("want caught up, got %+v", e)
	}
	live := ev("D", `{}`)
	if _, err := c.AppendToStream(ctx, "s", kurrentdb.AppendToStreamOptions{StreamState: kurrentdb.StreamRevision{Value: 2}}, live); err != nil {
		t.Fatal(err)
	}
	if e := sub.Recv(); e.EventAppeared == nil || e.EventAppeared.Event.EventNumber != 3 {
		t.Fatalf("want live revision 3, got %+v", e)
	}
}

func TestLegacyRecords(t *testing.T) {
	srv := esdbstandin.Start(t)
	c := newClient(t, srv)
	ctx := testCtx(t)

	before := srv.Append("modern", esdbstandin.Event{Type: "X", Data: []byte(`{}`)})[0]
	pos := srv.AppendLegacy("legacy-1",
		esdbstandin.Event{Type: "A", Data: []byte(`{"a":1}`)},
		esdbstandin.Event{Type: "B", Data: []byte(`{"b":2}`)},
	)
	after := srv.Append("modern", esdbstandin.Event{Type: "Y", Data: []byte(`{}`)})[0]
	if pos[0].Commit != pos[1].Commit || pos[0].Prepare >= pos[1].Prepare || pos[1].Prepare >= pos[1].Commit ||
		pos[0].Prepare <= before.Commit || after.Commit <= pos[1].Commit {
		t.Fatalf("legacy positions wrong: before %v legacy %v after %v", before, pos, after)
	}

	got, err := readAll(c.ReadStream(ctx, "legacy-1", kurrentdb.ReadStreamOptions{From: kurrentdb.Start{}}, 10))
	if err != nil || len(got) != 2 {
		t.Fatalf("read legacy stream: %v %v", got, err)
	}
	for i, e := range got {
		p := e.Event.Position
		if p.Commit == p.Prepare || p.Commit != pos[i].Commit || p.Prepare != pos[i].Prepare {
			t.Fatalf("legacy event %d read with position %+v, want %v", i, p, pos[i])
		}
	}

	all, err := readAll(c.ReadAll(ctx, kurrentdb.ReadAllOptions{From: kurrentdb.Start{}}, 10))
	if err != nil || len(all) != 4 {
		t.Fatalf("read $all: %v %v", all, err)
	}
	if all[1].Event.StreamID != "legacy-1" || all[2].Event.EventType != "B" || all[3].Event.EventType != "Y" {
		t.Fatalf("$all order wrong")
	}
	// Forwards from the second legacy event's exact position includes it.
	fwd, err := readAll(c.ReadAll(ctx, kurrentdb.ReadAllOptions{From: kurrentdb.Position{Commit: pos[1].Commit, Prepare: pos[1].Prepare}}, 10))
	if err != nil || len(fwd) != 2 || fwd[0].Event.EventType != "B" {
		t.Fatalf("forwards from legacy position: %v %v", fwd, err)
	}
	// A subscription from the first legacy event's position is exclusive.
	sub, err := c.SubscribeToAll(ctx, kurrentdb.SubscribeToAllOptions{From: kurrentdb.Position{Commit: pos[0].Commit, Prepare: pos[0].Prepare}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if e := sub.Recv(); e.EventAppeared == nil || e.EventAppeared.Event.EventType != "B" {
		t.Fatalf("want B after legacy A, got %+v", e)
	}
}

// TestStringUUIDs drives the protocol directly: the official client always
// sends structured ids, but the proto allows the string form both ways.
func TestStringUUIDs(t *testing.T) {
	srv := esdbstandin.Start(t)
	ctx := testCtx(t)
	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	sc := api.NewStreamsClient(conn)

	id := uuid.New()
	app, err := sc.Append(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Send(&api.AppendReq{Content: &api.AppendReq_Options_{Options: &api.AppendReq_Options{
		StreamIdentifier:       &shared.StreamIdentifier{StreamName: []byte("s")},
		ExpectedStreamRevision: &api.AppendReq_Options_NoStream{NoStream: &shared.Empty{}},
	}}}); err != nil {
		t.Fatal(err)
	}
	if err := app.Send(&api.AppendReq{Content: &api.AppendReq_ProposedMessage_{ProposedMessage: &api.AppendReq_ProposedMessage{
		Id:       &shared.UUID{Value: &shared.UUID_String_{String_: id.String()}},
		Metadata: map[string]string{"type": "T", "content-type": "application/octet-stream"},
		Data:     []byte{1, 2},
	}}}); err != nil {
		t.Fatal(err)
	}
	resp, err := app.CloseAndRecv()
	if err != nil || resp.GetSuccess() == nil || resp.GetSuccess().GetPosition() == nil {
		t.Fatalf("append: %v %v", resp, err)
	}

	rd, err := sc.Read(ctx, &api.ReadReq{Options: &api.ReadReq_Options{
		StreamOption: &api.ReadReq_Options_Stream{Stream: &api.ReadReq_Options_StreamOptions{
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte("s")},
			RevisionOption:   &api.ReadReq_Options_StreamOptions_Start{Start: &shared.Empty{}},
		}},
		CountOption:  &api.ReadReq_Options_Count{Count: 10},
		FilterOption: &api.ReadReq_Options_NoFilter{NoFilter: &shared.Empty{}},
		UuidOption:   &api.ReadReq_Options_UUIDOption{Content: &api.ReadReq_Options_UUIDOption_String_{String_: &shared.Empty{}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := rd.Recv()
	if err != nil {
		t.Fatal(err)
	}
	got := msg.GetEvent().GetEvent()
	if got.GetId().GetString_() != id.String() || got.GetMetadata()["content-type"] != "application/octet-stream" || got.GetMetadata()["created"] == "" {
		t.Fatalf("read back %+v", got)
	}
	if srv.Requests()[0].EventIDs[0] != id.String() {
		t.Fatalf("request log id %v", srv.Requests()[0].EventIDs)
	}
}

package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/commerce-engine/commerce/eventstore"
)

// collector receives a subscription's events on another goroutine.
type collector struct {
	mu     sync.Mutex
	events []eventstore.Event
	grew   chan struct{}
}

func newCollector() *collector { return &collector{grew: make(chan struct{}, 1)} }

func (c *collector) add(e eventstore.Event) error {
	c.mu.Lock()
	c.events = append(c.events, e)
	c.mu.Unlock()
	select {
	case c.grew <- struct{}{}:
	default:
	}
	return nil
}

func (c *collector) snapshot() []eventstore.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]eventstore.Event(nil), c.events...)
}

// waitFor waits until the collector holds n events or the timeout passes.
func (c *collector) waitFor(t *testing.T, n int, timeout time.Duration) []eventstore.Event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if got := c.snapshot(); len(got) >= n {
			return got
		}
		select {
		case <-c.grew:
		case <-deadline:
			t.Fatalf("subscription delivered %d events within %v, want %d", len(c.snapshot()), timeout, n)
		}
	}
}

// subscribe runs a subscription until the test ends and reports its error.
// settle appends a marker event (of type typ, to a new stream starting with
// prefix, so that the subscription's filter lets it through) and waits until
// c has it. A subscription delivers in position order, so whatever it would
// deliver twice or wrongly before the marker has come by then: an absence
// asserted on what settle returns, every event but the marker, does not
// depend on how long one waits.
func (c *collector) settle(t *testing.T, s eventstore.Store, prefix, typ string) []eventstore.Event {
	t.Helper()
	marker := NewEvent(typ, `{"marker":true}`)
	mustAppend(t, s, prefix+uuid.NewString(), eventstore.NoStream, marker)
	deadline := time.After(time.Minute)
	for {
		got := c.snapshot()
		for i, e := range got {
			if e.ID == marker.ID {
				return append(got[:i:i], got[i+1:]...)
			}
		}
		select {
		case <-c.grew:
		case <-deadline:
			t.Fatalf("the marker appended after %d events was not delivered within a minute", len(got))
		}
	}
}

func subscribe(t *testing.T, s eventstore.Store, opts eventstore.SubscribeOptions) *collector {
	t.Helper()
	c := newCollector()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Subscribe(ctx, opts, c.add) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("subscription ended with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("subscription did not stop within 30s of its context being cancelled")
		}
	})
	return c
}

func testSubscribeCatchUpAndLive(t *testing.T, open Opener) {
	s := open(t)
	for i := range 5 {
		mustAppend(t, s, fmt.Sprintf("sub-%d", i%2), eventstore.Any, NewEvent("test.counted", fmt.Sprintf(`{"n":%d}`, i)))
	}
	all := readAll(t, s)
	fromStart := subscribe(t, s, eventstore.SubscribeOptions{BatchSize: 2})
	fromMiddle := subscribe(t, s, eventstore.SubscribeOptions{After: all[2].Position})
	fromStart.waitFor(t, 5, 10*time.Second)
	for i := 5; i < 12; i++ {
		mustAppend(t, s, fmt.Sprintf("sub-%d", i%2), eventstore.Any, NewEvent("test.counted", fmt.Sprintf(`{"n":%d}`, i)))
	}
	got := fromStart.waitFor(t, 12, 10*time.Second)
	want := readAll(t, s)
	if len(got) != 12 || len(want) != 12 {
		t.Fatalf("subscription saw %d events, $all has %d, want 12", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].Position != want[i].Position {
			t.Fatalf("event %d: subscription %v@%d, $all %v@%d", i, got[i].ID, got[i].Position, want[i].ID, want[i].Position)
		}
	}
	mid := fromMiddle.waitFor(t, 9, 10*time.Second)
	if mid[0].ID != want[3].ID {
		t.Fatalf("subscription after position %d started at %v, want %v", all[2].Position, mid[0].ID, want[3].ID)
	}
	if n := len(fromStart.settle(t, s, "sub-marker-", "test.counted")); n != 12 {
		t.Fatalf("subscription delivered %d events, want 12 (a repeat)", n)
	}
}

func testSubscribeFiltered(t *testing.T, open Opener) {
	s := open(t)
	c := subscribe(t, s, eventstore.SubscribeOptions{Filter: eventstore.Filter{StreamPrefix: "product-", Types: []string{"product.stock_adjusted"}}})
	for i := range 20 {
		mustAppend(t, s, fmt.Sprintf("product-%d", i%3), eventstore.Any, NewEvent("product.stock_adjusted", `{}`))
		mustAppend(t, s, fmt.Sprintf("product-%d", i%3), eventstore.Any, NewEvent("product.updated", `{}`))
		mustAppend(t, s, fmt.Sprintf("cart-%d", i%3), eventstore.Any, NewEvent("product.stock_adjusted", `{}`))
	}
	got := c.waitFor(t, 20, 10*time.Second)
	for _, e := range got {
		if e.Type != "product.stock_adjusted" || e.StreamID[:8] != "product-" {
			t.Fatalf("filtered subscription delivered %s/%s", e.StreamID, e.Type)
		}
	}
	if n := len(c.settle(t, s, "product-marker-", "product.stock_adjusted")); n != 20 {
		t.Fatalf("filtered subscription delivered %d events, want 20", n)
	}
}

func testSubscribeHandlerError(t *testing.T, open Opener) {
	s := open(t)
	mustAppend(t, s, "h-1", eventstore.Any, NewEvent("test.a", `{}`), NewEvent("test.b", `{}`), NewEvent("test.c", `{}`))
	boom := errors.New("projection cannot apply")
	var seen []string
	err := s.Subscribe(ctxT(t), eventstore.SubscribeOptions{}, func(e eventstore.Event) error {
		seen = append(seen, e.Type)
		if e.Type == "test.b" {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Subscribe returned %v, want the handler's error", err)
	}
	if fmt.Sprint(seen) != "[test.a test.b]" {
		t.Fatalf("handler saw %v after failing, want [test.a test.b]", seen)
	}
}

func testCancelledContext(t *testing.T, open Opener) {
	s := open(t)
	mustAppend(t, s, "c-1", eventstore.Any, NewEvent("test.a", `{}`))
	// Warm up the store so lazily started background work is not counted.
	if _, err := s.ReadAll(ctxT(t), eventstore.ReadAllOptions{}); err != nil {
		t.Fatal(err)
	}
	leakCheck := goleak.IgnoreCurrent()

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.ReadAll(cancelled, eventstore.ReadAllOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadAll with a cancelled context = %v, want context.Canceled", err)
	}
	if _, err := s.ReadStream(cancelled, "c-1", eventstore.ReadStreamOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadStream with a cancelled context = %v, want context.Canceled", err)
	}
	if _, err := s.Append(cancelled, "c-1", eventstore.Any, NewEvent("test.b", `{}`)); err == nil {
		t.Errorf("Append with a cancelled context succeeded")
	}

	// Live subscriptions, idle and caught up, stop promptly when cancelled.
	const subs = 8
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, subs)
	delivered := make(chan struct{}, subs)
	for range subs {
		go func() {
			done <- s.Subscribe(ctx, eventstore.SubscribeOptions{}, func(eventstore.Event) error {
				select {
				case delivered <- struct{}{}:
				default:
				}
				return nil
			})
		}()
	}
	for range subs {
		select {
		case <-delivered:
		case <-time.After(10 * time.Second):
			t.Fatal("subscriptions did not deliver the first event")
		}
	}
	time.Sleep(50 * time.Millisecond)
	stop()
	deadline := time.After(30 * time.Second)
	for range subs {
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled subscription returned %v, want context.Canceled", err)
			}
		case <-deadline:
			t.Fatal("a cancelled subscription did not return within 30s")
		}
	}
	if err := goleak.Find(leakCheck); err != nil {
		t.Errorf("goroutines left behind after cancelled reads and subscriptions: %v", err)
	}
}

// orderPlacedV1 and orderPlacedV2 are two schema versions of one event: v2
// split the customer's name into two fields.
type orderPlacedV2 struct {
	OrderID   string `json:"order_id"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

func testCodecUpcastOnRead(t *testing.T, open Opener) {
	s := open(t)
	old := eventstore.EventData{
		ID: uuid.New(), Type: "order.placed", SchemaVersion: 1,
		Data: json.RawMessage(`{"order_id":"o-1","customer":"Ada Lovelace"}`),
	}
	mustAppend(t, s, "order-o-1", eventstore.NoStream, old)

	codec := eventstore.NewCodec()
	eventstore.Register[orderPlacedV2](codec, "order.placed", 2)
	codec.Upcast("order.placed", 1, func(in json.RawMessage) (json.RawMessage, error) {
		var v1 struct {
			OrderID  string `json:"order_id"`
			Customer string `json:"customer"`
		}
		if err := json.Unmarshal(in, &v1); err != nil {
			return nil, err
		}
		first, last, _ := strings.Cut(v1.Customer, " ")
		return json.Marshal(orderPlacedV2{OrderID: v1.OrderID, FirstName: first, LastName: last})
	})
	typ, ver, data, err := codec.Encode(orderPlacedV2{OrderID: "o-2", FirstName: "Grace", LastName: "Hopper"})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, "order-o-2", eventstore.NoStream, eventstore.EventData{ID: uuid.New(), Type: typ, SchemaVersion: ver, Data: data})

	for _, tc := range []struct {
		stream string
		want   orderPlacedV2
	}{
		{"order-o-1", orderPlacedV2{"o-1", "Ada", "Lovelace"}},
		{"order-o-2", orderPlacedV2{"o-2", "Grace", "Hopper"}},
	} {
		evs := readStream(t, s, tc.stream)
		if len(evs) != 1 {
			t.Fatalf("%s has %d events", tc.stream, len(evs))
		}
		got, err := codec.Decode(evs[0])
		if err != nil {
			t.Fatalf("decode %s: %v", tc.stream, err)
		}
		if got != tc.want {
			t.Fatalf("decoded %+v, want %+v", got, tc.want)
		}
	}
}

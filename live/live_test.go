package live_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/commerce-engine/commerce/auth"
	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/customer"
	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/domain/order"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/httpapi"
	"github.com/commerce-engine/commerce/live"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func recv(t *testing.T, ch <-chan live.Update) live.Update {
	t.Helper()
	select {
	case u := <-ch:
		return u
	case <-time.After(30 * time.Second):
		t.Fatal("no update within 30s")
		return live.Update{}
	}
}

func TestHubRoutesByCustomer(t *testing.T) {
	t.Parallel()
	h := live.NewHub(8)
	a, cancelA := h.Subscribe("cus-a")
	b, cancelB := h.Subscribe("cus-b")
	defer cancelB()
	h.Publish(live.Update{OrderID: "o1", Status: "placed", CustomerID: "cus-a"})
	h.Publish(live.Update{OrderID: "o2", Status: "placed", CustomerID: "cus-b"})
	if u := recv(t, a); u.OrderID != "o1" {
		t.Errorf("A got %+v, want o1", u)
	}
	if u := recv(t, b); u.OrderID != "o2" {
		t.Errorf("B got %+v, want o2", u)
	}
	select {
	case u := <-a:
		t.Errorf("A got another update %+v", u)
	default:
	}
	cancelA()
	cancelA() // idempotent
	if _, ok := <-a; ok {
		t.Error("channel open after cancel")
	}
	h.Publish(live.Update{OrderID: "o3", CustomerID: "cus-a"}) // nobody listens: no panic, no drop
	if d := h.Dropped(); d != 0 {
		t.Errorf("Dropped = %d, want 0", d)
	}
}

func TestHubSlowClientDoesNotBlock(t *testing.T) {
	t.Parallel()
	const n, buf = 10000, 64
	h := live.NewHub(buf)
	_, cancelSlow := h.Subscribe("cus-slow") // never read
	defer cancelSlow()
	fast, cancelFast := h.Subscribe("cus-fast")
	defer cancelFast()
	got := make(chan int)
	go func() {
		count := 0
		for range fast {
			count++
		}
		got <- count
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			h.Publish(live.Update{OrderID: "slow", Status: "placed", CustomerID: "cus-slow"})
			h.Publish(live.Update{OrderID: "fast", Status: "placed", CustomerID: "cus-fast", At: t0.Add(time.Duration(i))})
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Publish blocked behind a client that does not read")
	}
	// The fast reader may lag too; what it lost is in Dropped beyond the
	// slow client's n-buf.
	cancelFast()
	count := <-got
	slowDropped := int64(n - buf)
	if d := h.Dropped(); d < slowDropped || int64(count)+(d-slowDropped) != n {
		t.Errorf("fast reader got %d, Dropped = %d: want %d from the slow client and got+rest = %d", count, d, slowDropped, n)
	}
	if count == 0 {
		t.Error("the fast reader got nothing")
	}
}

func TestHubKeepsNewestOnOverflow(t *testing.T) {
	t.Parallel()
	h := live.NewHub(2)
	ch, cancel := h.Subscribe("c")
	defer cancel()
	for _, s := range []string{"placed", "processing", "shipped"} {
		h.Publish(live.Update{OrderID: "o", Status: s, CustomerID: "c"})
	}
	if a, b := recv(t, ch), recv(t, ch); a.Status != "processing" || b.Status != "shipped" {
		t.Errorf("kept %s, %s; want processing, shipped", a.Status, b.Status)
	}
	if d := h.Dropped(); d != 1 {
		t.Errorf("Dropped = %d, want 1", d)
	}
}

type fakeDirectory map[string]string

func (d fakeDirectory) OrderCustomer(_ context.Context, id string) (string, error) {
	c, ok := d[id]
	if !ok {
		return "", errors.New("unknown order " + id)
	}
	return c, nil
}

var codec = commands.NewCodec()

func event(t *testing.T, payload any) eventstore.Event {
	t.Helper()
	name, version, data, err := codec.Encode(payload)
	if err != nil {
		t.Fatal(err)
	}
	return eventstore.Event{ID: uuid.New(), StreamID: "order-o", Version: 1, Type: name, SchemaVersion: version, Data: data, RecordedAt: t0}
}

func TestConsumer(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 3, 1, 13, 0, 0, 0, time.FixedZone("CET", 3600))
	eur := money.Money{Amount: 100, Currency: "EUR"}
	tests := []struct {
		payload any
		order   string
		status  string
		cust    string
	}{
		{order.Placed{OrderID: "o1", CustomerID: "cus-p", Total: eur, At: at}, "o1", "placed", "cus-p"}, // not in the directory
		{order.Processing{OrderID: "o2", At: at}, "o2", "processing", "cus-2"},
		{order.Shipped{OrderID: "o2", Carrier: "DHL", TrackingNumber: "1", At: at}, "o2", "shipped", "cus-2"},
		{order.Delivered{OrderID: "o3", At: at}, "o3", "delivered", "cus-3"},
		{order.Cancelled{OrderID: "o3", Reason: "x", At: at}, "o3", "cancelled", "cus-3"},
		{order.Refunded{OrderID: "o2", PaymentID: "p", Amount: eur, At: at}, "o2", "refunded", "cus-2"},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			t.Parallel()
			hub := live.NewHub(4)
			ch, cancel := hub.Subscribe(tt.cust)
			defer cancel()
			c := &live.Consumer{Hub: hub, Codec: codec, Directory: fakeDirectory{"o2": "cus-2", "o3": "cus-3"}}
			if err := c.Handle(context.Background(), event(t, tt.payload)); err != nil {
				t.Fatal(err)
			}
			want := live.Update{OrderID: tt.order, Status: tt.status, At: at.UTC(), CustomerID: tt.cust}
			if got := recv(t, ch); got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
	t.Run("directory failure is retried", func(t *testing.T) {
		t.Parallel()
		c := &live.Consumer{Hub: live.NewHub(1), Codec: codec, Directory: fakeDirectory{}}
		if err := c.Handle(context.Background(), event(t, order.Shipped{OrderID: "nope", At: at})); err == nil {
			t.Error("no error for an order the directory does not know")
		}
	})
	t.Run("other types are ignored", func(t *testing.T) {
		t.Parallel()
		c := &live.Consumer{Hub: live.NewHub(1), Codec: codec, Directory: fakeDirectory{}}
		e := eventstore.Event{ID: uuid.New(), Type: "cart.item_added", SchemaVersion: 1, Data: []byte(`{}`)}
		if err := c.Handle(context.Background(), e); err != nil {
			t.Errorf("Handle(cart event) = %v", err)
		}
	})
}

// liveServer serves the live handler behind the real auth middleware.
func liveServer(t *testing.T, hub *live.Hub) (srv *httptest.Server, tokenFor func(user string) string) {
	t.Helper()
	tokens, err := auth.NewTokens(auth.TokensConfig{Secret: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	r.GET("/api/v1/orders/live", auth.Authenticate(tokens), httpapi.LiveHandler(hub, 20*time.Millisecond))
	srv = httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv, func(user string) string {
		tok, _, err := tokens.Issue(user, customer.RoleShopper)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
}

func TestHandlerStreamsOwnUpdates(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	hub := live.NewHub(8)
	srv, tokenFor := liveServer(t, hub)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/orders/live", nil)
	req.Header.Set("Authorization", "Bearer "+tokenFor("cus-a"))
	resp, err := srv.Client().Do(req) //nolint:bodyclose // closed by the defer below
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	next := func() string {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("stream ended")
			}
			return l
		case <-time.After(30 * time.Second):
			t.Fatal("no line within 30s")
			return ""
		}
	}
	if l := next(); !strings.HasPrefix(l, ":") {
		t.Fatalf("first line %q, want a comment", l)
	}
	// The handler subscribes before its first write: the update cannot be missed.
	hub.Publish(live.Update{OrderID: "ord-b", Status: "shipped", At: t0, CustomerID: "cus-b"})
	hub.Publish(live.Update{OrderID: "ord-a", Status: "shipped", At: t0, CustomerID: "cus-a"})
	var frame []string
	heartbeats := 0
	for len(frame) < 2 {
		l := next()
		switch {
		case strings.HasPrefix(l, ":"):
			heartbeats++
		case l == "":
		default:
			frame = append(frame, l)
		}
	}
	want := []string{"event: order", `data: {"order_id":"ord-a","status":"shipped","at":"2025-03-01T12:00:00Z"}`}
	if frame[0] != want[0] || frame[1] != want[1] {
		t.Errorf("frame %q, want %q (B's update must not be sent to A)", frame, want)
	}
	for heartbeats < 2 {
		if l := next(); strings.HasPrefix(l, "data:") {
			t.Errorf("unexpected %q", l)
		} else if strings.HasPrefix(l, ":") {
			heartbeats++
		}
	}
	cancel() // the client goes away
	for range lines {
	}
	_ = resp.Body.Close()
	srv.Client().CloseIdleConnections()
	srv.Close() // waits for the handler to return
	// Its deferred cancel removed A's subscription: nothing fills a buffer.
	for range 20 {
		hub.Publish(live.Update{OrderID: "ord-a2", CustomerID: "cus-a"})
	}
	if d := hub.Dropped(); d != 0 {
		t.Errorf("Dropped = %d after the client left: its subscription is still there", d)
	}
}

func TestHandlerRequiresClaims(t *testing.T) {
	t.Parallel()
	r := gin.New()
	r.GET("/live", httpapi.LiveHandler(live.NewHub(1), 0))
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/live", nil))
	if w.Code != http.StatusUnauthorized {
		t.Errorf("status %d, want 401", w.Code)
	}
}

func TestHubCloseEndsStreams(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	hub := live.NewHub(8)
	srv, tokenFor := liveServer(t, hub)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/orders/live", nil)
	req.Header.Set("Authorization", "Bearer "+tokenFor("cus-a"))
	resp, err := srv.Client().Do(req) //nolint:bodyclose // closed by the defer below
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	hub.Close()
	done := make(chan error, 1)
	go func() {
		_, err := bufio.NewReader(resp.Body).ReadString(0) // until EOF
		done <- err
	}()
	select {
	case <-done: //nolint:errcheck // EOF or a reset: either way the stream ended
	case <-time.After(30 * time.Second):
		t.Fatal("stream still open after Hub.Close")
	}
	if _, ok := <-func() <-chan live.Update { ch, _ := hub.Subscribe("x"); return ch }(); ok {
		t.Error("Subscribe after Close returned an open channel")
	}
	srv.Close()
}

// at is a Readable that answers what p holds.
func at(p *atomic.Int64) func(context.Context) (eventstore.Position, error) {
	return func(context.Context) (eventstore.Position, error) { return eventstore.Position(p.Load()), nil }
}

// runGate runs g until the returned stop, which waits for Run and returns
// its error.
func runGate(g *live.Gate) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	return func() error { cancel(); return <-done }
}

// TestGateHoldsUpdatesUntilReadable: an update leaves the gate once the
// read side has applied its position, in the order updates came, or after
// MaxHold when the read side does not move; stopping releases the rest.
func TestGateHoldsUpdatesUntilReadable(t *testing.T) {
	t.Parallel()
	hub := live.NewHub(8)
	ch, cancel := hub.Subscribe("cus-g")
	defer cancel()
	var readable atomic.Int64
	// MaxHold hours long: here only the read side releases updates.
	g := &live.Gate{Hub: hub, MaxHold: 6 * time.Hour, Poll: time.Millisecond, Readable: at(&readable)}
	stop := runGate(g)
	// none holds a marker at a position already readable: the gate must
	// push it, and an update it pushed wrongly before would come first.
	marks := 0
	none := func(what string) {
		t.Helper()
		marks++
		mark := fmt.Sprintf("mark-%d", marks)
		g.Hold(eventstore.Position(readable.Load()), live.Update{OrderID: mark, Status: "placed", CustomerID: "cus-g"})
		if u := recv(t, ch); u.OrderID != mark {
			t.Fatalf("%s: %+v was pushed", what, u)
		}
	}
	g.Hold(5, live.Update{OrderID: "o1", Status: "placed", CustomerID: "cus-g"})
	g.Hold(9, live.Update{OrderID: "o1", Status: "processing", CustomerID: "cus-g"})
	none("before the read side applied anything")
	readable.Store(5)
	if u := recv(t, ch); u.Status != "placed" {
		t.Fatalf("got %+v, want placed", u)
	}
	none("with the read side at 5")
	readable.Store(20)
	if u := recv(t, ch); u.Status != "processing" {
		t.Fatalf("got %+v, want processing", u)
	}
	// A read side that stays behind delays a push by MaxHold, no more.
	short := &live.Gate{Hub: hub, MaxHold: 300 * time.Millisecond, Poll: time.Millisecond, Readable: at(&readable)}
	stopShort := runGate(short)
	held := time.Now()
	short.Hold(30, live.Update{OrderID: "o2", Status: "placed", CustomerID: "cus-g"})
	if u := recv(t, ch); u.OrderID != "o2" || time.Since(held) < 300*time.Millisecond {
		t.Fatalf("got %+v after %v, want o2 after MaxHold", u, time.Since(held))
	}
	if err := stopShort(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	g.Hold(40, live.Update{OrderID: "o3", Status: "placed", CustomerID: "cus-g"})
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	if u := recv(t, ch); u.OrderID != "o3" {
		t.Fatalf("got %+v, want o3 released at stop", u)
	}
	g.Hold(50, live.Update{OrderID: "o4", Status: "placed", CustomerID: "cus-g"})
	if u := recv(t, ch); u.OrderID != "o4" {
		t.Fatalf("got %+v, want o4 pushed at once after the stop", u)
	}
}

// TestGateOutlivesAHangingReadSide: a read side that does not answer holds
// a push for MaxHold, not forever.
func TestGateOutlivesAHangingReadSide(t *testing.T) {
	t.Parallel()
	hub := live.NewHub(4)
	ch, cancel := hub.Subscribe("cus-h")
	defer cancel()
	g := &live.Gate{Hub: hub, MaxHold: 100 * time.Millisecond, Poll: time.Millisecond,
		Readable: func(ctx context.Context) (eventstore.Position, error) { <-ctx.Done(); return 0, ctx.Err() }}
	stop := runGate(g)
	defer func() { _ = stop() }()
	g.Hold(3, live.Update{OrderID: "o1", Status: "placed", CustomerID: "cus-h"})
	if u := recv(t, ch); u.OrderID != "o1" {
		t.Fatalf("got %+v", u)
	}
}

// TestConsumerHoldsUpdatesAtTheGate: with a Gate, the consumer queues the
// update with its event's position instead of pushing it at once.
func TestConsumerHoldsUpdatesAtTheGate(t *testing.T) {
	t.Parallel()
	hub := live.NewHub(4)
	ch, cancel := hub.Subscribe("cus-p")
	defer cancel()
	var readable atomic.Int64
	g := &live.Gate{Hub: hub, MaxHold: 6 * time.Hour, Poll: time.Millisecond, Readable: at(&readable)}
	stop := runGate(g)
	defer func() { _ = stop() }()
	c := &live.Consumer{Hub: hub, Codec: codec, Directory: fakeDirectory{}, Gate: g}
	e := event(t, order.Placed{OrderID: "o1", CustomerID: "cus-p", At: time.Now()})
	e.Position = 7
	if err := c.Handle(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	// A marker already readable must leave the gate; o1 pushed at once
	// would come before it.
	g.Hold(0, live.Update{OrderID: "mark", Status: "placed", CustomerID: "cus-p"})
	if u := recv(t, ch); u.OrderID != "mark" {
		t.Fatalf("%+v pushed before its position was readable", u)
	}
	readable.Store(7)
	if u := recv(t, ch); u.OrderID != "o1" {
		t.Fatalf("got %+v", u)
	}
}

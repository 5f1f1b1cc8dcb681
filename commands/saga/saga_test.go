package saga_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/commands/saga"
	"github.com/commerce-engine/commerce/domain/cart"
	"github.com/commerce-engine/commerce/domain/catalog"
	"github.com/commerce-engine/commerce/domain/checkout"
	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/domain/order"
	"github.com/commerce-engine/commerce/domain/payment"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/eventstore/postgres"
	"github.com/commerce-engine/commerce/eventstore/sqlite"
	"github.com/commerce-engine/commerce/internal/testsvc"
	"github.com/commerce-engine/commerce/payments"
)

// clock is a settable time source so expiry can be reached without waiting.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// rig is a saga on an embedded store whose events are delivered to the saga
// by a plain subscription (the bus is tested in messaging); deliveries can
// be doubled to show idempotency.
type rig struct {
	t        *testing.T
	store    eventstore.Store
	run      *commands.Runner
	saga     *saga.Saga
	offline  *payments.Offline
	clock    *clock
	timeouts *saga.Timeouts
	handled  atomic.Int64
}

func newRig(t *testing.T, duplicate bool) *rig {
	t.Helper()
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	return newRigOn(t, store, duplicate)
}

// newPostgresRig runs the saga on a PostgreSQL event store in a schema of
// the test's own.
func newPostgresRig(t *testing.T) *rig {
	t.Helper()
	url, schema := testsvc.PostgresSchema(t)
	ctx := context.Background()
	if _, err := postgres.Migrate(ctx, url, schema); err != nil {
		t.Fatal(err)
	}
	store, err := postgres.Open(ctx, postgres.Config{URL: url, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	return newRigOn(t, store, false)
}

func newRigOn(t *testing.T, store eventstore.Store, duplicate bool) *rig {
	t.Helper()
	t.Cleanup(func() { _ = store.Close() })
	r := &rig{t: t, store: store, offline: payments.NewOffline(), clock: &clock{t: time.Now().UTC()}}
	r.run = &commands.Runner{Store: store, Codec: commands.NewCodec(), Cache: commands.NewStateCache(1000)}
	r.saga = saga.New(saga.Config{Runner: r.run, Provider: r.offline, Expiry: time.Minute, Now: r.clock.Now})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Add(2)
	go func() {
		defer wg.Done()
		_ = store.Subscribe(ctx, eventstore.SubscribeOptions{Filter: eventstore.Filter{Types: saga.Types}}, func(e eventstore.Event) error {
			for attempt := 0; ; attempt++ {
				err := r.saga.Handle(ctx, e)
				if err == nil && duplicate {
					err = r.saga.Handle(ctx, e)
				}
				if err == nil || ctx.Err() != nil {
					break
				}
				if attempt > 50 {
					t.Errorf("saga gave up on %s at %d: %v", e.Type, e.Position, err)
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			r.handled.Add(1)
			return nil
		})
	}()
	r.timeouts = &saga.Timeouts{Saga: r.saga, Store: store, Tick: 10 * time.Millisecond}
	go func() { defer wg.Done(); _ = r.timeouts.Run(ctx) }()
	return r
}

func eur(a int64) money.Money { return money.Money{Amount: a, Currency: "EUR"} }

func (r *rig) meta(step string) commands.Metadata {
	return commands.Metadata{CommandID: uuid.NewString() + "/" + step, Actor: "test"}
}

func (r *rig) product(stock int64, price int64) string {
	r.t.Helper()
	id := uuid.NewString()
	ctx := context.Background()
	if _, err := commands.Handle(ctx, r.run, commands.Product, catalog.StreamID(id), catalog.CreateProduct{
		ProductID: id, SKU: "SKU-" + id[:8], Name: "Thing", Category: "things", Price: eur(price), At: r.clock.Now(),
	}, r.meta("create")); err != nil {
		r.t.Fatal(err)
	}
	if _, err := commands.Handle(ctx, r.run, commands.Product, catalog.StreamID(id), catalog.AdjustStock{
		ProductID: id, Delta: stock, Reason: "delivery", At: r.clock.Now(),
	}, r.meta("stock")); err != nil {
		r.t.Fatal(err)
	}
	return id
}

func (r *rig) shopper(items map[string]int64) string {
	r.t.Helper()
	id := uuid.NewString()
	for _, p := range slices.Sorted(func(yield func(string) bool) {
		for k := range items {
			if !yield(k) {
				return
			}
		}
	}) {
		if _, err := commands.AddToCart(context.Background(), r.run, cart.AddItem{
			CartID: id, CustomerID: id, ProductID: p, Quantity: items[p], At: r.clock.Now(),
		}, r.meta("add")); err != nil {
			r.t.Fatal(err)
		}
	}
	return id
}

// webhook records a provider outcome the way the webhook endpoint does.
func (r *rig) webhook(eventID string, cmd any, paymentID string) {
	r.t.Helper()
	if _, err := commands.Handle(context.Background(), r.run, commands.Payment, payment.StreamID(paymentID), cmd,
		commands.Metadata{CommandID: "webhook/" + eventID, Actor: "provider:offline"}); err != nil {
		r.t.Fatalf("webhook %s: %v", eventID, err)
	}
}

func (r *rig) checkout(id string) checkout.State {
	r.t.Helper()
	s, _, err := commands.Load(context.Background(), r.run, commands.Checkout, checkout.StreamID(id))
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

func (r *rig) stock(id string) catalog.State {
	r.t.Helper()
	s, _, err := commands.Load(context.Background(), r.run, commands.Product, catalog.StreamID(id))
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

func (r *rig) cart(id string) cart.State {
	r.t.Helper()
	s, _, err := commands.Load(context.Background(), r.run, commands.Cart, cart.StreamID(id))
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

func (r *rig) order(id string) order.State {
	r.t.Helper()
	s, _, err := commands.Load(context.Background(), r.run, commands.Order, order.StreamID(id))
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

func (r *rig) payment(id string) payment.State {
	r.t.Helper()
	s, _, err := commands.Load(context.Background(), r.run, commands.Payment, payment.StreamID(id))
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

// eventually polls cond until it holds or 10 s pass.
func (r *rig) eventually(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *rig) start(customer string) saga.Intent {
	r.t.Helper()
	in, err := r.saga.Start(context.Background(), customer, r.meta("checkout"))
	if err != nil {
		r.t.Fatalf("start checkout: %v", err)
	}
	return in
}

func TestCheckoutPaidPlacesOneOrder(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	p1, p2 := r.product(5, 1250), r.product(3, 300)
	shopper := r.shopper(map[string]int64{p1: 2, p2: 1})
	in := r.start(shopper)
	if in.Amount != eur(2800) || in.ClientSecret == "" || in.Status != "requires_payment_method" {
		t.Fatalf("intent: %+v", in)
	}
	if s := r.stock(p1); s.Reserved != 2 || s.OnHand != 5 {
		t.Fatalf("after intent p1 on hand %d reserved %d, want 5 and 2", s.OnHand, s.Reserved)
	}
	if !r.cart(shopper).CheckedOut() {
		t.Fatal("cart not frozen by the checkout")
	}
	// The same webhook three times, and a stale failure after it.
	for range 3 {
		r.webhook("evt_ok", payment.MarkSucceeded{PaymentID: in.PaymentID, Amount: in.Amount, At: r.clock.Now()}, in.PaymentID)
	}
	r.webhook("evt_late_fail", payment.MarkFailed{PaymentID: in.PaymentID, Reason: "old attempt", At: r.clock.Now()}, in.PaymentID)
	r.eventually("checkout completed", func() bool { return r.checkout(in.CheckoutID).Status == checkout.StatusCompleted })
	o := r.order(in.CheckoutID)
	if o.Status != order.StatusPlaced || o.Total != eur(2800) || o.PaymentID != in.PaymentID || o.CustomerID != shopper {
		t.Fatalf("order: %+v", o)
	}
	if s := r.stock(p1); s.OnHand != 3 || s.Reserved != 0 {
		t.Fatalf("p1 on hand %d reserved %d, want 3 and 0", s.OnHand, s.Reserved)
	}
	if s := r.stock(p2); s.OnHand != 2 || s.Reserved != 0 {
		t.Fatalf("p2 on hand %d reserved %d, want 2 and 0", s.OnHand, s.Reserved)
	}
	if c := r.cart(shopper); len(c.Lines) != 0 || c.CheckedOut() {
		t.Fatalf("cart after order: %+v", c)
	}
	// Expiry passing after completion changes nothing. A witness checkout
	// open beside it must expire: once it is released and unscheduled, the
	// timeouts have fired at a time past the completed one's expiry too.
	witness := r.start(r.shopper(map[string]int64{p2: 1}))
	r.clock.Add(2 * time.Minute)
	r.eventually("the witness checkout expired", func() bool { return r.checkout(witness.CheckoutID).Status == checkout.StatusReleased })
	r.eventually("the timeouts to unschedule the witness", func() bool { return r.timeouts.Pending() == 0 })
	if st := r.checkout(in.CheckoutID); st.Status != checkout.StatusCompleted {
		t.Fatalf("completed checkout became %s", st.Status)
	}
	if p := r.payment(in.PaymentID); p.Status != payment.StatusSucceeded {
		t.Fatalf("payment %+v", p)
	}
}

func TestPaymentFailedReleasesAndKeepsCart(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	p := r.product(4, 1000)
	shopper := r.shopper(map[string]int64{p: 3})
	in := r.start(shopper)
	r.webhook("evt_fail", payment.MarkFailed{PaymentID: in.PaymentID, Reason: "card_declined", At: r.clock.Now()}, in.PaymentID)
	r.eventually("released", func() bool { return r.checkout(in.CheckoutID).Status == checkout.StatusReleased })
	if s := r.stock(p); s.Reserved != 0 || s.OnHand != 4 {
		t.Fatalf("stock after failure: on hand %d reserved %d", s.OnHand, s.Reserved)
	}
	c := r.cart(shopper)
	if c.CheckedOut() || c.Lines[p].Quantity != 3 {
		t.Fatalf("cart after failure: %+v", c)
	}
	if o := r.order(in.CheckoutID); o.Status != 0 {
		t.Fatalf("an order exists after a failed payment: %+v", o)
	}
	// The shopper can check out again.
	in2 := r.start(shopper)
	if in2.CheckoutID == in.CheckoutID {
		t.Fatal("second checkout reused the first's id")
	}
}

func TestShortStockHoldsNothing(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	plenty, scarce := r.product(10, 100), r.product(2, 100)
	shopper := r.shopper(map[string]int64{plenty: 3, scarce: 1})
	// Someone else takes one of the two scarce units after the cart was filled.
	other := r.shopper(map[string]int64{scarce: 2})
	r.start(other)
	_, err := r.saga.Start(context.Background(), shopper, r.meta("checkout"))
	var short *saga.ShortError
	if !errors.As(err, &short) || !errors.Is(err, saga.ErrStockShort) {
		t.Fatalf("want a ShortError, got %v", err)
	}
	if len(short.Lines) != 1 || short.Lines[0].ProductID != scarce || short.Lines[0].Available != 0 || short.Lines[0].Requested != 1 {
		t.Fatalf("short lines: %+v", short.Lines)
	}
	if s := r.stock(plenty); s.Reserved != 0 {
		t.Fatalf("the line that fitted is still held: reserved %d", s.Reserved)
	}
	if c := r.cart(shopper); c.CheckedOut() || len(c.Lines) != 2 {
		t.Fatalf("cart after a short checkout: %+v", c)
	}
	if _, err := r.saga.Start(context.Background(), uuid.NewString(), r.meta("checkout")); !errors.Is(err, cart.ErrCartEmpty) {
		t.Fatalf("empty cart: %v", err)
	}
	if _, err := r.saga.Start(context.Background(), other, r.meta("checkout")); !errors.Is(err, saga.ErrCheckoutInProgress) {
		t.Fatalf("second checkout of a frozen cart: %v", err)
	}
}

func TestExpiryReleasesAndLatePaymentIsRefunded(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	p := r.product(1, 999)
	shopper := r.shopper(map[string]int64{p: 1})
	in := r.start(shopper)
	r.clock.Add(time.Minute)
	r.eventually("expired and released", func() bool { return r.checkout(in.CheckoutID).Status == checkout.StatusReleased })
	if s := r.stock(p); s.Reserved != 0 || s.Available() != 1 {
		t.Fatalf("stock after expiry: %+v", s)
	}
	if r.checkout(in.CheckoutID).Reason != "expired" {
		t.Fatalf("reason %q", r.checkout(in.CheckoutID).Reason)
	}
	// The unit goes to someone else.
	other := r.shopper(map[string]int64{p: 1})
	in2 := r.start(other)
	r.webhook("evt_other", payment.MarkSucceeded{PaymentID: in2.PaymentID, At: r.clock.Now()}, in2.PaymentID)
	// Then the first shopper's payment succeeds anyway: refunded, no order.
	r.webhook("evt_late", payment.MarkSucceeded{PaymentID: in.PaymentID, At: r.clock.Now()}, in.PaymentID)
	r.eventually("late payment refunded", func() bool { return r.payment(in.PaymentID).Status == payment.StatusRefunded })
	r.eventually("refund recorded on the checkout", func() bool { return r.checkout(in.CheckoutID).RefundDone })
	r.eventually("other order placed", func() bool { return r.order(in2.CheckoutID).Status == order.StatusPlaced })
	if o := r.order(in.CheckoutID); o.Status != 0 {
		t.Fatalf("late payment got an order: %+v", o)
	}
	if s := r.stock(p); s.OnHand != 0 || s.Reserved != 0 {
		t.Fatalf("unit sold twice or lost: %+v", s)
	}
	// Stripe's charge.refunded for the same refund records nothing more.
	r.webhook("evt_refund", payment.RecordRefund{PaymentID: in.PaymentID, TotalRefunded: eur(999), At: r.clock.Now()}, in.PaymentID)
	if pay := r.payment(in.PaymentID); pay.Refunded != eur(999) {
		t.Fatalf("refunded %v", pay.Refunded)
	}
}

func TestCrashedStartIsExpiredByTheTimeout(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	p := r.product(2, 500)
	shopper := r.shopper(map[string]int64{p: 2})
	// A start that died after freezing the cart and reserving: only the
	// log is left, no one holds its request any more.
	id := uuid.NewString()
	ctx := context.Background()
	m := commands.Metadata{CommandID: "crash/" + id, Actor: "test"}
	now := r.clock.Now()
	if _, err := commands.Handle(ctx, r.run, commands.Checkout, checkout.StreamID(id), checkout.Start{CheckoutID: id, CartID: shopper, CustomerID: shopper,
		Lines: []checkout.Line{{ProductID: p, Quantity: 2, UnitPrice: eur(500), LineTotal: eur(1000)}}, Total: eur(1000), ExpiresAt: now.Add(time.Minute), At: now}, m); err != nil {
		t.Fatal(err)
	}
	m.CommandID += "/2"
	if _, err := commands.Handle(ctx, r.run, commands.Cart, cart.StreamID(shopper), cart.CheckOut{CartID: shopper, CheckoutID: id, At: now}, m); err != nil {
		t.Fatal(err)
	}
	m.CommandID += "/4"
	if _, err := commands.Handle(ctx, r.run, commands.Product, catalog.StreamID(p), catalog.ReserveStock{ProductID: p, ReservationID: id, CheckoutID: id, Quantity: 2, ExpiresAt: now.Add(time.Minute), At: now}, m); err != nil {
		t.Fatal(err)
	}
	r.clock.Add(time.Minute)
	r.eventually("crashed checkout released", func() bool { return r.checkout(id).Status == checkout.StatusReleased })
	if s := r.stock(p); s.Reserved != 0 {
		t.Fatalf("reserved %d after the timeout", s.Reserved)
	}
	if r.cart(shopper).CheckedOut() {
		t.Fatal("cart still frozen")
	}
}

func TestCancellationRestocksAndRefunds(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	p := r.product(3, 700)
	shopper := r.shopper(map[string]int64{p: 2})
	in := r.start(shopper)
	r.webhook("evt_ok", payment.MarkSucceeded{PaymentID: in.PaymentID, At: r.clock.Now()}, in.PaymentID)
	r.eventually("order placed", func() bool { return r.order(in.CheckoutID).Status == order.StatusPlaced })
	if _, err := commands.Handle(context.Background(), r.run, commands.Order, order.StreamID(in.CheckoutID),
		order.Cancel{OrderID: in.CheckoutID, Reason: "changed my mind", At: r.clock.Now()}, r.meta("cancel")); err != nil {
		t.Fatal(err)
	}
	r.eventually("order refunded", func() bool { return r.order(in.CheckoutID).Status == order.StatusRefunded })
	if pay := r.payment(in.PaymentID); pay.Status != payment.StatusRefunded || pay.Refunded != eur(1400) {
		t.Fatalf("payment after cancellation: %+v", pay)
	}
	if s := r.stock(p); s.OnHand != 3 || s.Reserved != 0 {
		t.Fatalf("stock after cancellation: on hand %d reserved %d, want 3 and 0", s.OnHand, s.Reserved)
	}
}

// TestRaceForScarceStock: 200 shoppers race for 20 units of one product,
// on the embedded store and on PostgreSQL. Exactly 20 orders are paid,
// every other checkout is refused (short) or compensated, and the product's
// stock is never below zero nor below what is reserved at any point of its
// stream.
func TestRaceForScarceStock(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		raceForScarceStock(t, newRig(t, false))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		raceForScarceStock(t, newPostgresRig(t))
	})
}

func raceForScarceStock(t *testing.T, r *rig) {
	p := r.product(20, 1500)
	const shoppers = 200
	ids := make([]string, shoppers)
	for i := range ids {
		ids[i] = r.shopper(map[string]int64{p: 1})
	}
	var (
		wg                sync.WaitGroup
		paid, short, fail atomic.Int64
		mu                sync.Mutex
		intents           []saga.Intent
	)
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			declined := false
			for attempt := 0; ; attempt++ {
				in, err := r.saga.Start(context.Background(), id, r.meta("checkout"))
				switch {
				case err == nil:
					mu.Lock()
					intents = append(intents, in)
					mu.Unlock()
					// Every tenth shopper's card is declined once.
					if i%10 == 0 && !declined {
						declined = true
						r.webhook("evt_f_"+in.PaymentID, payment.MarkFailed{PaymentID: in.PaymentID, Reason: "declined", At: r.clock.Now()}, in.PaymentID)
						fail.Add(1)
						// and tries again with the kept cart
						continue
					}
					r.webhook("evt_s_"+in.PaymentID, payment.MarkSucceeded{PaymentID: in.PaymentID, At: r.clock.Now()}, in.PaymentID)
					paid.Add(1)
					return
				case errors.Is(err, saga.ErrStockShort):
					short.Add(1)
					return
				case errors.Is(err, commands.ErrConflict), errors.Is(err, saga.ErrCheckoutInProgress):
					// Lost the race for the stream, or the failed
					// checkout is still being released: try again.
					time.Sleep(time.Duration(attempt%10) * time.Millisecond)
					if attempt > 500 {
						t.Errorf("shopper %d: gave up after %d attempts: %v", i, attempt, err)
						return
					}
				default:
					t.Errorf("shopper %d: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if paid.Load() != 20 {
		t.Fatalf("%d payments succeeded, want exactly 20 (short %d, failed %d)", paid.Load(), short.Load(), fail.Load())
	}
	orders := 0
	r.eventually("every paid checkout completed", func() bool {
		orders = 0
		for _, in := range intents {
			if r.order(in.CheckoutID).Status == order.StatusPlaced {
				orders++
			}
		}
		return orders == 20
	})
	if s := r.stock(p); s.OnHand != 0 || s.Reserved != 0 {
		t.Fatalf("final stock on hand %d reserved %d, want 0 and 0", s.OnHand, s.Reserved)
	}
	// Never below zero, never more reserved than on hand, at any point.
	evs, err := r.store.ReadStream(context.Background(), catalog.StreamID(p), eventstore.ReadStreamOptions{Limit: eventstore.MaxReadLimit})
	if err != nil {
		t.Fatal(err)
	}
	var s catalog.State
	for _, e := range evs {
		payload, err := r.run.Codec.Decode(e)
		if err != nil {
			t.Fatal(err)
		}
		s = catalog.Evolve(s, payload)
		if s.OnHand < 0 || s.Reserved < 0 || s.Reserved > s.OnHand {
			t.Fatalf("at version %d: on hand %d reserved %d", e.Version, s.OnHand, s.Reserved)
		}
	}
	t.Logf("200 shoppers, 20 units: %d paid, %d refused short, %d declined and retried, %d product events", paid.Load(), short.Load(), fail.Load(), len(evs))
}

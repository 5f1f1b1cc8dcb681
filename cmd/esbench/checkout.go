package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/commands/saga"
	"github.com/commerce-engine/commerce/domain/cart"
	"github.com/commerce-engine/commerce/domain/catalog"
	"github.com/commerce-engine/commerce/domain/checkout"
	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/httpapi"
	"github.com/commerce-engine/commerce/internal/app"
	"github.com/commerce-engine/commerce/messaging"
	"github.com/commerce-engine/commerce/messaging/bench"
	"github.com/commerce-engine/commerce/payments"
)

// coProducts is how many products the checkout figure's carts draw from.
const coProducts = 50

// coStock is every product's stock: enough that no checkout is short.
const coStock = 1_000_000

// coTimeout bounds the timed part of the checkout figure.
const coTimeout = 5 * time.Minute

// coSetupWorkers is how many goroutines fill the carts before timing.
const coSetupWorkers = 16

// benchPublishSize is the payload size of bench.Publish's events.
const benchPublishSize = 300

// benchCheckout prints the RabbitMQ figures: the relay beside raw amqp091-go
// publishing with confirms, then checkouts per second through the saga on
// PostgreSQL and RabbitMQ, started through `commerce serve`'s assembly. It skips
// them, saying so, when RabbitMQ does not answer at amqpURL.
func benchCheckout(ctx context.Context, pgURL, amqpURL string, relayEvents, checkouts, workers int) {
	if amqpURL == "" {
		log.Printf("skipping the checkout figures: set -amqp or COMMERCE_TEST_AMQP_URL")
		return
	}
	conn, err := amqp.DialConfig(amqpURL, amqp.Config{Dial: amqp.DefaultDial(2 * time.Second)})
	if err != nil {
		log.Printf("RabbitMQ does not answer: %v: skipping the checkout figures", err)
		return
	}
	_ = conn.Close()
	if relayEvents > 0 {
		benchRelayPublish(ctx, amqpURL, relayEvents)
	}
	if checkouts > 0 {
		benchSagaCheckouts(ctx, pgURL, amqpURL, checkouts, max(1, workers))
	}
}

// runPrefix returns a RabbitMQ name prefix of its own for one figure, so
// that runs sharing a broker never meet and cleanup deletes only ours.
func runPrefix() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		fatalf("name prefix: %v", err)
	}
	return "esbench." + hex.EncodeToString(b[:]) + "."
}

// benchRelayPublish runs bench.Publish: the relay publishing n
// events from a store and raw amqp091-go publishing them with confirms.
// Publish deletes what it declares; this checks that nothing is left
// and deletes whatever is.
func benchRelayPublish(ctx context.Context, amqpURL string, n int) {
	prefix := runPrefix()
	// The names bench.Publish declares (see messaging/bench).
	relayX, rawX := prefix+messaging.Topic("bench-0"), prefix+"bench.raw"
	exchanges, queues := []string{relayX, rawX}, []string{relayX + ".sink", rawX + ".sink"}
	cleanup := func() { deleteAMQP(amqpURL, exchanges, queues) }
	cleanups = append(cleanups, cleanup)
	relay, raw, err := bench.Publish(ctx, amqpURL, prefix, n, benchPublishSize)
	if err != nil {
		fatalf("relay publish: %v", err)
	}
	if left := leftovers(amqpURL, exchanges, queues); len(left) > 0 {
		log.Printf("bench.Publish left %v on RabbitMQ: deleting them", left)
		cleanup()
	}
	line("raw_amqp091_publish_confirms", raw, "events/s", 0)
	line("relay_publish_rabbitmq", relay, "events/s", raw)
}

// coShopper is one shopper of the checkout figure, whose cart is filled
// before timing.
type coShopper struct {
	id string
}

// coRun is what the timed part of the checkout figure records.
type coRun struct {
	mu        sync.Mutex
	recorded  map[string]time.Time // checkout id: when its webhook's Record returned
	completed map[string]time.Time // checkout id: when its checkout.completed was seen
	intents   []time.Duration      // how long each Start took
	failures  []string             // the first failures, for the log
	failed    int
	done      chan struct{} // closed once want checkouts completed
	doneOnce  sync.Once
	want      int
}

// fail counts a checkout that did not go through, keeping the first few
// errors for the log.
func (r *coRun) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed++
	if len(r.failures) < 5 {
		r.failures = append(r.failures, err.Error())
	}
}

// complete records that checkoutID's checkout.completed was seen.
func (r *coRun) complete(checkoutID string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.completed[checkoutID]; dup {
		return
	}
	r.completed[checkoutID] = at
	r.check()
}

// check closes done once want checkouts completed; r.mu is held.
func (r *coRun) check() {
	if len(r.completed) >= r.want {
		r.doneOnce.Do(func() { close(r.done) })
	}
}

// benchSagaCheckouts starts the engine in this process through the same
// assembly as `commerce serve` (internal/app) with the saga and relay roles
// on a PostgreSQL event store of its own and RabbitMQ: relay, saga
// consumer, saga timeouts, offline provider and the webhook's recording
// path. It fills n carts, then has workers check them out and pay them by
// signed webhooks, and measures until every order exists.
func benchSagaCheckouts(ctx context.Context, pgURL, amqpURL string, n, workers int) {
	schema, dropSchema := freshSchema(pgURL)
	defer dropSchema()
	dataDir, err := os.MkdirTemp("", "esbench-checkout-")
	if err != nil {
		fatalf("checkout data dir: %v", err)
	}
	defer func() { _ = os.RemoveAll(dataDir) }()
	logs := newCountingHandler(slog.LevelWarn)
	logger := slog.New(logs)

	m := app.New(app.Config{
		HTTPAddr: "127.0.0.1:0", DataDir: dataDir, EventStoreURL: pgURL, AMQPURL: amqpURL,
		Roles: []app.Role{app.RoleSaga, app.RoleRelay}, CheckoutExpiry: 15 * time.Minute, ShutdownTimeout: 10 * time.Second,
	}, app.WithLogger(logger), app.WithSchema(schema), app.WithAMQPPrefix(runPrefix()))
	engine, err := m.Open(ctx)
	if err != nil {
		fatalf("checkout engine: %v", err)
	}
	var closed atomic.Bool
	closeEngine := func() {
		if closed.Swap(true) {
			return
		}
		if err := engine.Close(); err != nil {
			log.Printf("close the engine: %v", err)
		}
		exchanges, queues := engine.Declared()
		deleteAMQP(amqpURL, exchanges, queues)
	}
	cleanups = append(cleanups, closeEngine)
	defer closeEngine()
	store, runner, sg, pay := engine.Store(), engine.Runner(), engine.Saga(), engine.Payments()

	shoppers := fillCarts(ctx, runner, n)
	// Let the relay publish the setup before timing starts.
	head, err := store.Head(ctx)
	if err != nil {
		fatalf("head: %v", err)
	}
	for deadline := time.Now().Add(time.Minute); engine.RelayPosition() < head; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			fatalf("the relay did not publish the setup's %d events within a minute (at %d)", head, engine.RelayPosition())
		}
	}

	run := &coRun{recorded: map[string]time.Time{}, completed: map[string]time.Time{}, done: make(chan struct{}), want: n}
	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan error, 1)
	go func() {
		watchDone <- store.Subscribe(watchCtx, eventstore.SubscribeOptions{After: head, Filter: eventstore.Filter{Types: []string{checkout.CompletedType}}},
			func(e eventstore.Event) error {
				at := time.Now()
				p, err := runner.Codec.Decode(e)
				if err != nil {
					return fmt.Errorf("decode %s at %d: %w", e.Type, e.Position, err)
				}
				if c, ok := p.(checkout.Completed); ok {
					run.complete(c.CheckoutID, at)
				}
				return nil
			})
	}()

	tctx, cancel := context.WithTimeout(ctx, coTimeout)
	defer cancel()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(shoppers) || tctx.Err() != nil {
					return
				}
				if err := checkOutAndPay(tctx, sg, pay, shoppers[i].id, run); err != nil {
					run.fail(err)
				}
			}
		})
	}
	wg.Wait()
	run.mu.Lock()
	if run.failed > 0 {
		// Failed checkouts never complete: wait for the others.
		run.want = n - run.failed
		run.check()
	}
	run.mu.Unlock()
	timedOut := false
	select {
	case <-run.done:
	case <-tctx.Done():
		timedOut = true
	case err := <-watchDone:
		fatalf("checkout.completed subscription stopped: %v", err)
	}
	elapsed := time.Since(start)
	stopWatch()
	if err := <-watchDone; err != nil && !errors.Is(err, context.Canceled) && watchCtx.Err() == nil {
		log.Printf("checkout.completed subscription: %v", err)
	}

	run.mu.Lock()
	defer run.mu.Unlock()
	completed := len(run.completed)
	if run.failed > 0 {
		log.Printf("%d of %d checkouts failed, e.g. %q", run.failed, n, run.failures)
	}
	if timedOut {
		log.Printf("timed out after %v: %d of %d checkouts completed", coTimeout, completed, run.want)
	}
	line("saga_checkouts_postgres_rabbitmq", float64(completed)/elapsed.Seconds(), "checkouts/s", 0)
	var toOrder []time.Duration
	for id, rec := range run.recorded {
		if at, ok := run.completed[id]; ok {
			toOrder = append(toOrder, at.Sub(rec))
		}
	}
	percentiles("saga_webhook_to_order", toOrder)
	percentiles("saga_intent", run.intents)
	if c, first := logs.counts(); c > 0 {
		log.Printf("the checkout side logged %d warnings or errors, first: %s", c, first)
	}
	log.Printf("%d checkouts by %d workers in %v on schema %s", completed, workers, elapsed.Round(time.Millisecond), schema)
}

// checkOutAndPay starts shopper's checkout and records the provider's
// signed payment_intent.succeeded webhook for it, as the webhook endpoint
// would.
func checkOutAndPay(ctx context.Context, sg *saga.Saga, pay *httpapi.Payments, shopper string, run *coRun) error {
	t0 := time.Now()
	intent, err := sg.Start(ctx, shopper, commands.Metadata{CommandID: uuid.NewString(), Actor: shopper})
	if err != nil {
		return fmt.Errorf("start checkout of %s: %w", shopper, err)
	}
	took := time.Since(t0)
	body, sig, err := payments.SignedEvent(pay.Webhooks.Secret, payments.EventSpec{
		Type: payments.EventPaymentSucceeded, ProviderID: payments.OfflineIntentID(intent.CheckoutID),
		PaymentID: intent.PaymentID, CheckoutID: intent.CheckoutID, Amount: intent.Amount,
	})
	if err != nil {
		return fmt.Errorf("sign webhook of checkout %s: %w", intent.CheckoutID, err)
	}
	if _, err := pay.Record(ctx, body, sig, ""); err != nil {
		return fmt.Errorf("record webhook of checkout %s: %w", intent.CheckoutID, err)
	}
	at := time.Now()
	run.mu.Lock()
	run.intents = append(run.intents, took)
	run.recorded[intent.CheckoutID] = at
	run.mu.Unlock()
	return nil
}

// fillCarts creates coProducts products with coStock units each and n
// shoppers with a cart of one or two of them.
func fillCarts(ctx context.Context, runner *commands.Runner, n int) []coShopper {
	began := time.Now()
	at := time.Now()
	products := make([]string, coProducts)
	for i := range products {
		products[i] = uuid.NewString()
		stream := catalog.StreamID(products[i])
		for _, c := range []any{
			catalog.CreateProduct{ProductID: products[i], SKU: fmt.Sprintf("CO-%03d", i), Name: fmt.Sprintf("Checkout product %d", i),
				Category: "bench", Price: money.Money{Amount: int64(499 + 100*i), Currency: "EUR"}, At: at},
			catalog.AdjustStock{ProductID: products[i], Delta: coStock, Reason: "delivery", At: at},
		} {
			if _, err := commands.Handle(ctx, runner, commands.Product, stream, c, commands.Metadata{CommandID: uuid.NewString()}); err != nil {
				fatalf("create product: %v", err)
			}
		}
	}
	shoppers := make([]coShopper, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for g := range coSetupWorkers {
		wg.Go(func() {
			rng := mrand.New(mrand.NewPCG(uint64(g), 7))
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				shoppers[i] = coShopper{id: uuid.NewString()}
				picks := rng.Perm(coProducts)[:1+rng.IntN(2)]
				for _, p := range picks {
					_, err := commands.AddToCart(ctx, runner, cart.AddItem{CartID: shoppers[i].id, CustomerID: shoppers[i].id,
						ProductID: products[p], Quantity: 1, At: time.Now()}, commands.Metadata{CommandID: uuid.NewString()})
					if err != nil {
						fatalf("add to cart: %v", err)
					}
				}
			}
		})
	}
	wg.Wait()
	log.Printf("checkout setup: %d products, %d carts in %v", coProducts, n, time.Since(began).Round(time.Millisecond))
	return shoppers
}

// percentiles prints name's p50 and p99 in milliseconds.
func percentiles(name string, ds []time.Duration) {
	if len(ds) == 0 {
		log.Printf("%s: no sample", name)
		return
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	line(name+"_p50", ms(ds[len(ds)/2]), "ms", 0)
	line(name+"_p99", ms(ds[len(ds)*99/100]), "ms", 0)
}

// deleteAMQP deletes queues, then exchanges, on the broker at url; a name
// that is already gone is not an error.
func deleteAMQP(url string, exchanges, queues []string) {
	if len(exchanges)+len(queues) == 0 {
		return
	}
	conn, err := amqp.Dial(url)
	if err != nil {
		log.Printf("delete RabbitMQ names: %v", err)
		return
	}
	defer conn.Close()
	// A failed delete closes its channel: each gets a channel of its own.
	do := func(kind, name string, del func(*amqp.Channel) error) {
		ch, err := conn.Channel()
		if err != nil {
			log.Printf("delete %s %s: %v", kind, name, err)
			return
		}
		defer ch.Close()
		var ae *amqp.Error
		if err := del(ch); err != nil && !(errors.As(err, &ae) && ae.Code == amqp.NotFound) {
			log.Printf("delete %s %s: %v", kind, name, err)
		}
	}
	for _, q := range queues {
		do("queue", q, func(ch *amqp.Channel) error { _, err := ch.QueueDelete(q, false, false, false); return err })
	}
	for _, x := range exchanges {
		do("exchange", x, func(ch *amqp.Channel) error { return ch.ExchangeDelete(x, false, false) })
	}
}

// leftovers returns which of exchanges and queues still exist on the
// broker at url (passive declares).
func leftovers(url string, exchanges, queues []string) []string {
	conn, err := amqp.Dial(url)
	if err != nil {
		log.Printf("check RabbitMQ names: %v", err)
		return nil
	}
	defer conn.Close()
	exists := func(declare func(*amqp.Channel) error) bool {
		ch, err := conn.Channel()
		if err != nil {
			return false
		}
		defer ch.Close()
		return declare(ch) == nil // a missing name fails with 404 and closes ch
	}
	var left []string
	for _, x := range exchanges {
		if exists(func(ch *amqp.Channel) error {
			return ch.ExchangeDeclarePassive(x, "fanout", true, false, false, false, nil)
		}) {
			left = append(left, "exchange "+x)
		}
	}
	for _, q := range queues {
		if exists(func(ch *amqp.Channel) error {
			_, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
			return err
		}) {
			left = append(left, "queue "+q)
		}
	}
	return left
}

// countingHandler is an slog handler that keeps the checkout side's logs
// out of the figures: it counts the records at or above level and keeps
// the first one for the summary.
type countingHandler struct {
	level slog.Level
	c     *logCount
	attrs []slog.Attr
}

// logCount is what the handlers derived from one countingHandler share.
type logCount struct {
	mu    sync.Mutex
	n     int
	first string
}

// newCountingHandler returns a handler counting records at level and above.
func newCountingHandler(level slog.Level) *countingHandler {
	return &countingHandler{level: level, c: &logCount{}}
}

// Enabled reports whether a record at l is counted.
func (h *countingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

// Handle counts r and keeps it when it is the first.
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	h.c.n++
	if h.c.n == 1 {
		s := r.Level.String() + " " + r.Message
		for _, a := range h.attrs {
			s += " " + a.String()
		}
		r.Attrs(func(a slog.Attr) bool { s += " " + a.String(); return true })
		h.c.first = s
	}
	return nil
}

// WithAttrs returns a handler sharing the count that adds attrs.
func (h *countingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	return &c
}

// WithGroup returns h: groups do not matter to a count.
func (h *countingHandler) WithGroup(string) slog.Handler { return h }

// counts returns how many records were counted and the first of them.
func (h *countingHandler) counts() (int, string) {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	return h.c.n, h.c.first
}

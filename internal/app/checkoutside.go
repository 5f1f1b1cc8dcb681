package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-engine/commerce/auth"
	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/commands/saga"
	"github.com/commerce-engine/commerce/domain/customer"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/eventstore/postgres"
	"github.com/commerce-engine/commerce/httpapi"
	"github.com/commerce-engine/commerce/live"
	"github.com/commerce-engine/commerce/messaging"
	"github.com/commerce-engine/commerce/notify"
	"github.com/commerce-engine/commerce/payments"
)

// Consumer and checkpoint names: each is a durable identity (a RabbitMQ
// queue, a checkpoint row) that must not change between releases.
const (
	sagaConsumer = "checkout-saga"
	liveConsumer = "live"
	relayName    = "relay"
)

// sagaConcurrency is how many saga messages per topic one process handles
// at once on RabbitMQ.
const sagaConcurrency = 16

// routerStartTimeout bounds how long the consumers may take to subscribe.
const routerStartTimeout = 30 * time.Second

// checkoutSide is the wired checkout: the payment provider, the bus, the
// relay that feeds it from the log, the saga consuming it and the saga's
// timeouts.
type checkoutSide struct {
	saga     *saga.Saga
	payments *httpapi.Payments
	bus      messaging.Bus
	router   *messaging.Router
	poison   messaging.PoisonStore
	// notifications is the notifier's log: every delivery and failure.
	notifications notify.Log
	// hub pushes order updates to this process's connected shoppers.
	hub *live.Hub
	// gate holds each push until the order reads show what it announces.
	gate     *live.Gate
	relay    *messaging.Relay
	timeouts *saga.Timeouts
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	closeFns []func() error
}

// startCheckout opens the provider and the bus and starts the relay, the
// saga's consumer and its timeouts; stop ends them.
func (m *Main) startCheckout(ctx context.Context, store eventstore.Store, ws *writeSide, rs *readSide) (*checkoutSide, error) {
	cs := &checkoutSide{}
	provider, secret, offline, err := m.openProvider()
	if err != nil {
		return nil, err
	}
	sg := saga.New(saga.Config{Runner: ws.api.Runner, Provider: provider, Expiry: m.cfg.CheckoutExpiry, Logger: m.log})
	cs.saga = sg
	cs.payments = &httpapi.Payments{API: ws.api, Saga: sg, Webhooks: payments.Verifier{Secret: secret}, Offline: offline}

	var bus messaging.Bus
	if m.cfg.AMQPURL != "" {
		bus, err = messaging.NewAMQP(messaging.AMQPConfig{URL: m.cfg.AMQPURL, Prefix: m.amqpPrefix}, m.log)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.setting("AMQPURL"), err)
		}
		m.readyChecks["amqp"] = bus.Ping
	} else {
		bus = messaging.NewInProcess(m.log)
	}
	cs.bus = bus
	cs.closeFns = append(cs.closeFns, bus.Close)

	// Checkpoints, poisoned messages and the notification log live in
	// PostgreSQL when there is one: next to the events, or with the read
	// models when the events are in KurrentDB.
	var shared *pgxpool.Pool
	if pg, ok := store.(*postgres.Store); ok {
		shared = pg.Pool()
	} else if m.cfg.ReadModelURL != "" {
		pool, err := m.readModelPool(ctx, m.cfg.ReadModelURL)
		if err != nil {
			return nil, cs.fail(err)
		}
		cs.closeFns = append(cs.closeFns, func() error { pool.Close(); return nil })
		if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{m.schema}.Sanitize()); err != nil {
			return nil, cs.fail(fmt.Errorf("schema %s for relay checkpoints, poisoned messages and notifications: %w", m.schema, err))
		}
		shared = pool
	}
	var checkpoints messaging.Checkpoints
	if shared != nil {
		pc := &messaging.PostgresCheckpoints{Pool: shared, Schema: m.schema}
		ps := &messaging.PostgresPoisonStore{Pool: shared, Schema: m.schema}
		nl := &notify.PostgresLog{Pool: shared, Schema: m.schema}
		if err := pc.Setup(ctx); err != nil {
			return nil, cs.fail(fmt.Errorf("relay checkpoints: %w", err))
		}
		if err := ps.Setup(ctx); err != nil {
			return nil, cs.fail(fmt.Errorf("poison message store: %w", err))
		}
		if err := nl.Setup(ctx); err != nil {
			return nil, cs.fail(fmt.Errorf("notification log: %w", err))
		}
		checkpoints, cs.poison, cs.notifications = pc, ps, nl
	} else {
		checkpoints, cs.poison = messaging.NewFileCheckpoints(m.cfg.DataDir), messaging.NewMemoryPoisonStore()
		cs.notifications = notify.NewMemoryLog()
	}
	cs.router, err = messaging.NewRouter(bus, cs.poison, messaging.RouterConfig{Logger: m.log})
	if err != nil {
		return nil, cs.fail(err)
	}
	if m.cfg.HasRole(RoleSaga) {
		if err := cs.addSaga(sg); err != nil {
			return nil, cs.fail(err)
		}
	}
	if m.cfg.HasRole(RoleNotifier) {
		if err := cs.addNotifier(m, ws); err != nil {
			return nil, cs.fail(err)
		}
	}
	if m.cfg.HasRole(RoleAPI) {
		// Every api process hears every order change: its shoppers may be
		// connected to it, wherever the change was made.
		cs.hub = live.NewHub(live.DefaultBuffer)
		// A push comes once the shopper's order reads show it.
		cs.gate = &live.Gate{Hub: cs.hub, Readable: rs.api.OrdersThrough}
		lc := &live.Consumer{Hub: cs.hub, Codec: ws.api.Runner.Codec, Directory: commands.Recipients{Runner: ws.api.Runner, Unknown: notify.ErrUnknownRecipient}, Logger: m.log, Gate: cs.gate}
		if err := cs.router.Add(messaging.Consumer{
			Name: liveConsumer, Broadcast: true, Topics: live.Topics, Types: live.Types, Handle: lc.Handle,
		}); err != nil {
			return nil, cs.fail(err)
		}
	}
	cs.relay = &messaging.Relay{Name: relayName, Store: store, Publisher: bus.Publisher(), Checkpoints: checkpoints, Logger: m.log}
	cs.timeouts = &saga.Timeouts{Saga: sg, Store: store}

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	cs.cancel = cancel
	if cs.gate != nil {
		cs.goRun(m, "live gate", func() error { return cs.gate.Run(runCtx) }, runCtx)
	}
	cs.goRun(m, "message router", func() error { return cs.router.Run(runCtx) }, runCtx)
	select {
	case <-cs.router.Running():
	case <-time.After(routerStartTimeout):
		return nil, cs.fail(fmt.Errorf("message consumers did not subscribe within %s (bus %s)", routerStartTimeout, busName(m.cfg.AMQPURL)))
	}
	// The relay starts once every consumer is subscribed: the in-process
	// channel delivers only to subscribers present at publish time.
	if m.cfg.HasRole(RoleRelay) {
		cs.goRun(m, "relay", func() error { return cs.relay.Run(runCtx) }, runCtx)
	}
	if m.cfg.HasRole(RoleSaga) {
		cs.goRun(m, "saga timeouts", func() error { return cs.timeouts.Run(runCtx) }, runCtx)
	}
	m.log.Info("checkout running", "roles", m.cfg.Roles, "provider", provider.Name(), "bus", busName(m.cfg.AMQPURL), "checkout_expiry", sg.Expiry().String())
	return cs, nil
}

// addSaga subscribes the checkout saga.
func (cs *checkoutSide) addSaga(sg *saga.Saga) error {
	return cs.router.Add(messaging.Consumer{
		Name:   sagaConsumer,
		Topics: saga.Topics,
		Types:  saga.Types,
		Handle: sg.Handle,
		// Each checkout's decisions are serialised by its own stream, so
		// its messages need no order: handle many at once.
		Concurrency: sagaConcurrency,
	})
}

// addNotifier subscribes the notifier.
func (cs *checkoutSide) addNotifier(m *Main, ws *writeSide) error {
	notifier, err := m.newNotifier(ws, cs.notifications)
	if err != nil {
		return err
	}
	return cs.router.Add(messaging.Consumer{
		Name:   notifierConsumer,
		Topics: notify.Topics,
		Types:  notify.Types,
		Handle: notifier.Handle,
		// Emails are independent of each other; the log dedupes by event.
		Concurrency: 4,
	})
}

// goRun runs a long-lived part, restarting it after a failure: a broker or
// database hiccup must not end checkouts until the process restarts.
func (cs *checkoutSide) goRun(m *Main, name string, run func() error, ctx context.Context) {
	cs.wg.Add(1)
	go func() {
		defer cs.wg.Done()
		// 1 s doubling up to 30 s, no jitter, never reset.
		pauses := &backoff.ExponentialBackOff{InitialInterval: time.Second, Multiplier: 2, MaxInterval: 30 * time.Second}
		pauses.Reset()
		for {
			err := run()
			if ctx.Err() != nil {
				return
			}
			pause := pauses.NextBackOff()
			m.log.Error(name+" stopped; restarting", "error", err, "in", pause.String())
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
		}
	}()
}

func busName(amqpURL string) string {
	if amqpURL != "" {
		return "rabbitmq"
	}
	return "in-process"
}

// openProvider returns Stripe when StripeSecretKey is set, the offline
// provider otherwise (with a per-process webhook secret: its webhooks are
// signed and verified by the same process).
func (m *Main) openProvider() (payments.Provider, string, *payments.Offline, error) {
	if m.cfg.StripeSecretKey != "" {
		s, err := payments.NewStripe(payments.StripeConfig{
			SecretKey: m.cfg.StripeSecretKey, APIBase: m.cfg.StripeAPIBase, Logger: m.log,
		})
		if err != nil {
			return nil, "", nil, fmt.Errorf("%s: %w", m.setting("StripeSecretKey"), err)
		}
		return s, m.cfg.StripeWebhookSecret, nil, nil
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, "", nil, fmt.Errorf("offline webhook secret: %w", err)
	}
	offline := payments.NewOffline()
	return offline, "whsec_offline_" + hex.EncodeToString(b[:]), offline, nil
}

func (cs *checkoutSide) fail(err error) error {
	cs.stop()
	return err
}

// liveRoute streams a shopper's order updates; the request timeout does not
// bound it.
const liveRoute = "/api/v1/orders/live"

// closeStreams ends every open live stream, so that a graceful stop does
// not wait for shoppers to hang up.
func (cs *checkoutSide) closeStreams() {
	if cs.hub != nil {
		cs.hub.Close()
	}
}

// stop ends the relay, the consumers and the timeouts, then closes the bus.
func (cs *checkoutSide) stop() {
	cs.closeStreams()
	if cs.cancel != nil {
		cs.cancel()
	}
	cs.wg.Wait()
	for _, fn := range cs.closeFns {
		_ = fn()
	}
}

// mount registers the payment routes and the poison queue's admin routes.
func (cs *checkoutSide) mount(authn, idem gin.HandlerFunc) func(gin.IRouter) {
	return func(r gin.IRouter) {
		cs.payments.Mount(r, authn, idem)
		if cs.hub != nil {
			r.GET(liveRoute, authn, httpapi.LiveHandler(cs.hub, httpapi.DefaultLiveHeartbeat))
		}
		ops := &httpapi.Operations{
			Poison: cs.poison, Redrive: cs.router.Redrive, Notifications: cs.notifications,
			Relayed: func(context.Context) (eventstore.Position, error) { return cs.relay.Position(), nil },
		}
		ops.Mount(r, authn, auth.RequireRole(customer.RoleAdmin), idem)
	}
}

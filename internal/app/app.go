// Package app is the engine's assembly: it opens the configured event
// store, wires the write side, the read side and the checkout (saga, bus,
// relay, notifier, live pushes) and serves them over HTTP. cmd/commerce,
// cmd/esbench and the end-to-end tests all start the engine through it.
//
// It never reads the environment: it is given a Config of plain values.
// Errors caused by a setting name it by its Config field, or by the name
// WithSettingNames maps the field to.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/commands/saga"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/eventstore/esdb"
	"github.com/commerce-engine/commerce/eventstore/postgres"
	"github.com/commerce-engine/commerce/eventstore/sqlite"
	"github.com/commerce-engine/commerce/httpapi"
	"github.com/commerce-engine/commerce/projections"
	pgproj "github.com/commerce-engine/commerce/projections/postgres"
	"github.com/commerce-engine/commerce/tracing"
)

// DefaultEventStoreSchema is the PostgreSQL schema of the event store
// tables unless WithSchema says otherwise.
const DefaultEventStoreSchema = postgres.DefaultSchema

// Main is the whole engine in one value, so that commerce serve, esbench
// and the end-to-end tests start it the same way: New, then Run until the
// context is done (or Open for the wired engine without a listener).
type Main struct {
	cfg    Config
	log    *slog.Logger
	routes []func(gin.IRouter)
	schema string // PostgreSQL schema of the event store; tests use their own
	// readNS names the PostgreSQL read model schemas, redisPrefix prefixes
	// every Redis key and analystRole names the analysts' PostgreSQL role;
	// tests use their own.
	readNS      pgproj.Namespace
	redisPrefix string
	analystRole string
	// amqpPrefix prefixes every RabbitMQ exchange and queue name.
	amqpPrefix string
	// settingName names a Config field in errors.
	settingName func(field string) string
	// version and commit label traces and /metrics.
	version, commit string
	// preflight runs first in Run; its error is Run's.
	preflight func() error
	// readyChecks are the dependencies /readyz checks besides the event
	// store.
	readyChecks map[string]func(context.Context) error
	// collectors are registered on /metrics besides the standard ones.
	collectors []prometheus.Collector

	ready chan struct{} // closed once Addr and Store are valid
	done  chan struct{} // closed when Run has returned

	mu      sync.Mutex
	started bool
	closed  bool
	stop    context.CancelFunc
	addr    net.Addr
	store   eventstore.Store
	// checkout is the running checkout side, for tests that clean up what
	// its bus declared.
	checkout *checkoutSide
	err      error
}

// Option adjusts a Main before it runs.
type Option func(*Main)

// WithLogger makes Main log to l instead of JSON on stderr.
func WithLogger(l *slog.Logger) Option { return func(m *Main) { m.log = l } }

// WithRoutes mounts extra routes behind the same middleware (ids, access
// log, metrics, recovery) as the built-in ones; tests use it for slow or
// panicking handlers.
func WithRoutes(fn func(r gin.IRouter)) Option {
	return func(m *Main) { m.routes = append(m.routes, fn) }
}

// WithSchema puts the PostgreSQL event store (and the relay checkpoints,
// poisoned messages and notifications) in schema, so that tests and
// benchmarks share a database without sharing tables.
func WithSchema(schema string) Option { return func(m *Main) { m.schema = schema } }

// WithReadNamespace names the PostgreSQL read model schemas, for the same
// reason as WithSchema.
func WithReadNamespace(ns pgproj.Namespace) Option { return func(m *Main) { m.readNS = ns } }

// WithRedisPrefix prefixes every Redis key (default "commerce:").
func WithRedisPrefix(p string) Option { return func(m *Main) { m.redisPrefix = p } }

// WithAMQPPrefix prefixes every RabbitMQ exchange and queue (default
// "commerce.").
func WithAMQPPrefix(p string) Option { return func(m *Main) { m.amqpPrefix = p } }

// WithAnalystRole names the analysts' read-only PostgreSQL role.
func WithAnalystRole(role string) Option { return func(m *Main) { m.analystRole = role } }

// WithSettingNames makes errors name a setting by name(field) instead of
// its Config field, e.g. by its environment variable.
func WithSettingNames(name func(field string) string) Option {
	return func(m *Main) { m.settingName = name }
}

// WithBuild labels traces and commerce_build_info with the build's version
// and commit.
func WithBuild(version, commit string) Option {
	return func(m *Main) { m.version, m.commit = version, commit }
}

// WithPreflight makes Run call check before it opens anything and fail with
// its error; cmd/commerce validates its settings and logs them there.
func WithPreflight(check func() error) Option { return func(m *Main) { m.preflight = check } }

// New returns an engine for cfg, which the caller has validated; nothing
// is opened before Run or Open.
func New(cfg Config, opts ...Option) *Main {
	m := &Main{cfg: cfg, schema: DefaultEventStoreSchema, redisPrefix: "commerce:", amqpPrefix: "commerce.", analystRole: pgproj.DefaultAnalystRole,
		settingName: func(f string) string { return f }, version: "dev", commit: "dev",
		ready: make(chan struct{}), done: make(chan struct{}), readyChecks: map[string]func(context.Context) error{}}
	for _, o := range opts {
		o(m)
	}
	if m.log == nil {
		m.log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	// Every line logged under a span names it (trace_id, span_id).
	m.log = slog.New(tracing.LogHandler(m.log.Handler()))
	return m
}

// Schema is the PostgreSQL schema of the event store.
func (m *Main) Schema() string { return m.schema }

// ReadNamespace names the PostgreSQL read model schemas.
func (m *Main) ReadNamespace() pgproj.Namespace { return m.readNS }

// AnalystRole is the analysts' read-only PostgreSQL role.
func (m *Main) AnalystRole() string { return m.analystRole }

// setting names a Config field for an error message.
func (m *Main) setting(field string) string { return m.settingName(field) }

// Engine is the wired engine without a listener: what Run serves.
type Engine struct {
	store pingStore
	ws    *writeSide
	rs    *readSide
	cs    *checkoutSide
	// handler serves every route of this process's roles.
	handler *gin.Engine
	closers []func() error
}

// Handler serves the HTTP API, /healthz, /readyz and /metrics.
func (e *Engine) Handler() http.Handler { return e.handler }

// Store is the open event store.
func (e *Engine) Store() eventstore.Store { return e.store }

// Runner is the command path every write (HTTP, saga, CLI) goes through.
func (e *Engine) Runner() *commands.Runner { return e.ws.api.Runner }

// Accounts is the account service: registration, login, roles.
func (e *Engine) Accounts() *commands.Accounts { return e.ws.api.Accounts }

// Saga is the checkout process manager.
func (e *Engine) Saga() *saga.Saga { return e.cs.saga }

// Payments is the payment API: checkout start and the webhook's
// recording path.
func (e *Engine) Payments() *httpapi.Payments { return e.cs.payments }

// RelayPosition is how far the relay has published the log.
func (e *Engine) RelayPosition() eventstore.Position { return e.cs.relay.Position() }

// Close stops the background parts (relay, consumers, projections) and
// closes every store, the event store last.
func (e *Engine) Close() error {
	var errs []error
	for i := len(e.closers) - 1; i >= 0; i-- {
		errs = append(errs, e.closers[i]())
	}
	return errors.Join(errs...)
}

// Open opens the event store (applying the PostgreSQL migrations first),
// wires the write side, the read side and the checkout of the configured
// roles, starts their background parts and builds the HTTP handler. The
// caller closes the Engine. It returns an error naming the setting at fault
// when a store cannot be opened.
func (m *Main) Open(ctx context.Context) (_ *Engine, err error) {
	e := &Engine{}
	defer func() {
		if err != nil {
			_ = e.Close()
		}
	}()
	store, err := m.openEventStore(ctx)
	if err != nil {
		return nil, err
	}
	e.store = store
	e.closers = append(e.closers, func() error {
		if cerr := store.Close(); cerr != nil {
			return fmt.Errorf("close event store: %w", cerr)
		}
		return nil
	})

	if e.ws, err = m.openWriteSide(ctx, store); err != nil {
		return nil, err
	}
	e.closers = append(e.closers, func() error {
		if cerr := e.ws.close(); cerr != nil {
			return fmt.Errorf("close write side: %w", cerr)
		}
		return nil
	})

	if e.rs, err = m.startReadSide(ctx, store); err != nil {
		return nil, err
	}
	e.closers = append(e.closers, func() error { e.rs.stop(); return nil })
	m.collectors = append(m.collectors, projections.NewLagCollector(e.rs.runner))

	if e.cs, err = m.startCheckout(ctx, store, e.ws, e.rs); err != nil {
		return nil, err
	}
	e.closers = append(e.closers, func() error { e.cs.stop(); return nil })

	var mounts []func(gin.IRouter)
	if m.cfg.HasRole(RoleAPI) {
		mounts = append(mounts, e.ws.mount, e.rs.mount(e.ws.authn), e.cs.mount(e.ws.authn, e.ws.byUser))
	}
	// Every process serves /healthz, /readyz and /metrics.
	if e.handler, err = m.router(store, mounts...); err != nil {
		return nil, fmt.Errorf("http edge: %w", err)
	}
	return e, nil
}

// Run opens the engine, listens on HTTPAddr and serves until ctx is done.
// It then stops accepting connections, lets in-flight requests finish
// within ShutdownTimeout, and closes the engine. It returns nil after a
// clean stop; a store or listen error before serving; or an error if
// requests were still running when the timeout cut them off. Run may be
// called once.
func (m *Main) Run(ctx context.Context) (err error) {
	m.mu.Lock()
	if m.started || m.closed {
		m.mu.Unlock()
		return errors.New("commerce: Main.Run called twice or after Close")
	}
	m.started = true
	ctx, m.stop = context.WithCancel(ctx)
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.err = err
		m.mu.Unlock()
		m.stop()
		close(m.done)
	}()

	if m.preflight != nil {
		if err := m.preflight(); err != nil {
			return err
		}
	}
	shutdownTracing, err := tracing.Setup(ctx, tracing.Config{Service: "commerce", Version: m.version, Endpoint: m.cfg.TracingEndpoint})
	if err != nil {
		return err
	}
	defer func() { //nolint:contextcheck // flushes traces after ctx ended, on a deadline of its own
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if terr := shutdownTracing(sctx); terr != nil {
			m.log.Warn("flushing traces failed", "error", terr)
		}
	}()

	e, err := m.Open(ctx)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, e.Close()) }()

	ln, err := net.Listen("tcp", m.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("%s: %w", m.setting("HTTPAddr"), err)
	}
	srv := &http.Server{
		Handler:           e.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		// In-flight requests must outlive the stop signal: they are drained,
		// not cancelled, so their context does not derive from ctx's
		// cancellation.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	// Live streams would otherwise hold the graceful stop until its timeout.
	srv.RegisterOnShutdown(e.cs.closeStreams)
	if m.cfg.DebugAddr != "" {
		stopDebug, err := m.serveDebug()
		if err != nil {
			return err
		}
		defer stopDebug()
	}

	m.mu.Lock()
	m.addr, m.store, m.checkout = ln.Addr(), e.store, e.cs
	m.mu.Unlock()
	close(m.ready)
	m.log.Info("serving", "addr", ln.Addr().String(), "eventstore", m.cfg.eventStoreName())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}

	m.log.Info("stopping: draining in-flight requests", "timeout", m.cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), m.cfg.ShutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil { //nolint:contextcheck // ctx has ended: the drain has a deadline of its own
		_ = srv.Close()
		err = fmt.Errorf("in-flight requests did not finish within %s (%s); they were cut off: %w",
			m.cfg.ShutdownTimeout, m.setting("ShutdownTimeout"), serr)
	}
	if serveErr := <-served; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("http server: %w", serveErr))
	}
	m.log.Info("stopped")
	return err
}

// serveDebug serves Go's profiler on DebugAddr, a listener of its own so
// that it is never reachable through the public address.
func (m *Main) serveDebug() (stop func(), err error) {
	ln, err := net.Listen("tcp", m.cfg.DebugAddr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.setting("DebugAddr"), err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	m.log.Info("serving the profiler", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}

// Ready is closed once Run has opened the store and bound the listener, so
// that Addr and Store are valid. It is never closed if Run fails first.
func (m *Main) Ready() <-chan struct{} { return m.ready }

// Addr returns the bound HTTP address (useful with port 0), or "" before
// Ready.
func (m *Main) Addr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.addr == nil {
		return ""
	}
	return m.addr.String()
}

// Store returns the open event store after Ready, nil before. Once Run has
// returned, the store is closed and its methods fail with
// eventstore.ErrClosed.
func (m *Main) Store() eventstore.Store {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.store
}

// Declared lists the RabbitMQ exchanges and queues the running engine's
// bus declared, for tests that delete them afterwards; nil before Ready or
// on the in-process channel.
func (m *Main) Declared() (exchanges, queues []string) {
	m.mu.Lock()
	cs := m.checkout
	m.mu.Unlock()
	if cs == nil || cs.bus == nil {
		return nil, nil
	}
	return cs.bus.Declared()
}

// Close stops a running Run as a cancelled context would, waits for it, and
// returns its result; without a Run it only prevents one. It is safe to call
// more than once.
func (m *Main) Close() error {
	m.mu.Lock()
	m.closed = true
	started, stop := m.started, m.stop
	m.mu.Unlock()
	if !started {
		return nil
	}
	stop()
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// pingStore is what serve needs from an event store adapter: the contract
// plus a cheap reachability check for /readyz.
type pingStore interface {
	eventstore.Store
	Ping(ctx context.Context) error
}

// openEventStore is the one switch from configuration to event store
// adapter. For PostgreSQL it applies the migrations first.
func (m *Main) openEventStore(ctx context.Context) (pingStore, error) {
	switch m.cfg.EventStoreKind() {
	case EventStorePostgres:
		applied, err := postgres.Migrate(ctx, m.cfg.EventStoreURL, m.schema)
		if err != nil {
			return nil, fmt.Errorf("migrate the PostgreSQL event store at %s: %w", RedactURL(m.cfg.EventStoreURL), err)
		}
		if len(applied) > 0 {
			m.log.Info("event store migrations applied", "schema", m.schema, "versions", applied)
		}
		s, err := postgres.Open(ctx, postgres.Config{URL: m.cfg.EventStoreURL, Schema: m.schema, Logger: m.log})
		if err != nil {
			return nil, fmt.Errorf("open the PostgreSQL event store at %s: %w", RedactURL(m.cfg.EventStoreURL), err)
		}
		return s, nil
	case EventStoreKurrent:
		s, err := esdb.Open(esdb.Config{URL: m.cfg.EventStoreURL, Namespace: m.cfg.EventStoreNamespace, Logger: m.log}) //nolint:contextcheck // the client lives as long as the store, not as the call
		if err != nil {
			return nil, fmt.Errorf("open the KurrentDB/EventStoreDB event store at %s: %w", RedactURL(m.cfg.EventStoreURL), err)
		}
		if err := s.Ping(ctx); err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("reach the KurrentDB/EventStoreDB event store at %s: %w", RedactURL(m.cfg.EventStoreURL), err)
		}
		return s, nil
	default:
		if err := os.MkdirAll(m.cfg.DataDir, 0o750); err != nil { //nolint:gosec // G703: the operator chooses the data directory
			return nil, fmt.Errorf("%s: create %s: %w", m.setting("DataDir"), m.cfg.DataDir, err)
		}
		path := filepath.Join(m.cfg.DataDir, SQLiteFileName)
		s, err := sqlite.Open(path) //nolint:contextcheck // the writer lives as long as the store, not as the call
		if err != nil {
			return nil, fmt.Errorf("open the embedded event store %s: %w", path, err)
		}
		return s, nil
	}
}

// Logger is where the engine logs.
func (m *Main) Logger() *slog.Logger { return m.log }

// Saga returns the running checkout saga after Ready, nil before.
func (m *Main) Saga() *saga.Saga {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.checkout == nil {
		return nil
	}
	return m.checkout.saga
}

// Declared lists the RabbitMQ exchanges and queues the engine's bus
// declared, for benchmarks and tests that delete them; nil on the
// in-process channel.
func (e *Engine) Declared() (exchanges, queues []string) {
	if e.cs == nil || e.cs.bus == nil {
		return nil, nil
	}
	return e.cs.bus.Declared()
}

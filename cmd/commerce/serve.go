package main

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

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/eventstore/esdb"
	"github.com/commerce-engine/commerce/eventstore/postgres"
	"github.com/commerce-engine/commerce/eventstore/sqlite"
	pgproj "github.com/commerce-engine/commerce/projections/postgres"
	"github.com/commerce-engine/commerce/tracing"
)

// eventStoreSchema is the PostgreSQL schema of the event store tables.
const eventStoreSchema = postgres.DefaultSchema

// sqliteFileName is the embedded event store's file inside the data dir.
const sqliteFileName = "events.db"

// Main is the whole engine in one value, so that main and the end-to-end
// tests start it the same way: NewMain, then Run until the context is done.
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

// WithLogger makes Main log to l instead of JSON on stderr at the
// configured level.
func WithLogger(l *slog.Logger) Option { return func(m *Main) { m.log = l } }

// WithRoutes mounts extra routes behind the same middleware (ids, access
// log, metrics, recovery) as the built-in ones; tests use it for slow or
// panicking handlers.
func WithRoutes(fn func(r gin.IRouter)) Option {
	return func(m *Main) { m.routes = append(m.routes, fn) }
}

// NewMain returns an engine for cfg; nothing is opened before Run.
func NewMain(cfg Config, opts ...Option) *Main {
	m := &Main{cfg: cfg, schema: eventStoreSchema, redisPrefix: "commerce:", amqpPrefix: "commerce.", analystRole: pgproj.DefaultAnalystRole,
		ready: make(chan struct{}), done: make(chan struct{}), readyChecks: map[string]func(context.Context) error{}}
	for _, o := range opts {
		o(m)
	}
	if m.log == nil {
		m.log = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	}
	// Every line logged under a span names it (trace_id, span_id).
	m.log = slog.New(tracing.LogHandler(m.log.Handler()))
	return m
}

// Run validates the configuration, opens the event store (applying the
// PostgreSQL migrations first), listens on HTTPAddr and serves until ctx is
// done. It then stops accepting connections, lets in-flight requests finish
// within ShutdownTimeout, and closes the store. It returns nil after a clean
// stop; a configuration, store or listen error before serving; or an error
// if requests were still running when the timeout cut them off. Run may be
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

	if err := m.cfg.Validate(); err != nil {
		return err
	}
	m.log.Info("starting", "version", version, "commit", commit, "config", m.cfg)

	shutdownTracing, err := tracing.Setup(ctx, tracing.Config{Service: "commerce", Version: version, Endpoint: m.cfg.TracingEndpoint})
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

	store, err := m.openEventStore(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := store.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close event store: %w", cerr))
		}
	}()

	ws, err := m.openWriteSide(ctx, store)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := ws.close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close write side: %w", cerr))
		}
	}()

	rs, err := m.startReadSide(ctx, store)
	if err != nil {
		return err
	}
	defer rs.stop()
	m.collectors = append(m.collectors, newLagCollector(rs.runner))

	cs, err := m.startCheckout(ctx, store, ws, rs)
	if err != nil {
		return err
	}
	defer cs.stop()

	var mounts []func(gin.IRouter)
	if m.cfg.HasRole(RoleAPI) {
		mounts = append(mounts, ws.mount, rs.mount(ws.authn), cs.mount(ws.authn, ws.byUser))
	}
	// Every process serves /healthz, /readyz and /metrics.
	handler, err := m.router(store, mounts...)
	if err != nil {
		return fmt.Errorf("http edge: %w", err)
	}
	ln, err := net.Listen("tcp", m.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("%s: %w", envHTTPAddr, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		// In-flight requests must outlive the stop signal: they are drained,
		// not cancelled, so their context does not derive from ctx's
		// cancellation.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	// Live streams would otherwise hold the graceful stop until its timeout.
	srv.RegisterOnShutdown(cs.closeStreams)
	if m.cfg.DebugAddr != "" {
		stopDebug, err := m.serveDebug()
		if err != nil {
			return err
		}
		defer stopDebug()
	}

	m.mu.Lock()
	m.addr, m.store, m.checkout = ln.Addr(), store, cs
	m.mu.Unlock()
	close(m.ready)
	m.log.Info("serving", "addr", ln.Addr().String(), "eventstore", m.eventStoreName())

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
			m.cfg.ShutdownTimeout, envShutdownTimeout, serr)
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
		return nil, fmt.Errorf("%s: %w", envDebugAddr, err)
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
	switch m.cfg.eventStoreKind() {
	case eventStorePostgres:
		applied, err := postgres.Migrate(ctx, m.cfg.EventStoreURL, m.schema)
		if err != nil {
			return nil, fmt.Errorf("migrate the PostgreSQL event store at %s: %w", redactURL(m.cfg.EventStoreURL), err)
		}
		if len(applied) > 0 {
			m.log.Info("event store migrations applied", "schema", m.schema, "versions", applied)
		}
		s, err := postgres.Open(ctx, postgres.Config{URL: m.cfg.EventStoreURL, Schema: m.schema, Logger: m.log})
		if err != nil {
			return nil, fmt.Errorf("open the PostgreSQL event store at %s: %w", redactURL(m.cfg.EventStoreURL), err)
		}
		return s, nil
	case eventStoreKurrent:
		s, err := esdb.Open(esdb.Config{URL: m.cfg.EventStoreURL, Namespace: m.cfg.EventStoreNamespace, Logger: m.log}) //nolint:contextcheck // the client lives as long as the store, not as the call
		if err != nil {
			return nil, fmt.Errorf("open the KurrentDB/EventStoreDB event store at %s: %w", redactURL(m.cfg.EventStoreURL), err)
		}
		if err := s.Ping(ctx); err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("reach the KurrentDB/EventStoreDB event store at %s: %w", redactURL(m.cfg.EventStoreURL), err)
		}
		return s, nil
	default:
		if err := os.MkdirAll(m.cfg.DataDir, 0o750); err != nil { //nolint:gosec // G703: the operator chooses the data directory
			return nil, fmt.Errorf("%s: create %s: %w", envDataDir, m.cfg.DataDir, err)
		}
		path := filepath.Join(m.cfg.DataDir, sqliteFileName)
		s, err := sqlite.Open(path) //nolint:contextcheck // the writer lives as long as the store, not as the call
		if err != nil {
			return nil, fmt.Errorf("open the embedded event store %s: %w", path, err)
		}
		return s, nil
	}
}

// eventStoreName describes the configured event store for logs, without
// secrets.
func (m *Main) eventStoreName() string {
	switch m.cfg.eventStoreKind() {
	case eventStorePostgres:
		return "postgres " + redactURL(m.cfg.EventStoreURL)
	case eventStoreKurrent:
		return "kurrentdb " + redactURL(m.cfg.EventStoreURL)
	default:
		return "sqlite " + filepath.Join(m.cfg.DataDir, sqliteFileName)
	}
}

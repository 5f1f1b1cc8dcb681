package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/commerce-engine/commerce/auth"
	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/customer"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/httpapi"
	"github.com/commerce-engine/commerce/projections"
	"github.com/commerce-engine/commerce/projections/analytics"
	pgproj "github.com/commerce-engine/commerce/projections/postgres"
	redisproj "github.com/commerce-engine/commerce/projections/redis"
	"github.com/commerce-engine/commerce/readapi/cache"
)

// readSide runs the projections this process serves reads from.
type readSide struct {
	runner    *projections.Runner
	rebuilds  *projections.Rebuilds
	api       *httpapi.Reads
	analytics analytics.Reader
	cache     *cache.Cache
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	// closeModels closes the read model stores after the projections stop.
	closeModels func()
}

// model is one projection as the read side runs it: where its events go
// and how it is rebuilt.
type model struct {
	projection projections.Projection
	rebuild    projections.RebuildFunc
	// position is how far the model has applied the log, as its readers
	// see it (for `commerce projections status`).
	position func(ctx context.Context) (eventstore.Position, error)
	// exclusive, for models in a shared store, runs the projection only
	// while this process holds its lock; the others stand by.
	exclusive func(ctx context.Context, name string, standby func(), run func(ctx context.Context) error) error
}

// readModels are the read models of the configured stores and the API
// that reads them.
type readModels struct {
	models    []model
	api       *httpapi.Reads
	analytics analytics.Reader
	// redis holds the carts and shares the catalog cache; nil keeps the
	// cache in process only.
	redis goredis.UniversalClient
	// kind names where the models live, for logs and status output.
	kind string
	// inMemory is true on the embedded default: the models live in the
	// serving process and are rebuilt at each start.
	inMemory bool
	// statuses describe projections beyond their position (a rebuild
	// under way), by name.
	statuses map[string]string
	// pg is the PostgreSQL read model store, nil in memory.
	pg *pgproj.Store
	// pings check the read model stores for /readyz, by name.
	pings map[string]func(context.Context) error
	close func()
}

// openReadModels is the one switch from configuration to read model
// stores: in memory by default; in PostgreSQL with ReadModelURL; carts in
// Redis with RedisURL, which also shares the catalog cache between api
// processes.
func (m *Main) openReadModels(ctx context.Context, store eventstore.Store, codec *eventstore.Codec) (rm *readModels, err error) {
	models, api, sales := memoryModels(store, codec)
	api.Store, api.Codec = store, codec
	rm = &readModels{models: models, api: api, analytics: sales, kind: "memory", inMemory: true, statuses: map[string]string{}, pings: map[string]func(context.Context) error{}}
	var closers []func()
	rm.close = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	defer func() {
		if err != nil {
			rm.close()
		}
	}()
	replace := func(md model) {
		for i := range rm.models {
			if rm.models[i].projection.Name == md.projection.Name {
				rm.models[i] = md
			}
		}
	}
	if m.cfg.ReadModelURL != "" {
		pool, err := m.projectionPool(ctx, m.cfg.ReadModelURL)
		if err != nil {
			return nil, err
		}
		closers = append(closers, pool.Close)
		pg := &pgproj.Store{Pool: pool, NS: m.readNS}
		pgModels := postgresModels(codec)
		if err := m.setupReadModels(ctx, pg, pgModels); err != nil {
			return nil, err
		}
		for _, pm := range pgModels {
			name := pm.Name()
			var poll time.Duration
			if name == analytics.Name {
				poll = analyticsPoll
			}
			replace(model{
				projection: projections.Projection{Name: name, Filter: pm.Filter(), Target: pg.Target(pm), Poll: poll},
				rebuild: func(ctx context.Context, progress func(pos, head eventstore.Position)) error {
					return pg.Rebuild(ctx, store, pm, pgproj.RebuildOptions{Batch: rebuildBatch, Progress: progress})
				},
				position:  func(ctx context.Context) (eventstore.Position, error) { return pg.Position(ctx, name) },
				exclusive: pg.RunExclusive,
			})
		}
		if gens, err := pg.Generations(ctx); err == nil {
			for _, g := range gens {
				st := fmt.Sprintf("generation %d", g.Generation)
				if g.Building != "" {
					st += ", rebuilding into " + g.Building
				}
				rm.statuses[g.Name] = st
			}
		}
		api.Catalog = pgproj.CatalogReader{Pool: pool, NS: m.readNS}
		api.Orders = pgproj.OrderReader{Pool: pool, NS: m.readNS}
		api.Correlations = pgproj.CorrelationReader{Pool: pool, NS: m.readNS}
		rm.analytics = analytics.PostgresReader{Pool: pool, NS: m.readNS}
		rm.kind, rm.inMemory, rm.pg = "postgres", false, pg
		rm.pings["readmodels"] = pool.Ping
	}
	if m.cfg.RedisURL != "" {
		client, err := m.newRedisClient()
		if err != nil {
			return nil, err
		}
		closers = append(closers, func() { _ = client.Close() })
		carts := &redisproj.Carts{Client: client, Prefix: m.redisPrefix, Codec: codec}
		md := model{
			projection: projections.Projection{Name: "carts", Filter: projections.CartFilter, Target: carts.Target()},
			rebuild: func(ctx context.Context, progress func(pos, head eventstore.Position)) error {
				return carts.Rebuild(ctx, store, redisproj.RebuildOptions{Batch: rebuildBatch})
			},
			position: carts.Position,
		}
		if rm.pg != nil {
			md.exclusive = rm.pg.RunExclusive
		}
		replace(md)
		api.Carts = carts
		rm.redis = client
		rm.inMemory = false
		rm.kind += "+redis"
		rm.pings["redis"] = func(ctx context.Context) error { return client.Ping(ctx).Err() }
	}
	return rm, nil
}

// projectionPool is readModelPool for the projections' own writes, which
// commit without waiting for the WAL to reach disk: a read model and its
// checkpoint change in one transaction, so a server crash loses both
// together and the projection applies those events again from the log.
// That saves a disk flush per projected batch, the largest cost of a busy
// PostgreSQL here after the appends themselves.
func (m *Main) projectionPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	return newReadModelPool(ctx, m.setting("ReadModelURL"), url, map[string]string{"synchronous_commit": "off"})
}

// ReadModelPool connects to the read models' database at url. Unless the
// URL sets pool_max_conns, the pool holds 32 connections: each projection
// this process runs keeps one for its advisory lock and each rebuild up to
// three, besides the readers'. Errors name the ReadModelURL field.
func ReadModelPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	return newReadModelPool(ctx, "ReadModelURL", url, nil)
}

// readModelPool is ReadModelPool naming the setting as m does.
func (m *Main) readModelPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	return newReadModelPool(ctx, m.setting("ReadModelURL"), url, nil)
}

func newReadModelPool(ctx context.Context, setting, url string, params map[string]string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", setting, err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = 32
	}
	// A client span per query run under a span (nothing otherwise).
	cfg.ConnConfig.Tracer = otelpgx.NewTracer()
	for k, v := range params {
		if _, set := cfg.ConnConfig.RuntimeParams[k]; !set { // the URL's own setting wins
			cfg.ConnConfig.RuntimeParams[k] = v
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", setting, err)
	}
	return pool, nil
}

// rebuildBatch is how many events one transaction of a rebuild applies:
// larger than the live batches, since nobody waits on a rebuild's
// individual events (make bench measures it).
const rebuildBatch = 5000

// postgresModels are the read models kept in PostgreSQL.
func postgresModels(codec *eventstore.Codec) []pgproj.Model {
	return []pgproj.Model{&pgproj.Catalog{Codec: codec}, &pgproj.Orders{Codec: codec}, pgproj.Correlations{}, analytics.NewPostgres(codec)}
}

// setupReadModels creates what is missing of the PostgreSQL read models:
// schemas, first generations, views and the analysts' role.
func (m *Main) setupReadModels(ctx context.Context, pg *pgproj.Store, models []pgproj.Model) error {
	if err := pg.Setup(ctx, pgproj.SetupOptions{AnalystRole: m.analystRole, AnalystPassword: m.cfg.AnalystPassword}, models...); err != nil {
		return fmt.Errorf("set up the read models at %s: %w", RedactURL(m.cfg.ReadModelURL), err)
	}
	return nil
}

// analyticsPoll is how often the analytics projection on PostgreSQL looks
// for new events: analysts' SQL tolerates a moment's lag, and every poll that
// finds events is a transaction over four tables, so it gathers more.
const analyticsPoll = 250 * time.Millisecond

// memoryModels are the embedded default's read models: in memory, rebuilt
// from the log at every start, rebuildable while serving.
func memoryModels(store eventstore.Store, codec *eventstore.Codec) ([]model, *httpapi.Reads, analytics.Reader) {
	catalog := projections.NewSlot(func() *projections.MemoryCatalog { return projections.NewMemoryCatalog(codec) })
	carts := projections.NewSlot(func() *projections.MemoryCarts { return projections.NewMemoryCarts(codec) })
	orders := projections.NewSlot(func() *projections.MemoryOrders { return projections.NewMemoryOrders(codec) })
	correlations := projections.NewSlot(projections.NewMemoryCorrelations)
	sales := projections.NewSlot(func() *analytics.Memory { return analytics.NewMemory(codec) })
	slot := func(name string, filter eventstore.Filter, target projections.Target, rebuild func(context.Context, eventstore.Store, eventstore.Filter, int, func(pos, head eventstore.Position)) error) model {
		return model{
			projection: projections.Projection{Name: name, Filter: filter, Target: target},
			rebuild: func(ctx context.Context, progress func(pos, head eventstore.Position)) error {
				return rebuild(ctx, store, filter, 0, progress)
			},
			position: target.Checkpoint,
		}
	}
	models := []model{
		slot("catalog", projections.CatalogFilter, catalog, catalog.Rebuild),
		slot("carts", projections.CartFilter, carts, carts.Rebuild),
		slot("orders", projections.OrderFilter, orders, orders.Rebuild),
		slot("correlations", eventstore.Filter{}, correlations, correlations.Rebuild),
		slot(analytics.Name, analytics.Filter, sales, sales.Rebuild),
	}
	api := &httpapi.Reads{
		Catalog:      projections.CatalogSlot{Slot: catalog},
		Carts:        projections.CartSlot{Slot: carts},
		Orders:       projections.OrderSlot{Slot: orders},
		Correlations: projections.CorrelationSlot{Slot: correlations},
	}
	return models, api, analytics.Slot{Slot: sales}
}

// startReadSide starts the read models and their projections. They run
// until stop, not until the serve context ends, so that reads in flight
// during a graceful stop are still answered.
func (m *Main) startReadSide(setup context.Context, store eventstore.Store) (*readSide, error) { //nolint:contextcheck // runs until stop, past the serve context (above)
	ctx, cancel := context.WithCancel(context.Background())
	rs := &readSide{runner: &projections.Runner{Store: store}, rebuilds: &projections.Rebuilds{}, cancel: cancel}
	rm, err := m.openReadModels(setup, store, commands.NewCodec())
	if err != nil {
		cancel()
		return nil, err
	}
	for name, ping := range rm.pings {
		m.readyChecks[name] = ping
	}
	m.log.Info("read models", "store", rm.kind)
	rs.closeModels = rm.close
	api := rm.api
	api.Projections, api.Rebuilds, api.Lifetime = rs.runner, rs.rebuilds, ctx
	rs.api, rs.analytics = api, rm.analytics
	// Catalog answers are cached by the catalog model's position: every
	// catalog event, whichever process applied it, moves on every api
	// process's cache within one poll.
	rs.cache = &cache.Cache{Redis: rm.redis, Prefix: m.redisPrefix + "catalog-cache:", Version: api.Catalog.Position, Registerer: collectorSink{m}}
	api.CatalogCache = rs.cache.Middleware()
	if m.cfg.HasRole(RoleAPI) {
		// Only the api role serves the catalog: other processes need not
		// follow its version.
		rs.wg.Add(1)
		go func() {
			defer rs.wg.Done()
			_ = rs.cache.Run(ctx)
		}()
	}
	for _, md := range rm.models {
		rs.rebuilds.Register(md.projection.Name, md.rebuild)
		if !m.cfg.HasRole(RoleProjector) {
			// Another process projects; this one reads what it writes.
			rs.runner.Standby(md.projection.Name)
			continue
		}
		rs.wg.Add(1)
		go func() {
			defer rs.wg.Done()
			run := func(ctx context.Context) error { return rs.runner.Run(ctx, md.projection) }
			var err error
			if md.exclusive != nil {
				name := md.projection.Name
				err = md.exclusive(ctx, name, func() {
					rs.runner.Standby(name)
					m.log.Info("projection runs in another process: standing by", "projection", name)
				}, run)
			} else {
				err = run(ctx)
			}
			if err != nil && !errors.Is(err, context.Canceled) {
				m.log.Error("projection stopped", "projection", md.projection.Name, "error", err)
			}
		}()
	}
	return rs, nil
}

// mount registers the read routes; authn guards the caller's own ones.
func (rs *readSide) mount(authn gin.HandlerFunc) func(gin.IRouter) {
	return func(r gin.IRouter) {
		rs.api.Mount(r, authn)
		rs.api.MountAdmin(r, authn, auth.RequireRole(customer.RoleAdmin))
		rs.api.MountAnalytics(r, authn, auth.RequireRole(customer.RoleAdmin, customer.RoleAnalyst), rs.analytics)
	}
}

// stop ends the projections and rebuilds and waits for them.
func (rs *readSide) stop() {
	rs.cancel()
	rs.wg.Wait()
	rs.rebuilds.Wait()
	rs.closeModels()
}

// collectorSink registers collectors on the /metrics registry that the
// router creates later.
type collectorSink struct{ m *Main }

// Register implements prometheus.Registerer.
func (s collectorSink) Register(c prometheus.Collector) error {
	s.m.collectors = append(s.m.collectors, c)
	return nil
}

// MustRegister implements prometheus.Registerer.
func (s collectorSink) MustRegister(cs ...prometheus.Collector) {
	s.m.collectors = append(s.m.collectors, cs...)
}

// Unregister implements prometheus.Registerer; nothing is unregistered.
func (s collectorSink) Unregister(prometheus.Collector) bool { return false }

// Package postgres is the production event store on PostgreSQL (pgx/v5).
//
// Concurrent appends are grouped: each of a few flushers takes every append
// queued when it is free and writes them with one call of the append_batch
// function (one round trip, one transaction, one commit), each append still
// atomic and checked on its own. Readers of $all only read rows whose appending
// transaction is older than the oldest transaction still running in their
// snapshot; together with positions and transaction ids being taken together
// under a short advisory lock, that makes every ReadAll a stable prefix of the
// log, so a subscriber never skips an event whose commit lands late (the
// trap described in DESIGN.md). The cost: a long-running writing transaction
// anywhere on the server delays, but never breaks, $all readers.
package postgres

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/internal/pgmigrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// DefaultSchema is where the event store's tables live unless configured.
const DefaultSchema = "eventstore"

// ErrSchemaOutdated means the database lacks migrations this binary needs;
// run `commerce migrate` (serve also migrates at start).
var ErrSchemaOutdated = errors.New("event store schema is not migrated")

// Config is what Open needs; cmd/commerce fills it from the environment.
type Config struct {
	// URL is a PostgreSQL connection URL (postgres://...).
	URL string
	// Schema holds the tables; DefaultSchema when empty.
	Schema string
	// MaxConns caps the pool; 0 keeps pgx's default.
	MaxConns int32
	// Poll bounds how often an idle subscription looks for appends made by
	// other processes; zero values mean 1 ms after a wake-up and 50 ms idle,
	// with reads at least 5 ms apart (Gather).
	Poll eventstore.PollInterval
	// Flushers is how many group appends may be in flight at once (default
	// 2); each takes every append queued when it is free. Appends serialise
	// on one lock in the database, so more flushers mostly make smaller
	// groups and more commits.
	Flushers int
	// Logger receives the store's own diagnostics (nil: none).
	Logger *slog.Logger
	// NoListen turns off the LISTEN/NOTIFY wake-ups between processes
	// (subscribers then see other processes' appends by polling only).
	NoListen bool
	// TestCommitDelay makes every append sleep a random time up to this
	// long between taking its positions and committing, so that commits land
	// out of position order. Only tests set it.
	TestCommitDelay time.Duration
}

// Store is the PostgreSQL event store; it implements eventstore.Store.
type Store struct {
	pool     *pgxpool.Pool
	schema   string
	poll     eventstore.PollInterval
	notifier *eventstore.Notifier
	closed   atomic.Bool

	queue        chan *appendRequest
	closing      chan struct{} // closed by Close: flushers finish and stop
	flushers     sync.WaitGroup
	flushersDone chan struct{} // closed once every flusher has stopped
	lifetime     context.Context
	stop         context.CancelFunc

	log           *slog.Logger
	origin        string        // this store's NOTIFY payload, to ignore its own
	announceCh    chan struct{} // nil without LISTEN/NOTIFY
	announcerDone chan struct{}
	listenerDone  chan struct{}
}

var _ eventstore.Store = (*Store)(nil)

func migrations() ([]pgmigrate.Migration, error) {
	return pgmigrate.Load(migrationFiles, "migrations")
}

// Migrate applies the event store's embedded migrations to schema at url
// (DefaultSchema when empty). It is safe to run from several processes at
// once and returns the versions it applied.
func Migrate(ctx context.Context, url, schema string) ([]int, error) {
	if schema == "" {
		schema = DefaultSchema
	}
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("postgres event store migrate: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return pgmigrate.Apply(ctx, conn, schema, ms)
}

// Open connects a pool to cfg.URL and checks that the schema is migrated
// (ErrSchemaOutdated otherwise). Close releases the pool.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Schema == "" {
		cfg.Schema = DefaultSchema
	}
	if !pgmigrate.ValidSchema(cfg.Schema) {
		return nil, fmt.Errorf("postgres event store: schema %q is not a lower-case SQL identifier", cfg.Schema)
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres event store: parse url: %w", err)
	}
	flushers := cfg.Flushers
	if flushers <= 0 {
		flushers = 2
	}
	switch {
	case cfg.MaxConns > 0:
		pc.MaxConns = cfg.MaxConns
	case !strings.Contains(cfg.URL, "pool_max_conns"):
		// The flushers each hold a connection while a group append runs;
		// readers and subscriptions need their own.
		pc.MaxConns = int32(flushers) + 8
	}
	flushers = max(1, min(flushers, int(pc.MaxConns)-1))
	pc.ConnConfig.RuntimeParams["search_path"] = cfg.Schema
	// A client span per query run under a span (nothing otherwise).
	pc.ConnConfig.Tracer = otelpgx.NewTracer()
	if cfg.TestCommitDelay > 0 {
		pc.ConnConfig.RuntimeParams["commerce.test_commit_delay_ms"] = strconv.FormatFloat(float64(cfg.TestCommitDelay)/float64(time.Millisecond), 'f', 3, 64)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres event store: connect: %w", err)
	}
	ms, err := migrations()
	if err != nil {
		pool.Close()
		return nil, err
	}
	pending, err := pgmigrate.Pending(ctx, pool, cfg.Schema, ms)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres event store: %w", err)
	}
	if len(pending) > 0 {
		pool.Close()
		return nil, fmt.Errorf("%w: schema %s lacks %s", ErrSchemaOutdated, cfg.Schema, pgmigrate.Names(pending))
	}
	poll := cfg.Poll
	if poll.Min <= 0 {
		poll.Min = time.Millisecond
	}
	if poll.Gather <= 0 {
		poll.Gather = 5 * time.Millisecond
	}
	if poll.Max <= 0 {
		poll.Max = 50 * time.Millisecond
	}
	lifetime, stop := context.WithCancel(context.Background())
	s := &Store{
		pool: pool, schema: cfg.Schema, poll: poll, notifier: eventstore.NewNotifier(),
		queue: make(chan *appendRequest, 4*maxBatchRequests), closing: make(chan struct{}),
		flushersDone: make(chan struct{}), lifetime: lifetime, stop: stop,
	}
	s.log = cfg.Logger
	if s.log == nil {
		s.log = discardLogger
	}
	s.flushers.Add(flushers)
	for range flushers {
		go s.flusher()
	}
	go func() { s.flushers.Wait(); close(s.flushersDone) }()
	if !cfg.NoListen {
		s.origin = uuid.NewString()
		s.announceCh, s.announcerDone, s.listenerDone = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
		go s.announcer()                    //nolint:contextcheck // runs until Close, not until Open returns
		go s.listener(pc.ConnConfig.Copy()) //nolint:contextcheck // runs until Close, not until Open returns
	}
	return s, nil
}

// Pool exposes the connection pool to components that share the database
// (health checks, benchmarks).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping checks that the database answers, for readiness probes.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return eventstore.ErrClosed
	}
	return s.pool.Ping(ctx)
}

// Close waits for the appends already taken, fails the queued ones with
// ErrClosed and releases the pool. Subscriptions must be cancelled first.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	close(s.closing)
	<-s.flushersDone
	s.stop()
	if s.announceCh != nil {
		<-s.announcerDone
		<-s.listenerDone
	}
	s.pool.Close()
	return nil
}

// Append implements eventstore.Store. The append joins the next group call
// of append_batch; a context that ends while it is still queued returns its
// error and writes nothing, and once a flusher has taken it Append waits for
// the outcome, so an error never hides a write.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if err := eventstore.ValidateAppend(stream, expected, events); err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("postgres append to %q: %w", stream, err)
	}
	if s.closed.Load() {
		return eventstore.AppendResult{}, eventstore.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("postgres append to %q: %w", stream, err)
	}
	r := &appendRequest{stream: stream, expected: expected, events: events, done: make(chan struct{})}
	select {
	case s.queue <- r:
	case <-ctx.Done():
		return eventstore.AppendResult{}, fmt.Errorf("postgres append to %q: %w", stream, ctx.Err())
	case <-s.closing:
		return eventstore.AppendResult{}, eventstore.ErrClosed
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		if r.state.CompareAndSwap(queued, abandoned) {
			return eventstore.AppendResult{}, fmt.Errorf("postgres append to %q: %w", stream, ctx.Err())
		}
		<-r.done
	case <-s.flushersDone:
		if r.state.CompareAndSwap(queued, abandoned) {
			return eventstore.AppendResult{}, eventstore.ErrClosed
		}
		<-r.done
	}
	if r.err != nil {
		var wev *eventstore.WrongExpectedVersionError
		if errors.As(r.err, &wev) {
			return eventstore.AppendResult{}, r.err
		}
		return eventstore.AppendResult{}, fmt.Errorf("postgres append to %q: %w", stream, r.err)
	}
	return r.res, nil
}

const eventColumns = `position, id, stream_id, version, type, schema_version, data, metadata, recorded_at`

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, opts eventstore.ReadStreamOptions) ([]eventstore.Event, error) {
	limit, err := eventstore.ValidateReadStream(stream, opts)
	if err != nil {
		return nil, fmt.Errorf("postgres read %q: %w", stream, err)
	}
	if s.closed.Load() {
		return nil, eventstore.ErrClosed
	}
	var q string
	args := []any{stream, opts.From, limit}
	switch {
	case opts.Direction == eventstore.Forwards:
		q = `SELECT ` + eventColumns + ` FROM events WHERE stream_id = $1 AND version >= $2 ORDER BY version LIMIT $3`
	case opts.From <= 0:
		q = `SELECT ` + eventColumns + ` FROM events WHERE stream_id = $1 AND $2::bigint <= 0 ORDER BY version DESC LIMIT $3`
	default:
		q = `SELECT ` + eventColumns + ` FROM events WHERE stream_id = $1 AND version <= $2 ORDER BY version DESC LIMIT $3`
	}
	evs, err := s.query(ctx, q, limit, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres read %q: %w", stream, err)
	}
	return evs, nil
}

// stableWhere keeps a read of $all to rows whose transaction finished before
// every transaction still running in the statement's snapshot began.
const stableWhere = `tx_id < (SELECT pg_snapshot_xmin(pg_current_snapshot()))`

// ReadAll implements eventstore.Store.
func (s *Store) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) ([]eventstore.Event, error) {
	limit, err := eventstore.ValidateReadAll(opts)
	if err != nil {
		return nil, fmt.Errorf("postgres read all: %w", err)
	}
	if s.closed.Load() {
		return nil, eventstore.ErrClosed
	}
	q := `SELECT ` + eventColumns + ` FROM events WHERE position > $1 AND ` + stableWhere
	args := []any{int64(opts.After), limit}
	if len(opts.Filter.Types) > 0 {
		args = append(args, opts.Filter.Types)
		q += ` AND type = ANY($` + strconv.Itoa(len(args)) + `)`
	}
	if opts.Filter.StreamPrefix != "" {
		args = append(args, opts.Filter.StreamPrefix)
		q += ` AND starts_with(stream_id, $` + strconv.Itoa(len(args)) + `)`
	}
	q += ` ORDER BY position LIMIT $2`
	// Planned for the position it starts from, every time: a plan cached
	// while the table was small (or for an old position) would scan the
	// whole table on each catch-up read, which grows with the log.
	evs, err := s.query(ctx, q, limit, append([]any{pgx.QueryExecModeCacheDescribe}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("postgres read all: %w", err)
	}
	return evs, nil
}

// Head implements eventstore.Store.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	if s.closed.Load() {
		return 0, eventstore.ErrClosed
	}
	var h int64
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(position), 0) FROM events WHERE `+stableWhere).Scan(&h); err != nil {
		return 0, fmt.Errorf("postgres head: %w", err)
	}
	return eventstore.Position(h), nil
}

// Subscribe implements eventstore.Store. Appends made through this Store
// wake its subscribers at once; appends of other processes are found by
// polling within Config.Poll.Max.
func (s *Store) Subscribe(ctx context.Context, opts eventstore.SubscribeOptions, fn func(eventstore.Event) error) error {
	if s.closed.Load() {
		return eventstore.ErrClosed
	}
	return eventstore.CatchUp(ctx, s, s.notifier, s.poll, opts, fn)
}

func (s *Store) query(ctx context.Context, q string, capHint int, args ...any) ([]eventstore.Event, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]eventstore.Event, 0, min(capHint, 256))
	for rows.Next() {
		var e eventstore.Event
		var pos int64
		var data, meta []byte
		if err := rows.Scan(&pos, &e.ID, &e.StreamID, &e.Version, &e.Type, &e.SchemaVersion, &data, &meta, &e.RecordedAt); err != nil {
			return nil, err
		}
		e.Position = eventstore.Position(pos)
		e.Data = json.RawMessage(data)
		e.Metadata = json.RawMessage(meta)
		e.RecordedAt = e.RecordedAt.UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

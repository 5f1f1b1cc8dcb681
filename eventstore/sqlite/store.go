// Package sqlite is the embedded default event store: one SQLite file, pure
// Go (modernc.org/sqlite, no cgo), written with full durability.
//
// Appends go through a single writer goroutine on one dedicated connection.
// It takes every append queued at that moment, runs them in one BEGIN
// IMMEDIATE transaction with a savepoint per append (so one failing append
// does not fail the others) and commits once: one fsync for the whole group.
// Because SQLite lets one writer at a time hold the write lock, positions are
// handed out in commit order, so a reader of position > last never skips an
// event that commits late; that holds for several processes on the same file
// too. Reads use a separate pool of read-only connections, which WAL mode
// lets run while the writer commits.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/commerce-engine/commerce/eventstore"
)

const (
	// busyTimeout is how long a connection waits for a lock another
	// connection or process holds before failing with SQLITE_BUSY.
	busyTimeout = 5 * time.Second
	// maxGroup bounds how many queued appends one transaction takes.
	maxGroup = 512
	// queueSize is how many appends can wait for the writer without
	// blocking their callers in the send.
	queueSize = 1024
)

// pollInterval is how subscribers wait when caught up: notified appends of
// this process wake them at once, and Max is how soon appends made by
// another process on the same file are noticed.
var pollInterval = eventstore.PollInterval{Min: time.Millisecond, Max: 200 * time.Millisecond}

// Store is an eventstore.Store on one SQLite file; Open makes one and Close
// releases it. It is safe for concurrent use.
type Store struct {
	path     string
	write    *sql.DB // one connection, owned by the writer goroutine
	read     *sql.DB // read-only connections for ReadStream, ReadAll, Head
	notifier *eventstore.Notifier

	queue        chan *appendRequest
	closing      chan struct{} // closed by Close: the writer stops taking appends
	writerDone   chan struct{} // closed when the writer goroutine has returned
	cancelWriter context.CancelFunc
	closed       atomic.Bool
	groups       atomic.Int64 // committed groups, for tests
	claimed      atomic.Int64 // appends the writer has taken, for tests
}

var _ eventstore.Store = (*Store)(nil)

// Open opens the event store in the SQLite file at path, creating the file
// (not its directory) and migrating the schema if needed. It sets WAL mode
// and synchronous=FULL, so a returned Append survives a crash or power loss.
// It fails if the file is not a database, cannot be put in WAL mode, or was
// migrated by a newer binary.
func Open(path string) (*Store, error) {
	ctx := context.Background()
	write, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("sqlite open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	fail := func(err error, dbs ...*sql.DB) (*Store, error) {
		for _, db := range dbs {
			_ = db.Close()
		}
		return nil, fmt.Errorf("sqlite open %s: %w", path, err)
	}
	var mode string
	if err := write.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fail(err, write)
	}
	if !strings.EqualFold(mode, "wal") {
		return fail(fmt.Errorf("journal mode is %q, want wal", mode), write)
	}
	var synchronous int
	if err := write.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&synchronous); err != nil {
		return fail(err, write)
	}
	if synchronous != 2 { // FULL: the WAL is synced on every commit
		return fail(fmt.Errorf("synchronous is %d, want 2 (FULL)", synchronous), write)
	}
	if err := migrate(ctx, write); err != nil {
		return fail(err, write)
	}

	read, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return fail(err, write)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(readers)
	read.SetMaxIdleConns(readers)
	if err := read.PingContext(ctx); err != nil {
		return fail(err, write, read)
	}

	conn, err := write.Conn(ctx)
	if err != nil {
		return fail(err, write, read)
	}
	w, err := newWriter(ctx, conn) // on failure it has closed conn
	if err != nil {
		return fail(err, write, read)
	}

	writerCtx, cancel := context.WithCancel(context.Background())
	s := &Store{
		path:         path,
		write:        write,
		read:         read,
		notifier:     eventstore.NewNotifier(),
		queue:        make(chan *appendRequest, queueSize),
		closing:      make(chan struct{}),
		writerDone:   make(chan struct{}),
		cancelWriter: cancel,
	}
	go s.runWriter(writerCtx, w)
	return s, nil
}

// dsn builds the driver's URI for path. Both pools wait busyTimeout for
// locks; the write pool sets full durability and BEGIN IMMEDIATE for
// database/sql transactions (the migrations), the read pool is query-only.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		q.Set("_query_only", "1")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Set("_txlock", "immediate")
	}
	// In a SQLite URI '?' and '#' end the path and '%' starts an escape.
	p := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	if strings.HasPrefix(p, "/") {
		p = "//" + p // file:///abs/path: an empty authority
	}
	return "file:" + p + "?" + q.Encode()
}

// Path returns the database file the store was opened on, for logs and
// backups.
func (s *Store) Path() string { return s.path }

// Ping reports whether the store can serve reads and appends, for readiness
// checks. It returns eventstore.ErrClosed after Close.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.Head(ctx); err != nil {
		return fmt.Errorf("sqlite ping: %w", err)
	}
	select {
	case <-s.writerDone:
		return fmt.Errorf("sqlite ping: %w", eventstore.ErrClosed)
	default:
	}
	return nil
}

// Close stops the writer (appends still queued fail with
// eventstore.ErrClosed; a group already in its transaction commits first),
// wakes subscribers, which then return ErrClosed, and closes the database.
// No goroutine of the store outlives it. A second Close returns ErrClosed.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return eventstore.ErrClosed
	}
	close(s.closing)
	s.cancelWriter() // ends a wait for a write lock held by another process
	<-s.writerDone
	s.notifier.Notify()
	if err := errors.Join(s.read.Close(), s.write.Close()); err != nil {
		return fmt.Errorf("sqlite close %s: %w", s.path, err)
	}
	return nil
}

// Subscribe reads $all from opts.After and then follows live appends; see
// eventstore.Store. Appends of this process wake it at once; appends of
// another process on the same file are noticed within 200ms.
func (s *Store) Subscribe(ctx context.Context, opts eventstore.SubscribeOptions, fn func(eventstore.Event) error) error {
	if s.closed.Load() {
		return fmt.Errorf("sqlite subscribe: %w", eventstore.ErrClosed)
	}
	return eventstore.CatchUp(ctx, s, s.notifier, pollInterval, opts, fn)
}

// Head returns the position of the last committed event, 0 for an empty
// store.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	if s.closed.Load() {
		return 0, eventstore.ErrClosed
	}
	var pos int64
	if err := s.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(position), 0) FROM events`).Scan(&pos); err != nil {
		return 0, s.readErr(ctx, "sqlite head", err)
	}
	return eventstore.Position(pos), nil
}

const eventColumns = `position, id, stream_id, version, type, schema_version, data, metadata, recorded_at`

// ReadStream returns events of one stream; see eventstore.Store. It returns
// an eventstore.ErrInvalidInput error for a bad stream id, a negative From
// or Limit, or an unknown direction.
func (s *Store) ReadStream(ctx context.Context, stream string, opts eventstore.ReadStreamOptions) ([]eventstore.Event, error) {
	op := fmt.Sprintf("sqlite read stream %q", stream)
	if s.closed.Load() {
		return nil, fmt.Errorf("%s: %w", op, eventstore.ErrClosed)
	}
	if err := eventstore.ValidateStreamID(stream); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	limit, err := eventstore.ValidateLimit(opts.Limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if opts.From < 0 {
		return nil, fmt.Errorf("%s: %w", op, &eventstore.ValidationError{Field: "from", Reason: "is negative"})
	}
	var query string
	args := []any{stream}
	switch {
	case opts.Direction == eventstore.Forwards:
		query = `SELECT ` + eventColumns + ` FROM events WHERE stream_id = ? AND version >= ? ORDER BY version LIMIT ?`
		args = append(args, opts.From)
	case opts.Direction == eventstore.Backwards && opts.From == 0:
		query = `SELECT ` + eventColumns + ` FROM events WHERE stream_id = ? ORDER BY version DESC LIMIT ?`
	case opts.Direction == eventstore.Backwards:
		query = `SELECT ` + eventColumns + ` FROM events WHERE stream_id = ? AND version <= ? ORDER BY version DESC LIMIT ?`
		args = append(args, opts.From)
	default:
		return nil, fmt.Errorf("%s: %w", op, &eventstore.ValidationError{Field: "direction", Reason: fmt.Sprintf("%d is not Forwards or Backwards", opts.Direction)})
	}
	args = append(args, limit)
	return s.query(ctx, op, limit, query, args...)
}

// ReadAll returns events of the global log after opts.After in position
// order; see eventstore.Store. Every SQLite read sees a committed snapshot
// and positions are assigned in commit order, so what it returns is always a
// stable prefix of $all. It returns an eventstore.ErrInvalidInput error for a
// negative After or Limit.
func (s *Store) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) ([]eventstore.Event, error) {
	const op = "sqlite read all"
	if s.closed.Load() {
		return nil, fmt.Errorf("%s: %w", op, eventstore.ErrClosed)
	}
	limit, err := eventstore.ValidateLimit(opts.Limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if opts.After < 0 {
		return nil, fmt.Errorf("%s: %w", op, &eventstore.ValidationError{Field: "after", Reason: "is negative"})
	}
	var q strings.Builder
	q.WriteString(`SELECT ` + eventColumns + ` FROM events WHERE position > ?`)
	args := []any{int64(opts.After)}
	if p := opts.Filter.StreamPrefix; p != "" {
		// A byte range rather than LIKE: exact, case-sensitive, and '%' or
		// '_' in the prefix are plain characters. The unary + keeps the
		// planner on the position order instead of the stream index, so a
		// catch-up from a checkpoint costs what it reads, not the stream's
		// whole history.
		q.WriteString(` AND +stream_id >= ?`)
		args = append(args, p)
		if end, ok := prefixEnd(p); ok {
			q.WriteString(` AND +stream_id < ?`)
			args = append(args, end)
		}
	}
	if types := opts.Filter.Types; len(types) > 0 {
		q.WriteString(` AND type IN (?` + strings.Repeat(`, ?`, len(types)-1) + `)`)
		for _, t := range types {
			args = append(args, t)
		}
	}
	q.WriteString(` ORDER BY position LIMIT ?`)
	args = append(args, limit)
	return s.query(ctx, op, limit, q.String(), args...)
}

// prefixEnd returns the smallest string greater than every string that
// starts with p, in SQLite's BINARY (byte-wise) order; ok is false when there
// is none (p is all 0xff bytes).
func prefixEnd(p string) (end string, ok bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

func (s *Store) query(ctx context.Context, op string, limit int, query string, args ...any) ([]eventstore.Event, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.readErr(ctx, op, err)
	}
	defer rows.Close()
	out := make([]eventstore.Event, 0, min(limit, 64))
	for rows.Next() {
		var (
			e             eventstore.Event
			pos, recorded int64
			id            string
			data, meta    []byte
		)
		if err := rows.Scan(&pos, &id, &e.StreamID, &e.Version, &e.Type, &e.SchemaVersion, &data, &meta, &recorded); err != nil {
			return nil, s.readErr(ctx, op, err)
		}
		if e.ID, err = uuid.Parse(id); err != nil {
			return nil, fmt.Errorf("%s: event at position %d: %w", op, pos, err)
		}
		e.Position = eventstore.Position(pos)
		e.Data, e.Metadata = data, meta
		e.RecordedAt = time.Unix(0, recorded).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.readErr(ctx, op, err)
	}
	return out, nil
}

// readErr wraps a failed read, reporting a done context or a closed store as
// such rather than as whatever the driver made of them.
func (s *Store) readErr(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s: %w", op, ctxErr)
	}
	if s.closed.Load() {
		return fmt.Errorf("%s: %w", op, eventstore.ErrClosed)
	}
	return fmt.Errorf("%s: %w", op, err)
}

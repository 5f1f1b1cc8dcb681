package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/commerce-engine/commerce/eventstore"
)

// Request states: the writer and a caller whose context ends race to move a
// queued request on; whoever wins decides whether it is written.
const (
	queued    int32 = iota
	taken           // the writer has it: it will be answered on done
	abandoned       // the caller gave up before the writer took it
)

type appendRequest struct {
	stream   string
	expected eventstore.ExpectedVersion
	events   []eventstore.EventData

	state atomic.Int32
	done  chan struct{} // closed by the writer once res and err are set
	res   eventstore.AppendResult
	err   error
}

// Append writes events at the end of stream if it is at the expected
// version; see eventstore.Store for the contract. The append joins the group
// the writer commits next. A context that ends while the append is still
// queued returns its error and writes nothing; once the writer has taken it,
// Append waits for the group's outcome, so an error never hides a write. It
// returns *eventstore.WrongExpectedVersionError, ErrIdempotencyConflict,
// ErrInvalidInput or ErrClosed errors as documented there.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if err := eventstore.ValidateAppend(stream, expected, events); err != nil {
		return eventstore.AppendResult{}, appendErr(stream, err)
	}
	if s.closed.Load() {
		return eventstore.AppendResult{}, appendErr(stream, eventstore.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return eventstore.AppendResult{}, appendErr(stream, err)
	}
	r := &appendRequest{stream: stream, expected: expected, events: events, done: make(chan struct{})}
	select {
	case s.queue <- r:
	case <-ctx.Done():
		return eventstore.AppendResult{}, appendErr(stream, ctx.Err())
	case <-s.closing:
		return eventstore.AppendResult{}, appendErr(stream, eventstore.ErrClosed)
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		if r.state.CompareAndSwap(queued, abandoned) {
			return eventstore.AppendResult{}, appendErr(stream, ctx.Err())
		}
		<-r.done
	case <-s.writerDone:
		// Queued after the writer drained the queue on Close.
		if r.state.CompareAndSwap(queued, abandoned) {
			return eventstore.AppendResult{}, appendErr(stream, eventstore.ErrClosed)
		}
		<-r.done
	}
	if r.err != nil {
		return eventstore.AppendResult{}, appendErr(stream, r.err)
	}
	return r.res, nil
}

// appendErr gives an append error its context. A wrong expected version is
// returned as is: it names the stream already and callers match it by type.
func appendErr(stream string, err error) error {
	var wev *eventstore.WrongExpectedVersionError
	if errors.As(err, &wev) {
		return err
	}
	return fmt.Errorf("sqlite append %q: %w", stream, err)
}

// writer owns the write connection and its prepared statements; only the
// writer goroutine uses it.
type writer struct {
	conn *sql.Conn

	begin, commit, rollback        *sql.Stmt
	savepoint, release, rollbackTo *sql.Stmt
	byID, streamVersion, atVersion *sql.Stmt
	insert                         *sql.Stmt
}

func newWriter(ctx context.Context, conn *sql.Conn) (*writer, error) {
	w := &writer{conn: conn}
	stmts := []struct {
		dst   **sql.Stmt
		query string
	}{
		{&w.begin, `BEGIN IMMEDIATE`},
		{&w.commit, `COMMIT`},
		{&w.rollback, `ROLLBACK`},
		{&w.savepoint, `SAVEPOINT append_request`},
		{&w.release, `RELEASE append_request`},
		{&w.rollbackTo, `ROLLBACK TO append_request`},
		{&w.byID, `SELECT stream_id, version FROM events WHERE id = ?`},
		{&w.streamVersion, `SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = ?`},
		{&w.atVersion, `SELECT id, type, data, position FROM events WHERE stream_id = ? AND version = ?`},
		{&w.insert, `INSERT INTO events (id, stream_id, version, type, schema_version, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`},
	}
	for _, st := range stmts {
		p, err := conn.PrepareContext(ctx, st.query) //nolint:sqlclosecheck // kept in the writer for its life; writer.close closes them
		if err != nil {
			w.close()
			return nil, fmt.Errorf("prepare %q: %w", st.query, err)
		}
		*st.dst = p
	}
	return w, nil
}

func (w *writer) close() {
	for _, st := range []*sql.Stmt{w.begin, w.commit, w.rollback, w.savepoint, w.release, w.rollbackTo, w.byID, w.streamVersion, w.atVersion, w.insert} {
		if st != nil {
			_ = st.Close()
		}
	}
	_ = w.conn.Close()
}

// runWriter is the writer goroutine: it takes every queued append, commits
// them as one group, answers them, and repeats until Close. ctx ends on
// Close; it only bounds the wait for the write lock, never a transaction.
func (s *Store) runWriter(ctx context.Context, w *writer) {
	defer close(s.writerDone)
	defer w.close()
	batch := make([]*appendRequest, 0, maxGroup)
	group := make([]*appendRequest, 0, maxGroup)
	for {
		select {
		case <-s.closing:
			s.failQueued()
			return
		default:
		}
		select {
		case <-s.closing:
			s.failQueued()
			return
		case r := <-s.queue:
			batch = append(batch[:0], r)
		}
	fill:
		for len(batch) < maxGroup {
			select {
			case r := <-s.queue:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		group = group[:0]
		for _, r := range batch {
			if r.state.CompareAndSwap(queued, taken) {
				group = append(group, r)
				s.claimed.Add(1)
			}
		}
		clear(batch)
		if len(group) > 0 {
			s.commitGroup(ctx, w, group)
			clear(group)
		}
	}
}

// failQueued answers every append still queued with ErrClosed.
func (s *Store) failQueued() {
	for {
		select {
		case r := <-s.queue:
			if r.state.CompareAndSwap(queued, taken) {
				r.err = eventstore.ErrClosed
				close(r.done)
			}
		default:
			return
		}
	}
}

// commitGroup runs group in one transaction, each append inside its own
// savepoint: an append that fails (wrong expected version, idempotency
// conflict) is rolled back alone and gets its error, the others commit
// together. If the transaction itself fails, every append of the group gets
// that error and nothing of the group is written.
func (s *Store) commitGroup(ctx context.Context, w *writer, group []*appendRequest) {
	bg := context.Background() // a started transaction is never interrupted
	answer := func() {
		for _, r := range group {
			close(r.done)
		}
	}
	failAll := func(err error) {
		for _, r := range group {
			r.res, r.err = eventstore.AppendResult{}, err
		}
		answer()
	}
	abort := func(err error) {
		w.rollback.ExecContext(bg) //nolint:errcheck,gosec // SQLite may have rolled back already
		failAll(err)
	}

	if _, err := w.begin.ExecContext(ctx); err != nil {
		if ctx.Err() != nil {
			err = eventstore.ErrClosed
		}
		failAll(fmt.Errorf("begin: %w", err))
		return
	}
	now := time.Now().UnixNano()
	if len(group) == 1 {
		// Alone in its group: no savepoint needed, a failure rolls back
		// the transaction (two statements less for a lone writer).
		r := group[0]
		var inserted bool
		r.res, inserted, r.err = w.apply(bg, r, now)
		if r.err != nil {
			w.rollback.ExecContext(bg) //nolint:errcheck,gosec // nothing of the group was written either way
			answer()
			return
		}
		if _, err := w.commit.ExecContext(bg); err != nil {
			abort(fmt.Errorf("commit: %w", err))
			return
		}
		s.groups.Add(1)
		if inserted {
			s.notifier.Notify()
		}
		answer()
		return
	}
	wrote := false
	for _, r := range group {
		if _, err := w.savepoint.ExecContext(bg); err != nil {
			abort(fmt.Errorf("savepoint: %w", err))
			return
		}
		var inserted bool
		r.res, inserted, r.err = w.apply(bg, r, now)
		if r.err != nil {
			// Fails too if SQLite rolled back the whole transaction (I/O
			// error, disk full): then the group is lost, not just r.
			if _, err := w.rollbackTo.ExecContext(bg); err != nil {
				abort(fmt.Errorf("rollback to savepoint after %v: %w", r.err, err)) //nolint:errorlint // the failed rollback is the error; the append's own is detail
				return
			}
		} else if inserted {
			wrote = true
		}
		if _, err := w.release.ExecContext(bg); err != nil {
			abort(fmt.Errorf("release savepoint: %w", err))
			return
		}
	}
	if _, err := w.commit.ExecContext(bg); err != nil {
		abort(fmt.Errorf("commit: %w", err))
		return
	}
	s.groups.Add(1)
	if wrote {
		s.notifier.Notify()
	}
	answer()
}

// apply runs one append inside the group's transaction: the idempotency
// check first, then the expected version, then the inserts. inserted is
// false for a retried append that was already recorded.
func (w *writer) apply(ctx context.Context, r *appendRequest, now int64) (res eventstore.AppendResult, inserted bool, err error) {
	var (
		recordedIn      string
		recordedVersion int64
	)
	err = w.byID.QueryRowContext(ctx, r.events[0].ID.String()).Scan(&recordedIn, &recordedVersion)
	switch {
	case err == nil:
		res, err = w.replay(ctx, r, recordedIn, recordedVersion)
		return res, false, err
	case !errors.Is(err, sql.ErrNoRows):
		return eventstore.AppendResult{}, false, fmt.Errorf("look up event %s: %w", r.events[0].ID, err)
	}

	current, err := w.version(ctx, r.stream)
	if err != nil {
		return eventstore.AppendResult{}, false, err
	}
	if !satisfies(r.expected, current) {
		return eventstore.AppendResult{}, false, &eventstore.WrongExpectedVersionError{Stream: r.stream, Expected: r.expected, Actual: current}
	}
	res = eventstore.AppendResult{NextExpectedVersion: current + int64(len(r.events))}
	for i, e := range r.events {
		meta := string(e.Metadata)
		if len(bytes.TrimSpace(e.Metadata)) == 0 {
			meta = "{}"
		}
		out, err := w.insert.ExecContext(ctx, e.ID.String(), r.stream, current+int64(i)+1, e.Type, e.SchemaVersion, string(e.Data), meta, now)
		if err != nil {
			// The first id was new; a later one may already be recorded.
			if recorded, qerr := w.anyRecorded(ctx, r.events[1:]); qerr == nil && recorded {
				return eventstore.AppendResult{}, false, fmt.Errorf("some event ids are new, some recorded: %w", eventstore.ErrIdempotencyConflict)
			}
			return eventstore.AppendResult{}, false, fmt.Errorf("insert event %s: %w", e.ID, err)
		}
		pos, err := out.LastInsertId()
		if err != nil {
			return eventstore.AppendResult{}, false, fmt.Errorf("insert event %s: %w", e.ID, err)
		}
		if i == 0 {
			res.FirstPosition = eventstore.Position(pos)
		}
		res.LastPosition = eventstore.Position(pos)
	}
	return res, true, nil
}

// replay handles an append whose first event id is already recorded, at
// version at of stream recordedIn. It is a retried request, and a no-op
// success, only if every event of it is recorded in r.stream, consecutively
// from at, with the same id, type and data (compared as minified JSON).
func (w *writer) replay(ctx context.Context, r *appendRequest, recordedIn string, at int64) (eventstore.AppendResult, error) {
	conflict := func(format string, args ...any) (eventstore.AppendResult, error) {
		return eventstore.AppendResult{}, fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), eventstore.ErrIdempotencyConflict)
	}
	if recordedIn != r.stream {
		return conflict("event %s is recorded in stream %q", r.events[0].ID, recordedIn)
	}
	var res eventstore.AppendResult
	for i, e := range r.events {
		var (
			id, typ string
			data    []byte
			pos     int64
		)
		err := w.atVersion.QueryRowContext(ctx, r.stream, at+int64(i)).Scan(&id, &typ, &data, &pos)
		if errors.Is(err, sql.ErrNoRows) {
			return conflict("event %s is not recorded after the retried ones", e.ID)
		}
		if err != nil {
			return eventstore.AppendResult{}, fmt.Errorf("read version %d: %w", at+int64(i), err)
		}
		if id != e.ID.String() {
			return conflict("version %d is event %s, not %s", at+int64(i), id, e.ID)
		}
		if typ != e.Type || !sameJSON(data, e.Data) {
			return conflict("event %s is recorded with other content", e.ID)
		}
		if i == 0 {
			res.FirstPosition = eventstore.Position(pos)
		}
		res.LastPosition = eventstore.Position(pos)
	}
	current, err := w.version(ctx, r.stream)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	res.NextExpectedVersion = current
	return res, nil
}

func (w *writer) version(ctx context.Context, stream string) (int64, error) {
	var v int64
	if err := w.streamVersion.QueryRowContext(ctx, stream).Scan(&v); err != nil {
		return 0, fmt.Errorf("read stream version: %w", err)
	}
	return v, nil
}

// anyRecorded reports whether any of events' ids is already recorded.
func (w *writer) anyRecorded(ctx context.Context, events []eventstore.EventData) (bool, error) {
	if len(events) == 0 {
		return false, nil
	}
	args := make([]any, len(events))
	for i, e := range events {
		args[i] = e.ID.String()
	}
	q := `SELECT EXISTS (SELECT 1 FROM events WHERE id IN (?` + strings.Repeat(`, ?`, len(events)-1) + `))`
	var found bool
	err := w.conn.QueryRowContext(ctx, q, args...).Scan(&found)
	return found, err
}

// satisfies reports whether a stream at version current meets expected.
func satisfies(expected eventstore.ExpectedVersion, current int64) bool {
	switch expected {
	case eventstore.Any:
		return true
	case eventstore.StreamExists:
		return current > 0
	}
	return int64(expected) == current
}

// sameJSON compares two JSON texts ignoring insignificant whitespace.
func sameJSON(a, b []byte) bool {
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return bytes.Equal(a, b)
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}

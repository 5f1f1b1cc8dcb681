package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/commerce-engine/commerce/eventstore"
)

// Request states: a flusher and a caller whose context ends race to move a
// queued request on; whoever wins decides whether it is written.
const (
	queued int32 = iota
	taken
	abandoned
)

// Batch bounds: one call of append_batch carries at most this much.
const (
	maxBatchRequests = 256
	maxBatchEvents   = 4 * eventstore.MaxEventsPerAppend
)

type appendRequest struct {
	stream   string
	expected eventstore.ExpectedVersion
	events   []eventstore.EventData

	state atomic.Int32
	done  chan struct{}
	res   eventstore.AppendResult
	err   error
}

func (r *appendRequest) answer(res eventstore.AppendResult, err error) {
	r.res, r.err = res, err
	close(r.done)
}

// flush loop: each flusher takes every request queued when it is free and
// writes them in one call, so concurrent appends share one transaction and
// one commit while the other flushers' calls are in flight.
func (s *Store) flusher() {
	defer s.flushers.Done()
	for {
		var first *appendRequest
		select {
		case first = <-s.queue:
		case <-s.closing:
			s.failQueued()
			return
		}
		batch := []*appendRequest{first}
		events := len(first.events)
	drain:
		for len(batch) < maxBatchRequests && events < maxBatchEvents {
			select {
			case r := <-s.queue:
				batch = append(batch, r)
				events += len(r.events)
			default:
				break drain
			}
		}
		live := batch[:0]
		for _, r := range batch {
			if r.state.CompareAndSwap(queued, taken) {
				live = append(live, r)
			}
		}
		if len(live) > 0 {
			s.writeBatch(live)
		}
	}
}

func (s *Store) failQueued() {
	for {
		select {
		case r := <-s.queue:
			if r.state.CompareAndSwap(queued, taken) {
				r.answer(eventstore.AppendResult{}, eventstore.ErrClosed)
			}
		default:
			return
		}
	}
}

const appendBatchSQL = `SELECT req, status, actual, first_position, last_position
FROM append_batch($1, $2, $3, $4, $5, $6, $7, $8)`

// maxAppendAttempts bounds the calls one batch makes when concurrent appends
// to the same streams keep winning the race for the next version.
const maxAppendAttempts = 50

type batchRow struct {
	req, status         int32
	actual, first, last int64
}

func (s *Store) writeBatch(batch []*appendRequest) {
	var nEvents int
	for _, r := range batch {
		nEvents += len(r.events)
	}
	streams := make([]string, len(batch))
	expected := make([]int64, len(batch))
	counts := make([]int32, len(batch))
	ids := make([]string, 0, nEvents)
	types := make([]string, 0, nEvents)
	versions := make([]int32, 0, nEvents)
	data := make([]string, 0, nEvents)
	meta := make([]string, 0, nEvents)
	for i, r := range batch {
		streams[i], expected[i], counts[i] = r.stream, int64(r.expected), int32(len(r.events))
		for _, e := range r.events {
			ids = append(ids, e.ID.String())
			types = append(types, e.Type)
			versions = append(versions, int32(e.SchemaVersion))
			data = append(data, string(e.Data))
			meta = append(meta, string(e.Metadata))
		}
	}
	ctx := s.lifetime
	var rows []batchRow
	var err error
	for attempt := 1; ; attempt++ {
		rows, err = s.callBatch(ctx, streams, expected, counts, ids, types, versions, data, meta)
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "23505" || attempt == maxAppendAttempts || ctx.Err() != nil {
			break
		}
		// A concurrent call recorded one of these versions or ids first;
		// a new call, in a new transaction, decides what that means here.
	}
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			err = fmt.Errorf("still contended after %d attempts: %w", maxAppendAttempts, eventstore.ErrWrongExpectedVersion)
		}
		for _, r := range batch {
			r.answer(eventstore.AppendResult{}, err)
		}
		return
	}
	if len(rows) != len(batch) {
		err := fmt.Errorf("append_batch answered %d rows for %d requests", len(rows), len(batch))
		for _, r := range batch {
			r.answer(eventstore.AppendResult{}, err)
		}
		return
	}
	appended := false
	for _, row := range rows {
		r := batch[row.req-1]
		switch row.status {
		case 0, 2:
			appended = appended || row.status == 0
			r.answer(eventstore.AppendResult{NextExpectedVersion: row.actual, FirstPosition: eventstore.Position(row.first), LastPosition: eventstore.Position(row.last)}, nil)
		case 1:
			r.answer(eventstore.AppendResult{}, &eventstore.WrongExpectedVersionError{Stream: r.stream, Expected: r.expected, Actual: row.actual})
		case 3:
			r.answer(eventstore.AppendResult{}, eventstore.ErrIdempotencyConflict)
		default:
			r.answer(eventstore.AppendResult{}, fmt.Errorf("append_batch: unknown status %d", row.status))
		}
	}
	if appended {
		s.notifier.Notify()
		if s.announceCh != nil {
			s.announce()
		}
	}
}

func (s *Store) callBatch(ctx context.Context, args ...any) ([]batchRow, error) {
	rows, err := s.pool.Query(ctx, appendBatchSQL, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []batchRow
	for rows.Next() {
		var b batchRow
		if err := rows.Scan(&b.req, &b.status, &b.actual, &b.first, &b.last); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5"

	"github.com/commerce-engine/commerce/eventstore"
)

// ErrRebuildRunning means another rebuild of the same projection holds its
// lock; the admin API answers 409 Conflict.
var ErrRebuildRunning = errors.New("projections/postgres: a rebuild of this projection is already running")

// RebuildOptions tunes a rebuild.
type RebuildOptions struct {
	// Batch is how many events one transaction applies (default 2000).
	Batch int
	// Progress, when set, is called after each batch with the new
	// generation's position and the log's head, for progress output.
	Progress func(pos, head eventstore.Position)
}

// errBusy means a swap or a drop could not take its locks quickly and
// backed off, so that no reader is chosen as a deadlock victim.
var errBusy = errors.New("read models are busy")

// Rebuild replays the log into a new generation of m while the live one
// keeps serving, then swaps the views to it and drops the old one. Only one
// rebuild of a projection runs at a time (ErrRebuildRunning otherwise). On
// error or cancellation the live generation is untouched and the next
// rebuild drops the half-built one.
func (s *Store) Rebuild(ctx context.Context, events eventstore.Store, m Model, opts RebuildOptions) error {
	if err := s.validateModel(m); err != nil {
		return err
	}
	name := m.Name()
	if opts.Batch <= 0 {
		opts.Batch = 2000
	}
	opts.Batch = min(opts.Batch, eventstore.MaxReadLimit)
	l, err := s.tryLock(ctx, s.NS.Prefix+"rebuild:"+name)
	if err != nil {
		return fmt.Errorf("projections/postgres rebuild %s: %w", name, err)
	}
	if l == nil {
		return fmt.Errorf("%w: %s", ErrRebuildRunning, name)
	}
	defer l.release(ctx)

	gen, schema, err := s.prepareRebuild(ctx, m)
	if err != nil {
		return fmt.Errorf("projections/postgres rebuild %s: %w", name, err)
	}
	if err := s.catchUp(ctx, events, m, schema, -1, opts); err != nil {
		return fmt.Errorf("projections/postgres rebuild %s: %w", name, err)
	}
	old, err := backoff.Retry(ctx, func() (string, error) {
		return busyOnly(s.swap(ctx, events, m, gen, schema, opts))
	}, lockWaitBackOff(0)...)
	if err != nil {
		return fmt.Errorf("projections/postgres rebuild %s: swap: %w", name, err)
	}
	if err := s.dropGeneration(ctx, old); err != nil {
		return fmt.Errorf("projections/postgres rebuild %s: swapped to %s but could not drop %s (the next rebuild will): %w", name, schema, old, err)
	}
	return nil
}

// dropPatience bounds how long a rebuild keeps retrying the drop of the
// generation it replaced while readers still use it.
const dropPatience = 30 * time.Second

// dropGeneration drops a generation no view points at any more. Readers
// that began before the swap (or whose cached plans still name its tables)
// hold locks the drop needs; each attempt gives up its locks before the
// server's deadlock check could pick such a reader as the victim, and the
// drop is retried after they finish.
func (s *Store) dropGeneration(ctx context.Context, schema string) error {
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		return busyOnly(struct{}{}, s.tryDrop(ctx, schema))
	}, lockWaitBackOff(dropPatience)...)
	if errors.Is(err, errBusy) {
		return fmt.Errorf("%w for %v", err, dropPatience)
	}
	return err
}

// lockWaitBackOff is the retry policy of a step that gave up a lock wait
// (errBusy): 10 ms doubling up to 1 s, no jitter, until ctx ends or, when
// patience is positive, until the next pause would pass it.
func lockWaitBackOff(patience time.Duration) []backoff.RetryOption {
	return []backoff.RetryOption{
		backoff.WithBackOff(&backoff.ExponentialBackOff{InitialInterval: 10 * time.Millisecond, Multiplier: 2, MaxInterval: time.Second}),
		backoff.WithMaxElapsedTime(patience),
	}
}

// busyOnly lets backoff.Retry retry errBusy alone: any other error is
// permanent.
func busyOnly[T any](v T, err error) (T, error) {
	if err != nil && !errors.Is(err, errBusy) {
		return v, backoff.Permanent(err)
	}
	return v, err
}

// tryDrop makes one attempt of dropGeneration; errBusy means a lock wait
// gave up.
func (s *Store) tryDrop(ctx context.Context, schema string) error {
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer rtRollback(ctx, tx)
	// Only the lock waits are bounded: dropping a large generation may
	// take longer than that, and is not a reason to give up.
	if err := boundLockWaits(ctx, tx, "lock_timeout"); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "DROP SCHEMA IF EXISTS "+rtIdent(schema)+" CASCADE"); err != nil {
		return busyOr(ctx, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// prepareRebuild drops the generations of m that are not live (left by
// rebuilds that died or drops that failed) and creates a new empty one,
// recorded as building.
func (s *Store) prepareRebuild(ctx context.Context, m Model) (int64, string, error) {
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return 0, "", fmt.Errorf("begin: %w", err)
	}
	defer rtRollback(ctx, tx)
	var live string
	err = tx.QueryRow(ctx, "SELECT schema_name FROM "+s.registry()+" WHERE name = $1", m.Name()).Scan(&live)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", fmt.Errorf("%w: %s", ErrNotSetUp, m.Name())
	}
	if err != nil {
		return 0, "", fmt.Errorf("read registry: %w", err)
	}
	rows, err := tx.Query(ctx, "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)", s.NS.Prefix+"rm_"+m.Name()+"_")
	if err != nil {
		return 0, "", fmt.Errorf("list generations: %w", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, "", fmt.Errorf("list generations: %w", err)
	}
	mine := s.generationSchemas(m.Name())
	for _, n := range found {
		if n == live || !mine.MatchString(n) {
			continue
		}
		if _, err := tx.Exec(ctx, "DROP SCHEMA "+rtIdent(n)+" CASCADE"); err != nil {
			return 0, "", fmt.Errorf("drop stale generation %s: %w", n, err)
		}
	}
	gen, schema, err := s.newGeneration(ctx, tx, m)
	if err != nil {
		return 0, "", err
	}
	if _, err := tx.Exec(ctx, "UPDATE "+s.registry()+" SET building = $2, updated_at = now() WHERE name = $1", m.Name(), schema); err != nil {
		return 0, "", fmt.Errorf("record building %s: %w", schema, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, "", fmt.Errorf("commit: %w", err)
	}
	return gen, schema, nil
}

// catchUp applies the log to generation schema, one transaction per batch,
// from its checkpoint until a read returns nothing or, when until >= 0,
// until its checkpoint reaches until.
func (s *Store) catchUp(ctx context.Context, events eventstore.Store, m Model, schema string, until eventstore.Position, opts RebuildOptions) error {
	var cp int64
	if err := s.Pool.QueryRow(ctx, "SELECT position FROM "+rtQual(schema, "checkpoint")).Scan(&cp); err != nil {
		return fmt.Errorf("read checkpoint of %s: %w", schema, err)
	}
	pos := eventstore.Position(cp)
	if until >= 0 && pos >= until {
		return nil
	}
	// The next batch is read while this one is applied: reading the log
	// and writing the model overlap.
	type batch struct {
		evs  []eventstore.Event
		head eventstore.Position
		err  error
	}
	batches := make(chan batch, 2)
	rctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		for range batches { // let the reader finish
		}
	}()
	go func() {
		defer close(batches)
		after := pos
		for {
			var b batch
			b.head, b.err = events.Head(rctx)
			if b.err != nil {
				b.err = fmt.Errorf("read the head: %w", b.err)
			} else if b.evs, b.err = events.ReadAll(rctx, eventstore.ReadAllOptions{After: after, Filter: m.Filter(), Limit: opts.Batch}); b.err != nil {
				b.err = fmt.Errorf("read the log after %d: %w", after, b.err)
			}
			select {
			case batches <- b:
			case <-rctx.Done():
				return
			}
			if b.err != nil || len(b.evs) == 0 {
				return
			}
			after = b.evs[len(b.evs)-1].Position
			if until >= 0 && after >= until {
				return
			}
		}
	}()
	for b := range batches {
		if b.err != nil {
			return b.err
		}
		if len(b.evs) == 0 {
			// Every matching event is applied. When until is ahead, the
			// live generation's last event no longer matches m's filter
			// (a binary with a narrower filter rebuilds it): the swap
			// carries the live position over as through.
			return nil
		}
		if err := s.applyBatch(ctx, m, schema, b.evs); err != nil {
			return err
		}
		pos = b.evs[len(b.evs)-1].Position
		if opts.Progress != nil {
			opts.Progress(pos, max(b.head, pos))
		}
	}
	return ctx.Err()
}

// applyBatch applies evs to generation schema in a transaction of its own.
func (s *Store) applyBatch(ctx context.Context, m Model, schema string, evs []eventstore.Event) error {
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer rtRollback(ctx, tx)
	if err := applyPinned(ctx, tx, m, schema, evs, 0); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit batch into %s: %w", schema, err)
	}
	return nil
}

// swap makes generation schema live: with live applies held off by the
// registry row's lock, it catches schema up with the live generation,
// repoints the views, re-grants the analytics views and updates the
// registry, all in one transaction. It returns the old generation's schema.
// errBusy means it could not lock the views in time and rolled back.
func (s *Store) swap(ctx context.Context, events eventstore.Store, m Model, gen int64, schema string, opts RebuildOptions) (string, error) {
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return "", fmt.Errorf("begin: %w", err)
	}
	defer rtRollback(ctx, tx)
	var old string
	var building *string
	err = tx.QueryRow(ctx, "SELECT schema_name, building FROM "+s.registry()+" WHERE name = $1 FOR UPDATE", m.Name()).Scan(&old, &building)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("%w: %s", ErrNotSetUp, m.Name())
	}
	if err != nil {
		return "", fmt.Errorf("lock registry: %w", err)
	}
	if building == nil || *building != schema {
		return "", fmt.Errorf("generation %s is no longer the one being built", schema)
	}
	var livePos, liveThrough int64
	if err := tx.QueryRow(ctx, "SELECT position, through FROM "+rtQual(old, "checkpoint")).Scan(&livePos, &liveThrough); err != nil {
		return "", fmt.Errorf("read live checkpoint of %s: %w", old, err)
	}
	// The live generation's events are committed and readable: apply
	// them to the new one on other connections until it is not behind.
	if err := s.catchUp(ctx, events, m, schema, eventstore.Position(livePos), opts); err != nil {
		return "", err
	}
	if err := s.lockViews(ctx, tx, m); err != nil {
		return "", err
	}
	if err := s.replaceViews(ctx, tx, m, schema); err != nil {
		return "", err
	}
	if _, err := tx.Exec(ctx, "UPDATE "+rtQual(schema, "checkpoint")+" SET through = greatest(through, $1::bigint, $2::bigint)", liveThrough, livePos); err != nil {
		return "", fmt.Errorf("carry the live position over: %w", err)
	}
	if m.Public() {
		if err := s.regrant(ctx, tx, m); err != nil {
			return "", err
		}
	}
	if _, err := tx.Exec(ctx, "UPDATE "+s.registry()+" SET generation = $2, schema_name = $3, building = NULL, updated_at = now() WHERE name = $1",
		m.Name(), gen, schema); err != nil {
		return "", fmt.Errorf("update registry: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return "", fmt.Errorf("commit: %w", err)
	}
	return old, nil
}

// lockViews takes every existing view of m in ACCESS EXCLUSIVE mode, giving
// up (errBusy) before the server's deadlock check could pick a reader
// as the victim: a reader holding one view while waiting for another the
// swap holds would otherwise fail.
func (s *Store) lockViews(ctx context.Context, tx pgx.Tx, m Model) error {
	names := make([]string, 0, len(m.Tables())+1)
	for _, t := range m.Tables() {
		names = append(names, rtQual(s.NS.ViewSchema(m), t))
	}
	names = append(names, rtQual(s.NS.Read(), checkpointView(m.Name())))
	var existing []string
	for _, n := range names {
		var ok bool
		if err := tx.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", n).Scan(&ok); err != nil {
			return fmt.Errorf("look up view %s: %w", n, err)
		}
		if ok {
			existing = append(existing, n)
		}
	}
	if len(existing) == 0 {
		return nil
	}
	if err := boundLockWaits(ctx, tx, "lock_timeout", "statement_timeout"); err != nil {
		return err
	}
	q := "LOCK TABLE "
	for i, n := range existing {
		if i > 0 {
			q += ", "
		}
		q += n
	}
	if _, err := tx.Exec(ctx, q+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		return busyOr(ctx, fmt.Errorf("lock views: %w", err))
	}
	if _, err := tx.Exec(ctx, "SET LOCAL statement_timeout TO DEFAULT"); err != nil {
		return fmt.Errorf("reset statement_timeout: %w", err)
	}
	if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout TO DEFAULT"); err != nil {
		return fmt.Errorf("reset lock_timeout: %w", err)
	}
	return nil
}

// boundLockWaits sets each of settings (lock_timeout, statement_timeout) of
// tx to half the server's deadlock_timeout, at least 10 ms: a wait that
// gives up then ends before the server's deadlock check could run in a
// reader waiting on tx.
func boundLockWaits(ctx context.Context, tx pgx.Tx, settings ...string) error {
	var deadlockMS int64
	if err := tx.QueryRow(ctx, "SELECT setting::bigint FROM pg_settings WHERE name = 'deadlock_timeout'").Scan(&deadlockMS); err != nil {
		return fmt.Errorf("read deadlock_timeout: %w", err)
	}
	limit := fmt.Sprintf("%dms", max(10, deadlockMS/2))
	for _, name := range settings {
		if _, err := tx.Exec(ctx, "SELECT set_config($1, $2, true)", name, limit); err != nil {
			return fmt.Errorf("bound the lock waits (%s): %w", name, err)
		}
	}
	return nil
}

// busyOr turns a lock wait that boundLockWaits cut short into errBusy
// (or the context's error when that is why it ended) and returns any other
// error as it is.
func busyOr(ctx context.Context, err error) error {
	switch rtCode(err) {
	case "55P03", "57014", "40P01":
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errBusy
	}
	return err
}

// regrant grants SELECT on m's analytics views to every role granted
// USAGE on the analytics schema: CREATE OR REPLACE VIEW keeps grants, but a
// view dropped and created again because its columns changed does not.
func (s *Store) regrant(ctx context.Context, tx pgx.Tx, m Model) error {
	rows, err := tx.Query(ctx, `SELECT DISTINCT r.rolname FROM pg_namespace n, aclexplode(n.nspacl) a, pg_roles r
		WHERE n.nspname = $1 AND a.privilege_type = 'USAGE' AND a.grantee = r.oid AND a.grantee <> n.nspowner`, s.NS.Analytics())
	if err != nil {
		return fmt.Errorf("list analysts: %w", err)
	}
	roles, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("list analysts: %w", err)
	}
	for _, role := range roles {
		for _, t := range m.Tables() {
			if _, err := tx.Exec(ctx, "GRANT SELECT ON "+rtQual(s.NS.Analytics(), t)+" TO "+rtIdent(role)); err != nil {
				return fmt.Errorf("grant %s to %s: %w", t, role, err)
			}
		}
	}
	return nil
}

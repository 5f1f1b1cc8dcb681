package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// lockKey turns a lock's name into an advisory lock key.
func lockKey(name string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return int64(h.Sum64())
}

// sessionLock is a session advisory lock held on a dedicated connection.
type sessionLock struct {
	conn *pgxpool.Conn
	key  int64
}

// tryLock takes the session advisory lock named name on a connection of its
// own; nil without error when another session holds it.
func (s *Store) tryLock(ctx context.Context, name string) (*sessionLock, error) {
	conn, err := s.Pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquire a connection: %w", err)
	}
	key := lockKey(name)
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
		conn.Release()
		return nil, fmt.Errorf("try lock %s: %w", name, err)
	}
	if !ok {
		conn.Release()
		return nil, nil
	}
	return &sessionLock{conn: conn, key: key}, nil
}

// release unlocks and returns the connection; a connection that cannot
// unlock is closed, which frees the lock too.
func (l *sessionLock) release(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := l.conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", l.key); err != nil {
		_ = l.conn.Conn().Close(ctx)
	}
	l.conn.Release()
}

// RunExclusive runs projection name in one process at a time across every
// process sharing the database: it holds a session advisory lock while run
// runs. While another process holds it, standby is called (once each time
// this process starts waiting) and the lock is tried every second. run's
// context ends when ctx ends or when the lock's connection stops answering
// (the lock died with it); the lock is then taken again before run is
// called anew. RunExclusive returns ctx.Err() when ctx ends, otherwise what
// run returns. Database errors while waiting are retried every second.
func (s *Store) RunExclusive(ctx context.Context, name string, standby func(), run func(ctx context.Context) error) error {
	if err := s.validateName(name); err != nil {
		return err
	}
	waiting := false
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		l, err := s.tryLock(ctx, s.NS.Prefix+"projection:"+name)
		if err == nil && l != nil {
			waiting = false
			lost, err := s.runLocked(ctx, l, run)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !lost {
				return err
			}
			continue // the lock died under run: take it again
		}
		if err == nil && !waiting && standby != nil {
			standby()
		}
		waiting = err == nil
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// runLocked runs run while l is held, pinging l's connection every two
// seconds; lost reports that a ping failed and run's context was cancelled.
func (s *Store) runLocked(ctx context.Context, l *sessionLock, run func(ctx context.Context) error) (lost bool, err error) {
	ctx2, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	pinged := make(chan bool, 1)
	go func() {
		failed := false
		defer func() { pinged <- failed }()
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx2.Done():
				return
			case <-t.C:
				pctx, pcancel := context.WithTimeout(ctx2, 5*time.Second)
				perr := l.conn.Ping(pctx)
				pcancel()
				if perr != nil && ctx2.Err() == nil {
					failed = true
					cancel()
					return
				}
			}
		}
	}()
	err = run(ctx2)
	close(done)
	lost = <-pinged
	if lost {
		_ = l.conn.Conn().Close(context.WithoutCancel(ctx))
		l.conn.Release()
		return true, err
	}
	l.release(ctx)
	return false, err
}

package postgres

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5"
)

// Appends made by other processes wake this store's subscribers through
// PostgreSQL's LISTEN/NOTIFY: after each group append that wrote, the store
// sends a NOTIFY on its schema's channel (at most one every announceSpacing,
// so a busy store sends a few hundred a second, not one per append), and one
// connection per store listens. A lost notification costs only latency:
// subscribers still poll within Config.Poll.Max.

// channel is the NOTIFY channel of the store's schema.
func (s *Store) channel() string { return "commerce_events_" + s.schema }

// announce asks the announcer to NOTIFY other processes; it never blocks.
func (s *Store) announce() {
	select {
	case s.announceCh <- struct{}{}:
	default: // one is pending already: it covers this append too
	}
}

// announcer sends the NOTIFYs announce asks for until the store closes.
func (s *Store) announcer() {
	defer close(s.announcerDone)
	for {
		select {
		case <-s.lifetime.Done():
			return
		case <-s.announceCh:
		}
		ctx, cancel := context.WithTimeout(s.lifetime, 5*time.Second)
		_, err := s.pool.Exec(ctx, "SELECT pg_notify($1, $2)", s.channel(), s.origin)
		cancel()
		if err != nil && s.lifetime.Err() == nil {
			s.log.Debug("event store: notify other processes failed; they will poll", "error", err)
		}
		// Appends meanwhile are announced together by the next NOTIFY.
		select {
		case <-s.lifetime.Done():
			return
		case <-time.After(announceSpacing):
		}
	}
}

// announceSpacing bounds how often a store NOTIFYs: under load the others'
// subscribers are busy reading anyway, and each NOTIFY is a statement.
const announceSpacing = 5 * time.Millisecond

// listener wakes this store's subscribers on other processes' NOTIFYs,
// reconnecting with back-off until the store closes.
func (s *Store) listener(connConfig *pgx.ConnConfig) {
	defer close(s.listenerDone)
	// 100 ms doubling up to 10 s, no jitter, until the store closes (listen
	// returns nil only then).
	_, _ = backoff.Retry(s.lifetime, func() (struct{}, error) {
		return struct{}{}, s.listen(connConfig)
	},
		backoff.WithBackOff(&backoff.ExponentialBackOff{InitialInterval: 100 * time.Millisecond, Multiplier: 2, MaxInterval: 10 * time.Second}),
		backoff.WithMaxElapsedTime(0),
		backoff.WithNotify(func(err error, delay time.Duration) {
			s.log.Debug("event store: listening for other processes' appends failed; retrying", "error", err, "retry_in", delay)
		}))
}

func (s *Store) listen(connConfig *pgx.ConnConfig) error {
	conn, err := pgx.ConnectConfig(s.lifetime, connConfig)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(s.lifetime, "LISTEN "+pgx.Identifier{s.channel()}.Sanitize()); err != nil {
		return err
	}
	// Appends made while not listening would otherwise wait for a poll.
	s.notifier.Notify()
	for {
		n, err := conn.WaitForNotification(s.lifetime)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}
		if n.Payload != s.origin { // this store's own appends woke its subscribers already
			s.notifier.Notify()
		}
	}
}

// discardLogger is the store's logger when the caller gives none.
var discardLogger = slog.New(slog.DiscardHandler)

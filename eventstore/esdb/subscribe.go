package esdb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/kurrent-io/KurrentDB-Client-Go/kurrentdb"

	"github.com/commerce-engine/commerce/eventstore"
)

// Reconnect bounds the wait between a dropped subscription and the next
// attempt; it doubles from Min to Max while the server stays away.
var Reconnect = struct{ Min, Max time.Duration }{Min: 50 * time.Millisecond, Max: 5 * time.Second}

// Subscribe implements eventstore.Store with a catch-up subscription to $all,
// filtered at the server (see serverFilter). A dropped subscription is made
// again from the last event delivered, so nothing is skipped or repeated.
func (s *Store) Subscribe(ctx context.Context, opts eventstore.SubscribeOptions, fn func(eventstore.Event) error) error {
	if s.closed.Load() {
		return eventstore.ErrClosed
	}
	if _, err := eventstore.ValidateLimit(opts.BatchSize); err != nil {
		return err
	}
	if opts.After < 0 {
		return &eventstore.ValidationError{Field: "after", Reason: "is negative"}
	}
	last := opts.After
	return s.resubscribe(ctx, "$all", func() (*kurrentdb.Subscription, error) {
		from := kurrentdb.AllPosition(kurrentdb.Start{})
		if last > 0 {
			from = fromPosition(last)
		}
		return s.client.SubscribeToAll(ctx, kurrentdb.SubscribeToAllOptions{From: from, Filter: serverFilter(s.ns, opts.Filter)})
	}, func(r *kurrentdb.RecordedEvent) error {
		e, ok, err := fromRecorded(s.ns, r)
		if err != nil || !ok || e.Position <= last {
			return err
		}
		last = e.Position
		if !opts.Filter.Match(e) {
			return nil
		}
		return fn(e)
	})
}

// SubscribeStream follows one stream from after its version afterVersion (0:
// from its start), catching up and then live, with the same reconnection as
// Subscribe. fn runs on the caller's goroutine; it ends as Subscribe does.
func (s *Store) SubscribeStream(ctx context.Context, stream string, afterVersion int64, fn func(eventstore.Event) error) error {
	if s.closed.Load() {
		return eventstore.ErrClosed
	}
	if err := eventstore.ValidateStreamID(stream); err != nil {
		return err
	}
	if afterVersion < 0 {
		return &eventstore.ValidationError{Field: "after_version", Reason: "is negative"}
	}
	last := afterVersion
	return s.resubscribe(ctx, stream, func() (*kurrentdb.Subscription, error) {
		from := kurrentdb.StreamPosition(kurrentdb.Start{})
		if last > 0 {
			from = kurrentdb.Revision(uint64(last - 1))
		}
		return s.client.SubscribeToStream(ctx, s.ns+stream, kurrentdb.SubscribeToStreamOptions{From: from})
	}, func(r *kurrentdb.RecordedEvent) error {
		e, ok, err := fromRecorded(s.ns, r)
		if err != nil || !ok || e.Version <= last {
			return err
		}
		last = e.Version
		return fn(e)
	})
}

// resubscribe runs subscriptions made by open until ctx ends, the handler
// fails or an event cannot be mapped; a dropped or refused subscription is
// opened again after a pause from Reconnect.Min doubling up to
// Reconnect.Max, back to Min once one delivered (open resumes from what was
// delivered), unless the server's refusal cannot pass by waiting.
func (s *Store) resubscribe(ctx context.Context, what string, open func() (*kurrentdb.Subscription, error), handle func(*kurrentdb.RecordedEvent) error) error {
	pauses := &backoff.ExponentialBackOff{InitialInterval: Reconnect.Min, Multiplier: 2, MaxInterval: Reconnect.Max}
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		sub, err := open()
		if err == nil {
			var delivered bool
			delivered, err = s.drain(sub, handle)
			_ = sub.Close()
			var dropped errDropped
			if !errors.As(err, &dropped) {
				return struct{}{}, backoff.Permanent(err) // the handler's error, or an event that cannot be mapped
			}
			err = dropped.err
			if err == nil {
				err = errors.New("subscription dropped without a reason")
			}
			if delivered {
				pauses.Reset()
			}
		}
		if ctx.Err() != nil {
			return struct{}{}, backoff.Permanent(ctx.Err())
		}
		if s.closed.Load() {
			return struct{}{}, backoff.Permanent(eventstore.ErrClosed)
		}
		if permanent(err) {
			return struct{}{}, backoff.Permanent(fmt.Errorf("esdb: subscription to %s: %w", what, err))
		}
		return struct{}{}, err
	}, backoff.WithBackOff(pauses), backoff.WithMaxElapsedTime(0), backoff.WithNotify(func(err error, delay time.Duration) {
		s.log.Warn("subscription dropped, resubscribing", "subscription", what, "error", err, "retry_in", delay)
	}))
	return err
}

// errDropped is a subscription the server or the network ended.
type errDropped struct{ err error }

func (e errDropped) Error() string { return "subscription dropped: " + e.err.Error() }

// permanent reports refusals that waiting does not cure.
func permanent(err error) bool {
	switch errorCode(err) {
	case kurrentdb.ErrorCodeAccessDenied, kurrentdb.ErrorCodeUnauthenticated, kurrentdb.ErrorCodeStreamDeleted,
		kurrentdb.ErrorCodeStreamTombstoned, kurrentdb.ErrorCodeUnsupportedFeature, kurrentdb.ErrorCodeParsing:
		return true
	}
	return false
}

// drain hands every event of sub to handle until the subscription drops
// (errDropped) or handle fails (its error); delivered says whether any
// event reached handle.
func (s *Store) drain(sub *kurrentdb.Subscription, handle func(*kurrentdb.RecordedEvent) error) (delivered bool, err error) {
	for {
		ev := sub.Recv()
		switch {
		case ev.SubscriptionDropped != nil:
			if ev.SubscriptionDropped.Error == nil {
				return delivered, errDropped{errors.New("ended by the server")}
			}
			return delivered, errDropped{ev.SubscriptionDropped.Error}
		case ev.EventAppeared != nil:
			delivered = true
			if err := handle(ev.EventAppeared.OriginalEvent()); err != nil {
				return delivered, err
			}
		}
	}
}

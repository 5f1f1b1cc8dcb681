package commands

import (
	"context"
	"errors"

	"github.com/commerce-engine/commerce/eventstore"
)

// stateSource gives each attempt of one command the state to decide on, and
// learns from how the attempt ended where the next must read it: the cache,
// only the events after the state last decided on (a catch-up), or the
// whole stream. It holds every flag of handle's loop, which asks and tells
// it and keeps only the retry count.
type stateSource[S any] struct {
	r         *Runner
	agg       Aggregate[S]
	stream    string
	commandID string

	// useCache is true while the cache may answer for this command.
	useCache bool
	// catchUp makes the next read fold only the events after base: after
	// a conflict on a state that was current moments ago, a hot stream (a
	// product many checkouts reserve) is not reloaded whole on every lost
	// race.
	catchUp bool
	// refreshed is true once a refusal of a cached state led to a
	// catch-up.
	refreshed   bool
	base        S
	baseVersion int64
}

// snapshot is the state one attempt decides on.
type snapshot[S any] struct {
	state   S
	version int64
	// done is the command's last event when the stream holds it already:
	// the command was handled before.
	done *eventstore.Event
	// unsure is true when the state may be stale (cached, caught up or
	// assumed new): a refusal of it is checked on a fresher read first.
	unsure bool
	// assumedNew is true when a stream missing from the cache was taken to
	// be empty.
	assumedNew bool
}

func newStateSource[S any](r *Runner, agg Aggregate[S], stream, commandID string) *stateSource[S] {
	return &stateSource[S]{r: r, agg: agg, stream: stream, commandID: commandID, useCache: r.Cache != nil}
}

// read returns the state of the next attempt; it returns load's error.
func (src *stateSource[S]) read(ctx context.Context) (snapshot[S], error) {
	var s snapshot[S]
	var err error
	if src.catchUp {
		src.catchUp = false
		s.state, s.version, s.done, err = load(ctx, src.r, src.agg, src.base, src.baseVersion, src.stream, src.commandID)
		if err != nil {
			return snapshot[S]{}, err
		}
		// Nothing new means the conflict was not a newer writer: read the
		// whole stream. Otherwise the cached state's checks apply.
		s.unsure = s.version > src.baseVersion
		if s.unsure && s.done == nil {
			src.r.Cache.put(src.stream, s.state, s.version)
		}
	} else if src.useCache {
		s.state, s.version, s.unsure = cachedState[S](src.r.Cache, src.stream)
		if !s.unsure {
			// Not in the cache: most such streams are new (a checkout, a
			// payment, an order). Decide as if it were empty, as unsure as
			// a cached state: a refusal reloads it, and the append's
			// expected version (none) fails if it is not new, which
			// reloads it too.
			s.state, s.version, s.unsure, s.assumedNew = src.agg.Initial, 0, true, true
		}
	}
	if !s.unsure {
		s.state, s.version, s.done, err = load(ctx, src.r, src.agg, src.agg.Initial, 0, src.stream, src.commandID)
		if err != nil {
			return snapshot[S]{}, err
		}
		if src.r.Cache != nil && s.done == nil {
			src.r.Cache.put(src.stream, s.state, s.version)
		}
	}
	src.base, src.baseVersion = s.state, s.version
	return s, nil
}

// recheck is told that s was refused or decided nothing; it reports
// whether to decide again on a fresher read before believing it.
func (src *stateSource[S]) recheck(s snapshot[S]) bool {
	if !s.unsure {
		return false
	}
	if !s.assumedNew && !src.refreshed {
		// Most refusals of a cached state come from its being stale
		// (another process moved the stream on): read only what was
		// appended since and decide again. A catch-up that finds nothing
		// new reads the whole stream.
		src.refreshed, src.catchUp = true, true
		return true
	}
	// The cached state may predate this very command (a retry): only the
	// whole stream can tell, and refusals are rare.
	src.useCache = false
	return true
}

// stored is told that the attempt's events were appended, leaving state at
// version.
func (src *stateSource[S]) stored(state S, version int64) {
	if src.r.Cache != nil {
		src.r.Cache.put(src.stream, state, version)
	}
}

// recordedBefore is told that the store recognised the attempt's events as
// recorded before (this command, retried on a cached state): the next read
// is of the whole stream.
func (src *stateSource[S]) recordedBefore() {
	if src.r.Cache != nil {
		src.r.Cache.drop(src.stream)
	}
	src.useCache = false
}

// appendFailed is told that appending on s failed with err, which drops
// the cached state; it reports whether to read again at once: the
// command's events are in the stream already, decided on an older state,
// and only the whole stream finds them.
func (src *stateSource[S]) appendFailed(s snapshot[S], err error) bool {
	if src.r.Cache != nil {
		src.r.Cache.drop(src.stream)
	}
	if errors.Is(err, eventstore.ErrIdempotencyConflict) && s.unsure {
		src.useCache = false
		return true
	}
	return false
}

// lostRace is told that another writer appended first: the next read
// catches up from the state decided on while the cache is trusted.
func (src *stateSource[S]) lostRace() { src.catchUp = src.useCache }

package commands

import (
	"context"
	"crypto/sha1" //nolint:gosec // G505: UUID version 5 is defined over SHA-1 (RFC 9562); it names, it does not protect
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/tracing"
)

// ErrConflict means a command lost the race for its stream more times than
// the retry policy allows; the caller may try again later (HTTP 409).
var ErrConflict = errors.New("concurrent change, retries exhausted")

// Aggregate describes one kind of aggregate to the runner: how to fold its
// events into state and how to decide a command. Both functions are the
// domain's pure deciders.
type Aggregate[S any] struct {
	// Initial is the state of a stream with no events.
	Initial S
	// Evolve folds one decoded event payload into the state.
	Evolve func(S, any) S
	// Decide returns the event payloads a command produces, or a domain error.
	Decide func(S, any) ([]any, error)
}

// Metadata travels with every event a command writes, so that any event can
// be traced to the request, actor and command that caused it.
type Metadata struct {
	CorrelationID string `json:"correlation_id,omitempty"`
	CausationID   string `json:"causation_id,omitempty"`
	Actor         string `json:"actor,omitempty"`
	CommandID     string `json:"command_id,omitempty"`
	TraceParent   string `json:"traceparent,omitempty"`
}

// Result is what a handled command reports back: the stream's version and,
// when the command wrote events, where they landed (X-Event-Position).
type Result[S any] struct {
	State    S
	Version  int64
	Position eventstore.Position
	// Replayed is true when the command had already been handled: nothing
	// was decided or written this time.
	Replayed bool
}

// RetryPolicy bounds the retries on a wrong expected version.
type RetryPolicy struct {
	Attempts  int
	BaseDelay time.Duration
	MaxDelay  time.Duration
}

// DefaultRetry is enough for a handful of writers racing on one stream.
var DefaultRetry = RetryPolicy{Attempts: 8, BaseDelay: 2 * time.Millisecond, MaxDelay: 100 * time.Millisecond}

// Runner handles commands against one event store with one codec.
type Runner struct {
	Store eventstore.Store
	Codec *eventstore.Codec
	Retry RetryPolicy
	// Cache, when set, keeps recent aggregate states so a command decides
	// on the cached state and appends with its version: no read when the
	// stream did not change elsewhere, a reload when the append says it did.
	Cache *StateCache
}

// EventID derives the id of the i-th event a command writes from the
// command's id, so that a retried command writes the same ids and the store
// recognises it.
func EventID(commandID string, i int) uuid.UUID {
	return uuid.NewHash(sha1.New(), commandNamespace, []byte(fmt.Sprintf("%s/%d", commandID, i)), 5) //nolint:gosec // G401: UUID v5 is SHA-1 by definition
}

var commandNamespace = uuid.MustParse("6f1c8a52-3a1e-4c86-9f59-5b2f0c7d9e11")

// Handle runs cmd against stream: load, decide, append with the expected
// version, retrying from the load on a concurrency conflict. meta.CommandID
// must be set (it makes the command idempotent). It returns the domain's
// error as is, ErrConflict when retries are exhausted, and wrapped store
// errors otherwise.
func Handle[S any](ctx context.Context, r *Runner, agg Aggregate[S], stream string, cmd any, meta Metadata) (res Result[S], err error) {
	ctx, span := tracing.Start(ctx, meta.TraceParent, fmt.Sprintf("command %T", cmd), trace.SpanKindInternal,
		attribute.String("commerce.stream", stream), attribute.String("commerce.command_id", meta.CommandID))
	defer func() { tracing.End(span, err) }()
	if tp := tracing.TraceParent(ctx); tp != "" {
		// The events carry this command's span: whoever reacts to them
		// continues its trace.
		meta.TraceParent = tp
	}
	return handle(ctx, r, agg, stream, cmd, meta)
}

func handle[S any](ctx context.Context, r *Runner, agg Aggregate[S], stream string, cmd any, meta Metadata) (Result[S], error) {
	if meta.CommandID == "" {
		return Result[S]{}, fmt.Errorf("handle %T on %s: command id is required", cmd, stream)
	}
	policy := r.Retry
	if policy.Attempts <= 0 {
		policy = DefaultRetry
	}
	pauses := policy.backOff()
	metadata, err := marshalMeta(meta)
	if err != nil {
		return Result[S]{}, fmt.Errorf("handle %T: encode metadata: %w", cmd, err)
	}
	src := newStateSource(r, agg, stream, meta.CommandID)
	for attempt := 1; ; attempt++ {
		cur, err := src.read(ctx)
		if err != nil {
			return Result[S]{}, err
		}
		if cur.done != nil {
			return Result[S]{State: cur.state, Version: cur.version, Position: cur.done.Position, Replayed: true}, nil
		}
		payloads, err := agg.Decide(cur.state, cmd)
		if (err != nil || len(payloads) == 0) && src.recheck(cur) {
			continue
		}
		if err != nil {
			return Result[S]{}, err
		}
		if len(payloads) == 0 {
			return Result[S]{State: cur.state, Version: cur.version}, nil
		}
		state := cur.state
		events := make([]eventstore.EventData, len(payloads))
		for i, p := range payloads {
			typ, sv, data, err := r.Codec.Encode(p)
			if err != nil {
				return Result[S]{}, fmt.Errorf("handle %T on %s: %w", cmd, stream, err)
			}
			events[i] = eventstore.EventData{ID: EventID(meta.CommandID, i), Type: typ, SchemaVersion: sv, Data: data, Metadata: metadata}
			state = agg.Evolve(state, p)
		}
		actx, aspan := tracing.Tracer().Start(ctx, "eventstore.append", trace.WithAttributes(
			attribute.String("commerce.stream", stream), attribute.Int("commerce.events", len(events))))
		res, err := r.Store.Append(actx, stream, eventstore.Exact(cur.version), events...)
		tracing.End(aspan, err)
		if err == nil && res.NextExpectedVersion != cur.version+int64(len(events)) {
			src.recordedBefore()
			continue
		}
		if err == nil {
			src.stored(state, res.NextExpectedVersion)
			return Result[S]{State: state, Version: res.NextExpectedVersion, Position: res.LastPosition}, nil
		}
		if src.appendFailed(cur, err) {
			continue
		}
		if !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
			return Result[S]{}, fmt.Errorf("handle %T on %s: %w", cmd, stream, err)
		}
		src.lostRace()
		if cur.assumedNew {
			// The stream was not new after all: that is a read, not a
			// lost race, so no back-off and no attempt spent.
			attempt--
			continue
		}
		if attempt >= policy.Attempts {
			return Result[S]{}, fmt.Errorf("handle %T on %s after %d attempts: %w", cmd, stream, attempt, ErrConflict)
		}
		if err := sleep(ctx, pauses.NextBackOff()); err != nil {
			return Result[S]{}, err
		}
	}
}

// Load folds stream into the aggregate's state for a read-only decision
// (another aggregate's rules need it); it returns the state and version.
// With a cache it reads only the events after the cached version.
func Load[S any](ctx context.Context, r *Runner, agg Aggregate[S], stream string) (S, int64, error) {
	state, version := agg.Initial, int64(0)
	if r.Cache != nil {
		if st, v, ok := cachedState[S](r.Cache, stream); ok {
			state, version = st, v
		}
	}
	s, v, _, err := load(ctx, r, agg, state, version, stream, "")
	if err == nil && r.Cache != nil {
		r.Cache.put(stream, s, v)
	}
	return s, v, err
}

// LoadCached is Load for facts that never change once set (a customer's
// email, a payment's provider intent, an order's customer): a cached state
// for which known holds is returned without reading the stream.
func LoadCached[S any](ctx context.Context, r *Runner, agg Aggregate[S], stream string, known func(S) bool) (S, int64, error) {
	if r.Cache != nil {
		if st, v, ok := cachedState[S](r.Cache, stream); ok && known(st) {
			return st, v, nil
		}
	}
	return Load(ctx, r, agg, stream)
}

// LoadAtLeast is Load for a caller that needs the state only to include
// version minVersion, the event it is reacting to: a cached state that does
// is returned without reading the stream.
func LoadAtLeast[S any](ctx context.Context, r *Runner, agg Aggregate[S], stream string, minVersion int64) (S, int64, error) {
	if r.Cache != nil {
		if st, v, ok := cachedState[S](r.Cache, stream); ok && v >= minVersion {
			return st, v, nil
		}
	}
	return Load(ctx, r, agg, stream)
}

// DecodeMetadata reads the metadata a command wrote with an event, for
// consumers that continue its correlation and trace; empty metadata is the
// zero Metadata.
func DecodeMetadata(raw json.RawMessage) (Metadata, error) {
	var m Metadata
	if len(raw) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return Metadata{}, fmt.Errorf("decode event metadata: %w", err)
	}
	return m, nil
}

func marshalMeta(m Metadata) (json.RawMessage, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode metadata: %w", err)
	}
	return b, nil
}

// PeekMaxAge bounds how old a state Peek may answer with: a change made by
// another process is seen within it.
const PeekMaxAge = time.Second

// Peek returns the cached state of stream when it was current less than
// PeekMaxAge ago, without reading the store, and Load's answer otherwise.
// It is for advisory reads that tolerate a state a moment old (a product's
// name and price for display, an availability hint that the reservation
// rechecks).
func Peek[S any](ctx context.Context, r *Runner, agg Aggregate[S], stream string) (S, int64, error) {
	if r.Cache != nil {
		if st, v, ok := cachedStateSince[S](r.Cache, stream, time.Now().Add(-PeekMaxAge)); ok {
			return st, v, nil
		}
	}
	return Load(ctx, r, agg, stream)
}

// load folds the events of stream after version into state and reports the
// last event the command wrote if those events hold it (the command was
// handled before).
func load[S any](ctx context.Context, r *Runner, agg Aggregate[S], state S, version int64, stream, commandID string) (S, int64, *eventstore.Event, error) {
	var done *eventstore.Event
	next, k := uuid.Nil, 0
	if commandID != "" {
		next = EventID(commandID, 0)
	}
	from := version + 1
	for {
		evs, err := r.Store.ReadStream(ctx, stream, eventstore.ReadStreamOptions{From: from, Limit: eventstore.MaxReadLimit})
		if err != nil {
			return state, 0, nil, fmt.Errorf("load %s: %w", stream, err)
		}
		for i := range evs {
			e := evs[i]
			if commandID != "" && e.ID == next {
				done = &e
				k++
				next = EventID(commandID, k)
			}
			p, err := r.Codec.Decode(e)
			if err != nil {
				return state, 0, nil, fmt.Errorf("load %s v%d: %w", stream, e.Version, err)
			}
			state = agg.Evolve(state, p)
			version = e.Version
		}
		if len(evs) < eventstore.MaxReadLimit {
			return state, version, done, nil
		}
		from = version + 1
	}
}

// backOff returns the pauses between attempts: full jitter over a delay
// that starts at BaseDelay and doubles up to MaxDelay, so racing writers
// spread out instead of colliding again. A randomization factor of 1 draws
// from [0, 2×interval]; with intervals half the policy's delays, that is
// [0, delay].
func (p RetryPolicy) backOff() *backoff.ExponentialBackOff {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     min(p.BaseDelay, p.MaxDelay) / 2,
		RandomizationFactor: 1,
		Multiplier:          2,
		MaxInterval:         p.MaxDelay / 2,
	}
	b.Reset()
	return b
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

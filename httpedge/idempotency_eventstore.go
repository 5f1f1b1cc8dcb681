package httpedge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/eventstore"
)

// Event types of an idempotency stream, each at schema version 1.
const (
	// EventIdempotencyReserved records that a request claimed the key, with
	// its fingerprint and lease expiry.
	EventIdempotencyReserved = "idempotency.reserved"
	// EventIdempotencyCompleted records the answer to replay.
	EventIdempotencyCompleted = "idempotency.completed"
	// EventIdempotencyReleased records that the request failed (5xx, panic)
	// and the key may be used again.
	EventIdempotencyReleased = "idempotency.released"
)

// DefaultIdempotencyLease is how long a reservation blocks its key when the
// process running it dies before completing; it must exceed the request timeout.
const DefaultIdempotencyLease = 5 * time.Minute

// EventStoreIdempotency keeps Idempotency-Key records in the event store,
// one stream per scoped key ("idempotency-<sha256 of scope and key>").
//
// Why it is durable everywhere without a new table: every adapter of
// eventstore.Store (SQLite, PostgreSQL, ...) already persists appends
// atomically and checks the expected version, so the stream itself is the
// record and the version check is the lock. The first reservation is
// appended with eventstore.NoStream (later ones, after a release or an
// expired lease, with the exact version read): when concurrent first
// requests race, exactly one append wins and the others get
// ErrWrongExpectedVersion, reread, and see the winner's reservation. The
// stream then reads: reserved, completed (the answer, kept forever) or
// reserved, released, reserved, ... for retried 5xx answers.
//
// The streams (eventstore.IdempotencyStreamPrefix) are part of $all: they
// hold HTTP answers, not business facts, so the relay does not publish them
// and the projections do not index them. Answers over the event size limit
// (eventstore.MaxEventSize, with base64 overhead) cannot be stored; the key
// then stays reserved until its lease expires.
type EventStoreIdempotency struct {
	store eventstore.Store
	lease time.Duration
	now   func() time.Time
}

// EventStoreIdempotencyConfig tunes NewEventStoreIdempotency; zero fields
// get the defaults.
type EventStoreIdempotencyConfig struct {
	// Lease bounds how long an unfinished reservation blocks its key;
	// 0 means DefaultIdempotencyLease.
	Lease time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewEventStoreIdempotency returns an IdempotencyStore over store.
func NewEventStoreIdempotency(store eventstore.Store, cfg EventStoreIdempotencyConfig) *EventStoreIdempotency {
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultIdempotencyLease
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &EventStoreIdempotency{store: store, lease: cfg.Lease, now: cfg.Now}
}

type reservedPayload struct {
	Fingerprint string    `json:"fingerprint"`
	ExpiresAt   time.Time `json:"expires_at"`
}

type completedPayload struct {
	Fingerprint string            `json:"fingerprint"`
	Status      int               `json:"status"`
	Header      map[string]string `json:"header,omitempty"`
	Body        []byte            `json:"body"`
}

// releasedPayload is empty: the release event itself is the fact.
type releasedPayload struct{}

// reserveAttempts bounds rereads when other requests keep changing the stream.
const reserveAttempts = 3

// Reserve implements IdempotencyStore. It returns the event store's error
// if it cannot read or append, and an error if the stream holds an
// unknown event type.
func (s *EventStoreIdempotency) Reserve(ctx context.Context, key, fingerprint string) (IdempotencyRecord, bool, error) {
	stream := eventstore.IdempotencyStreamPrefix + key
	for range reserveAttempts {
		last, err := s.store.ReadStream(ctx, stream, eventstore.ReadStreamOptions{Direction: eventstore.Backwards, Limit: 1})
		if err != nil {
			return IdempotencyRecord{}, false, fmt.Errorf("idempotency: read %s: %w", stream, err)
		}
		var version int64
		if len(last) == 1 {
			ev := last[0]
			version = ev.Version
			switch ev.Type {
			case EventIdempotencyCompleted:
				var p completedPayload
				if err := json.Unmarshal(ev.Data, &p); err != nil {
					return IdempotencyRecord{}, false, fmt.Errorf("idempotency: decode %s@%d: %w", stream, ev.Version, err)
				}
				return IdempotencyRecord{Fingerprint: p.Fingerprint, Done: true, Status: p.Status, Header: p.Header, Body: p.Body}, false, nil
			case EventIdempotencyReserved:
				var p reservedPayload
				if err := json.Unmarshal(ev.Data, &p); err != nil {
					return IdempotencyRecord{}, false, fmt.Errorf("idempotency: decode %s@%d: %w", stream, ev.Version, err)
				}
				// A live reservation, or a dead one for another request
				// (which must not be rerun with a different body), blocks.
				if s.now().Before(p.ExpiresAt) || p.Fingerprint != fingerprint {
					return IdempotencyRecord{Fingerprint: p.Fingerprint}, false, nil
				}
				// The lease expired: its process died; take the key over.
			case EventIdempotencyReleased:
			default:
				return IdempotencyRecord{}, false, fmt.Errorf("idempotency: %s@%d has unknown event type %q", stream, ev.Version, ev.Type)
			}
		}
		err = s.append(ctx, stream, eventstore.Exact(version), EventIdempotencyReserved,
			reservedPayload{Fingerprint: fingerprint, ExpiresAt: s.now().Add(s.lease).UTC()})
		if errors.Is(err, eventstore.ErrWrongExpectedVersion) {
			continue // another request got there first: reread what it wrote
		}
		if err != nil {
			return IdempotencyRecord{}, false, err
		}
		return IdempotencyRecord{Fingerprint: fingerprint, Token: strconv.FormatInt(version+1, 10)}, true, nil
	}
	return IdempotencyRecord{}, false, fmt.Errorf("idempotency: %s kept changing over %d attempts", stream, reserveAttempts)
}

// Complete implements IdempotencyStore. It fails if the reservation was
// taken over (the stream moved past rec.Token) or the answer is over the
// event size limit.
func (s *EventStoreIdempotency) Complete(ctx context.Context, key string, rec IdempotencyRecord) error {
	v, err := strconv.ParseInt(rec.Token, 10, 64)
	if err != nil || v < 1 {
		return fmt.Errorf("idempotency: bad token %q: %w", rec.Token, errReservationLost)
	}
	return s.append(ctx, eventstore.IdempotencyStreamPrefix+key, eventstore.Exact(v), EventIdempotencyCompleted,
		completedPayload{Fingerprint: rec.Fingerprint, Status: rec.Status, Header: rec.Header, Body: rec.Body})
}

// Release implements IdempotencyStore. It fails if the reservation was
// taken over (the stream moved past token).
func (s *EventStoreIdempotency) Release(ctx context.Context, key, token string) error {
	v, err := strconv.ParseInt(token, 10, 64)
	if err != nil || v < 1 {
		return fmt.Errorf("idempotency: bad token %q: %w", token, errReservationLost)
	}
	return s.append(ctx, eventstore.IdempotencyStreamPrefix+key, eventstore.Exact(v), EventIdempotencyReleased, releasedPayload{})
}

// append writes one idempotency event with the request's ids as metadata.
func (s *EventStoreIdempotency) append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, typ string, payload any) error {
	data, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("idempotency: encode %s: %w", typ, err)
	}
	meta, err := json.Marshal(map[string]string{
		"request_id":     RequestID(ctx),
		"correlation_id": CorrelationID(ctx),
	})
	if err != nil {
		return fmt.Errorf("idempotency: encode metadata: %w", err)
	}
	_, err = s.store.Append(ctx, stream, expected, eventstore.EventData{
		ID: uuid.New(), Type: typ, SchemaVersion: 1, Data: data, Metadata: meta,
	})
	if err != nil {
		return fmt.Errorf("idempotency: append %s to %s: %w", typ, stream, err)
	}
	return nil
}

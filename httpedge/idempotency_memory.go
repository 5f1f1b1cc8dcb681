package httpedge

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"sync"
)

// MemoryIdempotencyStore keeps idempotency records in process memory: for
// tests and single-process trials only, since records die with the process
// and are not shared between replicas.
type MemoryIdempotencyStore struct {
	mu   sync.Mutex
	recs map[string]IdempotencyRecord
	next uint64
}

// NewMemoryIdempotencyStore returns an empty in-memory store.
func NewMemoryIdempotencyStore() *MemoryIdempotencyStore {
	return &MemoryIdempotencyStore{recs: make(map[string]IdempotencyRecord)}
}

// Reserve implements IdempotencyStore; it never fails.
func (s *MemoryIdempotencyStore) Reserve(_ context.Context, key, fingerprint string) (IdempotencyRecord, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec, ok := s.recs[key]; ok {
		rec.Token = ""
		rec.Body = slices.Clone(rec.Body)
		rec.Header = maps.Clone(rec.Header)
		return rec, false, nil
	}
	s.next++
	rec := IdempotencyRecord{Fingerprint: fingerprint, Token: strconv.FormatUint(s.next, 10)}
	s.recs[key] = rec
	return rec, true, nil
}

// Complete implements IdempotencyStore; it fails if rec.Token does not hold
// the key's running reservation.
func (s *MemoryIdempotencyStore) Complete(_ context.Context, key string, rec IdempotencyRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.recs[key]
	if !ok || cur.Done || cur.Token != rec.Token {
		return errReservationLost
	}
	rec.Done = true
	rec.Body = slices.Clone(rec.Body)
	rec.Header = maps.Clone(rec.Header)
	s.recs[key] = rec
	return nil
}

// Release implements IdempotencyStore; it fails if token does not hold the
// key's running reservation.
func (s *MemoryIdempotencyStore) Release(_ context.Context, key, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.recs[key]
	if !ok || cur.Done || cur.Token != token {
		return errReservationLost
	}
	delete(s.recs, key)
	return nil
}

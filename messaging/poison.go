package messaging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-engine/commerce/eventstore"
)

// ErrNoSuchPoisoned is returned for a poisoned message id the store does not hold.
var ErrNoSuchPoisoned = errors.New("no such poisoned message")

// PoisonedMessage is a message a consumer gave up on, kept for an admin to inspect and re-drive.
type PoisonedMessage struct {
	ID        string // stable: message uuid + "/" + consumer
	Consumer  string
	Topic     string // the topic the consumer read it from (never its redrive topic)
	Reason    string
	EventID   string
	EventType string
	StreamID  string
	Position  eventstore.Position
	At        time.Time
	Payload   []byte
	Metadata  map[string]string
}

// PoisonStore keeps poisoned messages until an admin re-drives or drops them.
type PoisonStore interface {
	// Add records m; adding an id already recorded changes nothing.
	Add(ctx context.Context, m PoisonedMessage) error
	// List returns up to limit messages, newest first.
	List(ctx context.Context, limit int) ([]PoisonedMessage, error)
	// Get returns one message, or an error wrapping ErrNoSuchPoisoned.
	Get(ctx context.Context, id string) (PoisonedMessage, error)
	// Remove deletes one message, or fails wrapping ErrNoSuchPoisoned.
	Remove(ctx context.Context, id string) error
}

// NewMemoryPoisonStore keeps poisoned messages in memory: for the embedded
// default and tests; they are lost on restart.
func NewMemoryPoisonStore() PoisonStore { return &memoryPoison{m: map[string]memoryEntry{}} }

type memoryEntry struct {
	seq int64
	msg PoisonedMessage
}

type memoryPoison struct {
	mu  sync.Mutex
	seq int64
	m   map[string]memoryEntry
}

func (s *memoryPoison) Add(_ context.Context, m PoisonedMessage) error {
	if m.ID == "" {
		return errors.New("messaging: poisoned message without id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[m.ID]; ok {
		return nil
	}
	s.seq++
	s.m[m.ID] = memoryEntry{seq: s.seq, msg: m}
	return nil
}

func (s *memoryPoison) List(_ context.Context, limit int) ([]PoisonedMessage, error) {
	s.mu.Lock()
	entries := make([]memoryEntry, 0, len(s.m))
	for _, e := range s.m {
		entries = append(entries, e)
	}
	s.mu.Unlock()
	sort.Slice(entries, func(i, j int) bool {
		if !entries[i].msg.At.Equal(entries[j].msg.At) {
			return entries[i].msg.At.After(entries[j].msg.At)
		}
		return entries[i].seq > entries[j].seq
	})
	if limit > 0 && len(entries) > limit {
		entries = entries[:limit]
	}
	out := make([]PoisonedMessage, len(entries))
	for i, e := range entries {
		out[i] = e.msg
	}
	return out, nil
}

func (s *memoryPoison) Get(_ context.Context, id string) (PoisonedMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[id]
	if !ok {
		return PoisonedMessage{}, fmt.Errorf("messaging: poisoned message %q: %w", id, ErrNoSuchPoisoned)
	}
	return e.msg, nil
}

func (s *memoryPoison) Remove(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[id]; !ok {
		return fmt.Errorf("messaging: poisoned message %q: %w", id, ErrNoSuchPoisoned)
	}
	delete(s.m, id)
	return nil
}

// PostgresPoisonStore keeps poisoned messages in <Schema>.poisoned_messages,
// shared by every process of a shop. Call Setup once first.
type PostgresPoisonStore struct {
	Pool   *pgxpool.Pool
	Schema string // "" means public
}

var _ PoisonStore = (*PostgresPoisonStore)(nil)

func (s *PostgresPoisonStore) table() string {
	schema := s.Schema
	if schema == "" {
		schema = "public"
	}
	return pgx.Identifier{schema, "poisoned_messages"}.Sanitize()
}

// Setup creates the table if it is missing.
func (s *PostgresPoisonStore) Setup(ctx context.Context) error {
	_, err := s.Pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+s.table()+` (
		seq        bigserial,
		id         text PRIMARY KEY,
		consumer   text NOT NULL,
		topic      text NOT NULL,
		reason     text NOT NULL,
		event_id   text NOT NULL,
		event_type text NOT NULL,
		stream_id  text NOT NULL,
		position   bigint NOT NULL,
		at         timestamptz NOT NULL,
		payload    bytea,
		metadata   jsonb NOT NULL)`)
	if err != nil {
		return fmt.Errorf("messaging: create %s: %w", s.table(), err)
	}
	return nil
}

const poisonColumns = `id, consumer, topic, reason, event_id, event_type, stream_id, position, at, payload, metadata`

// Add records m; an id already recorded is left as it is.
func (s *PostgresPoisonStore) Add(ctx context.Context, m PoisonedMessage) error {
	if m.ID == "" {
		return errors.New("messaging: poisoned message without id")
	}
	md, err := json.Marshal(m.Metadata)
	if err != nil {
		return fmt.Errorf("messaging: poisoned message %s metadata: %w", m.ID, err)
	}
	_, err = s.Pool.Exec(ctx, `INSERT INTO `+s.table()+` (`+poisonColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING`,
		m.ID, m.Consumer, m.Topic, m.Reason, m.EventID, m.EventType, m.StreamID, int64(m.Position), m.At, m.Payload, md)
	if err != nil {
		return fmt.Errorf("messaging: add poisoned message %s: %w", m.ID, err)
	}
	return nil
}

func scanPoisoned(row pgx.Row) (PoisonedMessage, error) {
	var m PoisonedMessage
	var pos int64
	var md []byte
	if err := row.Scan(&m.ID, &m.Consumer, &m.Topic, &m.Reason, &m.EventID, &m.EventType, &m.StreamID, &pos, &m.At, &m.Payload, &md); err != nil {
		return m, err
	}
	m.Position = eventstore.Position(pos)
	if err := json.Unmarshal(md, &m.Metadata); err != nil {
		return m, fmt.Errorf("metadata: %w", err)
	}
	return m, nil
}

// List returns up to limit messages (all when limit <= 0), newest first.
func (s *PostgresPoisonStore) List(ctx context.Context, limit int) ([]PoisonedMessage, error) {
	q := `SELECT ` + poisonColumns + ` FROM ` + s.table() + ` ORDER BY at DESC, seq DESC`
	args := []any{}
	if limit > 0 {
		q += ` LIMIT $1`
		args = append(args, limit)
	}
	rows, err := s.Pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("messaging: list poisoned messages: %w", err)
	}
	defer rows.Close()
	var out []PoisonedMessage
	for rows.Next() {
		m, err := scanPoisoned(rows)
		if err != nil {
			return nil, fmt.Errorf("messaging: list poisoned messages: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("messaging: list poisoned messages: %w", err)
	}
	return out, nil
}

// Get returns one message, or an error wrapping ErrNoSuchPoisoned.
func (s *PostgresPoisonStore) Get(ctx context.Context, id string) (PoisonedMessage, error) {
	m, err := scanPoisoned(s.Pool.QueryRow(ctx, `SELECT `+poisonColumns+` FROM `+s.table()+` WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return m, fmt.Errorf("messaging: poisoned message %q: %w", id, ErrNoSuchPoisoned)
	}
	if err != nil {
		return m, fmt.Errorf("messaging: get poisoned message %q: %w", id, err)
	}
	return m, nil
}

// Remove deletes one message, or fails wrapping ErrNoSuchPoisoned.
func (s *PostgresPoisonStore) Remove(ctx context.Context, id string) error {
	tag, err := s.Pool.Exec(ctx, `DELETE FROM `+s.table()+` WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("messaging: remove poisoned message %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("messaging: poisoned message %q: %w", id, ErrNoSuchPoisoned)
	}
	return nil
}

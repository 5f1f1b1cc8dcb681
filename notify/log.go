package notify

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Notification statuses.
const (
	// StatusSent marks a notification the Sender accepted; it is never sent
	// again.
	StatusSent = "sent"
	// StatusFailed marks a notification whose every attempt failed.
	StatusFailed = "failed"
)

// MaxListLimit bounds one List so an admin page cannot load the whole log.
const MaxListLimit = 1000

// ErrInvalidLimit is returned by List for a limit outside 1..MaxListLimit.
var ErrInvalidLimit = errors.New("notify: list limit must be 1..1000")

// Notification is one delivery attempt's record: the notification log of
// API.md (GET /api/v1/admin/notifications).
type Notification struct {
	ID       string     `json:"id"` // event id + "/" + template: the idempotency key
	Channel  string     `json:"channel"`
	To       string     `json:"to"`
	Template string     `json:"template"`
	Subject  string     `json:"subject"`
	Body     string     `json:"body"` // the text part, secrets redacted
	Status   string     `json:"status"`
	Attempts int        `json:"attempts"`
	SentAt   *time.Time `json:"sent_at"` // nil unless sent
	Error    string     `json:"error,omitempty"`
	EventID  string     `json:"event_id"`
	At       time.Time  `json:"at"` // last attempt
}

// Log keeps notifications, the notifier's memory of what it sent.
type Log interface {
	// Put inserts or replaces the notification with n's ID.
	Put(ctx context.Context, n Notification) error
	// Get returns the notification with id; ok is false if there is none.
	Get(ctx context.Context, id string) (n Notification, ok bool, err error)
	// List returns up to limit (1..1000) notifications to the address to
	// ("" for everyone), newest first by At; ErrInvalidLimit otherwise.
	List(ctx context.Context, to string, limit int) ([]Notification, error)
}

type memoryLog struct {
	mu   sync.Mutex
	byID map[string]Notification
}

// NewMemoryLog returns a Log held in memory, for tests and the embedded
// single-process mode; it forgets everything on restart.
func NewMemoryLog() Log { return &memoryLog{byID: map[string]Notification{}} }

func clone(n Notification) Notification {
	if n.SentAt != nil {
		t := *n.SentAt
		n.SentAt = &t
	}
	return n
}

func (l *memoryLog) Put(_ context.Context, n Notification) error {
	if n.ID == "" {
		return errors.New("notify: notification without id")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.byID[n.ID] = clone(n)
	return nil
}

func (l *memoryLog) Get(_ context.Context, id string) (Notification, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, ok := l.byID[id]
	return clone(n), ok, nil
}

func (l *memoryLog) List(_ context.Context, to string, limit int) ([]Notification, error) {
	if limit < 1 || limit > MaxListLimit {
		return nil, ErrInvalidLimit
	}
	l.mu.Lock()
	out := make([]Notification, 0)
	for _, n := range l.byID {
		if to == "" || n.To == to {
			out = append(out, clone(n))
		}
	}
	l.mu.Unlock()
	slices.SortFunc(out, func(a, b Notification) int {
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// PostgresLog is the Log in PostgreSQL, table <Schema>.notifications; call
// Setup once before use. An empty Schema means the search path's.
type PostgresLog struct {
	Pool   *pgxpool.Pool
	Schema string
}

func (l *PostgresLog) table() string {
	if l.Schema == "" {
		return pgx.Identifier{"notifications"}.Sanitize()
	}
	return pgx.Identifier{l.Schema, "notifications"}.Sanitize()
}

// Setup creates the notifications table and its (to_address, at desc)
// index if they are missing; it returns the database's error otherwise.
func (l *PostgresLog) Setup(ctx context.Context) error {
	t := l.table()
	idx := pgx.Identifier{"notifications_to_at"}.Sanitize()
	ddl := `CREATE TABLE IF NOT EXISTS ` + t + ` (
	id          text PRIMARY KEY,
	channel     text NOT NULL,
	to_address  text NOT NULL,
	template    text NOT NULL,
	subject     text NOT NULL,
	body        text NOT NULL,
	status      text NOT NULL,
	attempts    integer NOT NULL,
	sent_at     timestamptz,
	error       text NOT NULL DEFAULT '',
	event_id    text NOT NULL,
	at          timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS ` + idx + ` ON ` + t + ` (to_address, at DESC)`
	if _, err := l.Pool.Exec(ctx, ddl); err != nil {
		return fmt.Errorf("notify: setup %s: %w", t, err)
	}
	return nil
}

const notificationColumns = `id, channel, to_address, template, subject, body, status, attempts, sent_at, error, event_id, at`

// Put inserts or replaces the notification with n's ID.
func (l *PostgresLog) Put(ctx context.Context, n Notification) error {
	if n.ID == "" {
		return errors.New("notify: notification without id")
	}
	q := `INSERT INTO ` + l.table() + ` (` + notificationColumns + `)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (id) DO UPDATE SET channel = EXCLUDED.channel, to_address = EXCLUDED.to_address,
	template = EXCLUDED.template, subject = EXCLUDED.subject, body = EXCLUDED.body,
	status = EXCLUDED.status, attempts = EXCLUDED.attempts, sent_at = EXCLUDED.sent_at,
	error = EXCLUDED.error, event_id = EXCLUDED.event_id, at = EXCLUDED.at`
	_, err := l.Pool.Exec(ctx, q, n.ID, n.Channel, n.To, n.Template, n.Subject, n.Body,
		n.Status, n.Attempts, n.SentAt, n.Error, n.EventID, n.At)
	if err != nil {
		return fmt.Errorf("notify: put %s: %w", n.ID, err)
	}
	return nil
}

// Get returns the notification with id; ok is false if there is none.
func (l *PostgresLog) Get(ctx context.Context, id string) (Notification, bool, error) {
	row := l.Pool.QueryRow(ctx, `SELECT `+notificationColumns+` FROM `+l.table()+` WHERE id = $1`, id)
	n, err := scanNotification(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return Notification{}, false, nil
	}
	if err != nil {
		return Notification{}, false, fmt.Errorf("notify: get %s: %w", id, err)
	}
	return n, true, nil
}

// List returns up to limit notifications to the address to ("" for
// everyone), newest first by At; ErrInvalidLimit for a limit outside
// 1..1000.
func (l *PostgresLog) List(ctx context.Context, to string, limit int) ([]Notification, error) {
	if limit < 1 || limit > MaxListLimit {
		return nil, ErrInvalidLimit
	}
	q := `SELECT ` + notificationColumns + ` FROM ` + l.table()
	args := []any{limit}
	if to != "" {
		q += ` WHERE to_address = $2`
		args = append(args, to)
	}
	q += ` ORDER BY at DESC, id DESC LIMIT $1`
	rows, err := l.Pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("notify: list: %w", err)
	}
	defer rows.Close()
	out := make([]Notification, 0)
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, fmt.Errorf("notify: list: %w", err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("notify: list: %w", err)
	}
	return out, nil
}

func scanNotification(row pgx.Row) (Notification, error) {
	var n Notification
	err := row.Scan(&n.ID, &n.Channel, &n.To, &n.Template, &n.Subject, &n.Body,
		&n.Status, &n.Attempts, &n.SentAt, &n.Error, &n.EventID, &n.At)
	if err != nil {
		return Notification{}, err
	}
	n.At = n.At.UTC()
	if n.SentAt != nil {
		t := n.SentAt.UTC()
		n.SentAt = &t
	}
	return n, nil
}

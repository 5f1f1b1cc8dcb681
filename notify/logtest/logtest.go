// Package logtest is the conformance suite of notify.Log, the delivery log:
// every adapter (memory, PostgreSQL) runs it from its own tests, as every
// event store runs eventstore/storetest.
package logtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/commerce-engine/commerce/notify"
)

// Run checks the Log newLog returns against the contract: Put inserts and
// upserts by id, Get returns every field as put (times to the microsecond)
// and reports a missing id, List is newest first, filtered by recipient,
// bounded by its limit (1..1000, else notify.ErrInvalidLimit) and never
// nil, and returned values are copies. newLog returns a fresh, empty log;
// an integration adapter skips (or fails under CI) there when its service
// is missing.
func Run(t *testing.T, newLog func(t *testing.T) notify.Log) {
	t.Helper()
	l := newLog(t)
	ctx := context.Background()
	base := time.Date(2025, 1, 2, 3, 4, 5, 123456000, time.UTC) // microseconds, as PostgreSQL keeps
	sent := base.Add(time.Minute)
	put := func(n notify.Notification) {
		t.Helper()
		if err := l.Put(ctx, n); err != nil {
			t.Fatalf("Put %s: %v", n.ID, err)
		}
	}
	a := notify.Notification{ID: "e1/order_shipped", Channel: "email", To: "ann@example.com", Template: "order_shipped",
		Subject: "s1", Body: "b1", Status: notify.StatusFailed, Attempts: 4, Error: "refused", EventID: "e1", At: base}
	put(a)
	got, ok, err := l.Get(ctx, a.ID)
	if err != nil || !ok || !equal(got, a) {
		t.Fatalf("Get = %+v %v %v, want %+v", got, ok, err, a)
	}
	if _, ok, err := l.Get(ctx, "missing"); ok || err != nil {
		t.Fatalf("Get(missing) = %v %v", ok, err)
	}
	// Put upserts.
	a.Status, a.Attempts, a.Error, a.SentAt, a.At = notify.StatusSent, 5, "", &sent, sent
	put(a)
	got, _, _ = l.Get(ctx, a.ID)
	if !equal(got, a) {
		t.Fatalf("after upsert Get = %+v, want %+v", got, a)
	}
	b := notify.Notification{ID: "e2/order_delivered", Channel: "email", To: "bob@example.com", Template: "order_delivered",
		Status: notify.StatusSent, Attempts: 1, SentAt: &sent, EventID: "e2", At: base.Add(2 * time.Minute)}
	c := notify.Notification{ID: "e3/order_delivered", Channel: "email", To: "ann@example.com", Template: "order_delivered",
		Status: notify.StatusSent, Attempts: 1, SentAt: &sent, EventID: "e3", At: base.Add(3 * time.Minute)}
	put(b)
	put(c)

	ids := func(ns []notify.Notification) []string {
		var out []string
		for _, n := range ns {
			out = append(out, n.ID)
		}
		return out
	}
	for _, tt := range []struct {
		to    string
		limit int
		want  []string
	}{
		{"", 10, []string{c.ID, b.ID, a.ID}},
		{"", 2, []string{c.ID, b.ID}},
		{"ann@example.com", 10, []string{c.ID, a.ID}},
		{"bob@example.com", 10, []string{b.ID}},
		{"nobody@example.com", 10, nil},
	} {
		ns, err := l.List(ctx, tt.to, tt.limit)
		if err != nil {
			t.Fatalf("List(%q, %d): %v", tt.to, tt.limit, err)
		}
		if g := ids(ns); len(g) != len(tt.want) || (len(g) > 0 && !equalStrings(g, tt.want)) {
			t.Errorf("List(%q, %d) = %v, want %v", tt.to, tt.limit, g, tt.want)
		}
		if ns == nil {
			t.Errorf("List(%q) returned nil, want an empty slice for JSON []", tt.to)
		}
	}
	for _, bad := range []int{0, -1, 1001} {
		if _, err := l.List(ctx, "", bad); !errors.Is(err, notify.ErrInvalidLimit) {
			t.Errorf("List limit %d: %v, want ErrInvalidLimit", bad, err)
		}
	}
	// Returned values are copies.
	got, _, _ = l.Get(ctx, a.ID)
	*got.SentAt = time.Time{}
	again, _, _ := l.Get(ctx, a.ID)
	if !again.SentAt.Equal(sent) {
		t.Error("changing a returned SentAt changed the log")
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equal(a, b notify.Notification) bool {
	if (a.SentAt == nil) != (b.SentAt == nil) || (a.SentAt != nil && !a.SentAt.Equal(*b.SentAt)) || !a.At.Equal(b.At) {
		return false
	}
	a.SentAt, b.SentAt, a.At, b.At = nil, nil, time.Time{}, time.Time{}
	return a == b
}

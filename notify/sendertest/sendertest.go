// Package sendertest is the conformance suite of notify.Sender: every
// adapter (the log, SMTP) runs it from its own tests, as every event store
// runs eventstore/storetest.
package sendertest

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/commerce-engine/commerce/notify"
)

// Adapter is one sender under test and a way to read back what it
// delivered.
type Adapter struct {
	// Sender is the sender under test.
	Sender notify.Sender
	// Received returns every email delivered so far, in any order, as the
	// recipient sees it (line ends as "\n"); HTML is empty unless
	// CarriesHTML.
	Received func(t *testing.T) []notify.Email
	// CarriesHTML is true when the adapter delivers the HTML part (SMTP),
	// false when it only shows the text (the log).
	CarriesHTML bool
}

// Run checks the adapters newAdapter returns against the contract: Send
// delivers an email to its recipient with its subject (non-ASCII
// included), its text unchanged (long lines included) and, where the
// adapter carries it, its HTML; and each Send is exactly one delivery.
// newAdapter returns a fresh adapter with nothing delivered for each call;
// an integration adapter skips (or fails under CI) there when its service
// is missing.
func Run(t *testing.T, newAdapter func(t *testing.T) Adapter) {
	t.Helper()
	t.Run("delivers subject, text and html", func(t *testing.T) {
		t.Parallel()
		a := newAdapter(t)
		e := notify.Email{
			To:      "ann@example.com",
			Subject: "Acme: order ord-1 confirmed — thanks",
			Text:    "Hello Ann,\n\nTotal: 12.99 EUR\n" + strings.Repeat("long line ", 20) + "\n",
			HTML:    "<p>Hello &lt;b&gt;Ann&lt;/b&gt;,</p><p>Total: <strong>12.99 EUR</strong></p>",
		}
		send(t, a, e)
		got := waitFor(t, a, 1)
		g := got[0]
		if g.To != e.To || g.Subject != e.Subject || g.Text != e.Text {
			t.Errorf("delivered %+v, want to %q, subject %q, text %q", g, e.To, e.Subject, e.Text)
		}
		if a.CarriesHTML && !strings.Contains(g.HTML, e.HTML) {
			t.Errorf("html %q lacks %q", g.HTML, e.HTML)
		}
	})
	t.Run("each send is one delivery", func(t *testing.T) {
		t.Parallel()
		a := newAdapter(t)
		want := []string{"a@example.com", "b@example.com", "c@example.com"}
		for _, to := range want {
			send(t, a, notify.Email{To: to, Subject: "to " + to, Text: "t", HTML: "<p>h</p>"})
		}
		got := waitFor(t, a, len(want))
		var to []string
		for _, e := range got {
			if e.Subject != "to "+e.To {
				t.Errorf("delivered %+v under another's subject", e)
			}
			to = append(to, e.To)
		}
		sort.Strings(to)
		if strings.Join(to, ",") != strings.Join(want, ",") {
			t.Fatalf("delivered to %v, want %v once each", to, want)
		}
	})
}

func send(t *testing.T, a Adapter, e notify.Email) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Sender.Send(ctx, e); err != nil {
		t.Fatalf("Send to %s: %v", e.To, err)
	}
}

// waitFor returns the deliveries once there are n of them (a server may
// store a message a moment after accepting it), failing on more than n or
// when they do not come.
func waitFor(t *testing.T, a Adapter, n int) []notify.Email {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := a.Received(t)
		if len(got) > n {
			t.Fatalf("%d deliveries, want %d: %+v", len(got), n, got)
		}
		if len(got) == n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries after 30s, want %d", len(got), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

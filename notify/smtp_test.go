package notify_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/commerce-engine/commerce/domain/order"
	"github.com/commerce-engine/commerce/internal/testsvc"
	"github.com/commerce-engine/commerce/notify"
	"github.com/commerce-engine/commerce/notify/sendertest"
)

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func TestSMTPSenderMailpit(t *testing.T) {
	t.Parallel()
	smtpAddr, api := testsvc.Mailpit(t)
	s, err := notify.NewSMTPSender("smtp://"+smtpAddr, "shop@example.com")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e := notify.Email{
		To:      "ann@example.com",
		Subject: "Acme: order ord-1 confirmed — thanks",
		Text:    "Hello Ann,\n\nTotal: 12.99 EUR\n" + strings.Repeat("long line ", 20) + "\n",
		HTML:    "<p>Hello &lt;b&gt;Ann&lt;/b&gt;,</p><p>Total: <strong>12.99 EUR</strong></p>",
	}
	if err := s.Send(ctx, e); err != nil {
		t.Fatalf("Send: %v", err)
	}
	// With credentials too (Mailpit accepts any over plain text to localhost).
	s2, err := notify.NewSMTPSender("smtp://user:secret@"+smtpAddr, "shop@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Send(ctx, notify.Email{To: "bob@example.com", Subject: "second", Text: "t", HTML: "<p>h</p>"}); err != nil {
		t.Fatalf("Send with auth: %v", err)
	}

	var list struct {
		Messages []struct {
			ID      string
			Subject string
			To      []struct{ Address string }
		} `json:"messages"`
	}
	getJSON(t, api+"/api/v1/messages", &list)
	if len(list.Messages) != 2 {
		t.Fatalf("mailpit holds %d messages, want 2", len(list.Messages))
	}
	var id string
	for _, m := range list.Messages {
		if m.Subject == e.Subject {
			id = m.ID
		}
	}
	if id == "" {
		t.Fatalf("no message with subject %q in %+v", e.Subject, list.Messages)
	}
	var msg struct {
		From                           struct{ Address string }
		To                             []struct{ Address string }
		Subject, Text, HTML, MessageID string
		Date                           time.Time
	}
	getJSON(t, api+"/api/v1/message/"+id, &msg)
	if msg.From.Address != "shop@example.com" || len(msg.To) != 1 || msg.To[0].Address != "ann@example.com" {
		t.Errorf("from %v to %v", msg.From, msg.To)
	}
	if msg.Subject != e.Subject {
		t.Errorf("subject %q, want %q", msg.Subject, e.Subject)
	}
	if strings.ReplaceAll(msg.Text, "\r\n", "\n") != e.Text {
		t.Errorf("text %q, want %q", msg.Text, e.Text)
	}
	if !strings.Contains(msg.HTML, e.HTML) {
		t.Errorf("html %q lacks %q", msg.HTML, e.HTML)
	}
	if !strings.HasSuffix(msg.MessageID, "@example.com") || msg.Date.IsZero() || time.Since(msg.Date) > time.Minute {
		t.Errorf("message id %q date %v", msg.MessageID, msg.Date)
	}
}

// TestSMTPSenderConforms runs the Sender suite on SMTP, each adapter with
// a Mailpit of its own, reading back through Mailpit's API.
func TestSMTPSenderConforms(t *testing.T) {
	t.Parallel()
	sendertest.Run(t, func(t *testing.T) sendertest.Adapter {
		smtpAddr, api := testsvc.Mailpit(t)
		s, err := notify.NewSMTPSender("smtp://"+smtpAddr, "shop@example.com")
		if err != nil {
			t.Fatal(err)
		}
		return sendertest.Adapter{Sender: s, Received: mailpitInbox(api), CarriesHTML: true}
	})
}

// mailpitInbox reads every message Mailpit at api holds.
func mailpitInbox(api string) func(t *testing.T) []notify.Email {
	return func(t *testing.T) []notify.Email {
		var list struct {
			Messages []struct{ ID string } `json:"messages"`
		}
		getJSON(t, api+"/api/v1/messages", &list)
		var out []notify.Email
		for _, m := range list.Messages {
			var msg struct {
				To                  []struct{ Address string }
				Subject, Text, HTML string
			}
			getJSON(t, api+"/api/v1/message/"+m.ID, &msg)
			e := notify.Email{Subject: msg.Subject, Text: strings.ReplaceAll(msg.Text, "\r\n", "\n"), HTML: msg.HTML}
			for _, to := range msg.To {
				e.To = strings.TrimPrefix(e.To+","+to.Address, ",")
			}
			out = append(out, e)
		}
		return out
	}
}

// closedAddr returns a 127.0.0.1 port nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// silentAddr returns an address that accepts connections and never speaks,
// so only the deadline can end a conversation with it.
func silentAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return l.Addr().String()
}

func TestSMTPSenderDown(t *testing.T) {
	t.Parallel()
	for name, addr := range map[string]string{"closed": closedAddr(t), "silent": silentAddr(t)} {
		s, err := notify.NewSMTPSender("smtp://"+addr, "shop@example.com")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		start := time.Now()
		err = s.Send(ctx, notify.Email{To: "ann@example.com", Subject: "s", Text: "t", HTML: "h"})
		cancel()
		if err == nil {
			t.Fatalf("%s: Send succeeded", name)
		}
		// Generous for a busy machine, and still short of the 30 s a Send
		// that ignored its context's deadline would take.
		if d := time.Since(start); d > notify.DefaultSMTPTimeout*2/3 {
			t.Errorf("%s: Send took %v despite a 300ms deadline (DefaultSMTPTimeout is %v)", name, d, notify.DefaultSMTPTimeout)
		}
	}
}

func TestNotifierSMTPDownRecordsFailed(t *testing.T) {
	t.Parallel()
	s, err := notify.NewSMTPSender("smtp://"+closedAddr(t), "shop@example.com")
	if err != nil {
		t.Fatal(err)
	}
	log := notify.NewMemoryLog()
	n, err := notify.New(notify.Config{Sender: s, Log: log, Directory: newDirectory(), Codec: codec, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ev := event(t, order.Delivered{OrderID: "ord-1", At: t0})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.Handle(ctx, ev); err != nil {
		t.Fatalf("Handle = %v, want nil", err)
	}
	rec, ok, _ := log.Get(ctx, ev.ID.String()+"/order_delivered")
	if !ok || rec.Status != notify.StatusFailed || rec.Attempts != 4 || !strings.Contains(rec.Error, "dial") {
		t.Fatalf("recorded %+v, want failed after 4 attempts", rec)
	}
}

func TestNewSMTPSenderURL(t *testing.T) {
	t.Parallel()
	good := []string{"smtp://localhost:1025", "smtps://u:p@mail.example.com:465", "smtp://mail.example.com", "smtp://[::1]:25"}
	for _, u := range good {
		if _, err := notify.NewSMTPSender(u, "shop@example.com"); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	bad := []string{"http://u:hunter2@x:25", "smtp://u:hunter2@:25", "smtp://u:hunter2@x:port", "smtp://u:hunter2@x:25/path", "smtp://u:hunter2@x:25?q=1", "::hunter2"}
	for _, u := range bad {
		_, err := notify.NewSMTPSender(u, "shop@example.com")
		if err == nil {
			t.Errorf("%s: accepted", u)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error leaks the password: %v", err)
		}
	}
	if _, err := notify.NewSMTPSender("smtp://x:25", "not an address"); err == nil {
		t.Error("bad from accepted")
	}
	if s, _ := notify.NewSMTPSender("smtp://u:hunter2@x:25", "a@b.c"); strings.Contains(s.Addr(), "hunter2") {
		t.Errorf("Addr %q leaks the password", s.Addr())
	}
}

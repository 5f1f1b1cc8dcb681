package notify_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/checkout"
	"github.com/commerce-engine/commerce/domain/customer"
	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/domain/order"
	"github.com/commerce-engine/commerce/domain/payment"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/notify"
	"github.com/commerce-engine/commerce/notify/sendertest"
)

// fakeSender fails its first failures sends, then records the rest.
type fakeSender struct {
	mu       sync.Mutex
	failures int // -1: always fail
	calls    int
	sent     []notify.Email
}

func (s *fakeSender) Send(_ context.Context, e notify.Email) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.failures < 0 || s.calls <= s.failures {
		return fmt.Errorf("smtp refused (call %d)", s.calls)
	}
	s.sent = append(s.sent, e)
	return nil
}

func (s *fakeSender) Sent() []notify.Email {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]notify.Email(nil), s.sent...)
}

type person struct{ email, name string }

type fakeDirectory struct {
	customers map[string]person
	orders    map[string]string
	checkouts map[string]string
	err       error // returned by every method when set
}

func (d *fakeDirectory) Customer(_ context.Context, id string) (string, string, error) {
	if d.err != nil {
		return "", "", d.err
	}
	p, ok := d.customers[id]
	if !ok {
		return "", "", fmt.Errorf("customer %s: %w", id, notify.ErrUnknownRecipient)
	}
	return p.email, p.name, nil
}

func (d *fakeDirectory) OrderCustomer(_ context.Context, id string) (string, error) {
	if d.err != nil {
		return "", d.err
	}
	c, ok := d.orders[id]
	if !ok {
		return "", fmt.Errorf("order %s: %w", id, notify.ErrUnknownRecipient)
	}
	return c, nil
}

func (d *fakeDirectory) CheckoutCustomer(_ context.Context, id string) (string, error) {
	if d.err != nil {
		return "", d.err
	}
	c, ok := d.checkouts[id]
	if !ok {
		return "", fmt.Errorf("checkout %s: %w", id, notify.ErrUnknownRecipient)
	}
	return c, nil
}

func newDirectory() *fakeDirectory {
	return &fakeDirectory{
		customers: map[string]person{
			"cus-1": {"ann@example.com", "Ann"},
			"cus-2": {"bob@example.com", "<b>Bob</b> & co"},
		},
		orders:    map[string]string{"ord-1": "cus-1"},
		checkouts: map[string]string{"ord-1": "cus-1", "chk-9": "cus-1"},
	}
}

var codec = commands.NewCodec()

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// event records payload as the store would, with a fresh id.
func event(t *testing.T, payload any) eventstore.Event {
	t.Helper()
	name, version, data, err := codec.Encode(payload)
	if err != nil {
		t.Fatal(err)
	}
	return eventstore.Event{ID: uuid.New(), StreamID: "s", Version: 1, Type: name, SchemaVersion: version, Data: data, RecordedAt: t0}
}

type harness struct {
	n      *notify.Notifier
	sender *fakeSender
	dir    *fakeDirectory
	log    notify.Log
}

func newHarness(t *testing.T, failures int) *harness {
	t.Helper()
	h := &harness{sender: &fakeSender{failures: failures}, dir: newDirectory(), log: notify.NewMemoryLog()}
	n, err := notify.New(notify.Config{
		Sender:    h.sender,
		Log:       h.log,
		Directory: h.dir,
		Codec:     codec,
		OpenToken: func(sealed string) (string, error) {
			tok, ok := strings.CutPrefix(sealed, "sealed:")
			if !ok {
				return "", errors.New("bad seal")
			}
			return tok, nil
		},
		BaseURL:  "http://shop.test/",
		ShopName: "Acme",
		Backoff:  time.Millisecond,
		Now:      func() time.Time { return t0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	h.n = n
	return h
}

func eur(minor int64) money.Money { return money.Money{Amount: minor, Currency: "EUR"} }

// verificationEvent builds an EmailVerificationRequested whose sealed
// token the harness's OpenToken opens to "tok-123".
func verificationEvent(t *testing.T) eventstore.Event {
	t.Helper()
	return event(t, customer.EmailVerificationRequested{CustomerID: "cus-1", Email: "ann.new@example.com", TokenHash: "h",
		SealedToken: "sealed:tok-123", ExpiresAt: t0.Add(time.Hour), At: t0})
}

func TestTemplates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		event    func(t *testing.T) eventstore.Event
		to       string
		template string
		subject  string
		text     []string
		html     []string
	}{
		{
			name:     "verify email",
			event:    verificationEvent,
			to:       "ann.new@example.com",
			template: "verify_email",
			subject:  "Acme: confirm your email address",
			text:     []string{"Hello Ann,", "http://shop.test/verify-email?token=tok-123"},
			html:     []string{`href="http://shop.test/verify-email?token=tok-123"`},
		},
		{
			name: "order confirmation",
			event: func(t *testing.T) eventstore.Event {
				return event(t, order.Placed{OrderID: "ord-1", CustomerID: "cus-1", CheckoutID: "ord-1", PaymentID: "pay-1",
					Lines: []order.Line{
						{ProductID: "prod-a", Quantity: 2, UnitPrice: eur(1299), LineTotal: eur(2598)},
						{ProductID: "prod-b", Quantity: 1, UnitPrice: eur(5), LineTotal: eur(5)},
					}, Total: eur(2603), At: t0})
			},
			to:       "ann@example.com",
			template: "order_confirmation",
			subject:  "Acme: order ord-1 confirmed",
			text:     []string{"prod-a: 2 x 12.99 EUR = 25.98 EUR", "prod-b: 1 x 0.05 EUR = 0.05 EUR", "Total: 26.03 EUR"},
			html:     []string{"<td>prod-a</td>", "12.99 EUR", "25.98 EUR", "26.03 EUR"},
		},
		{
			name:     "processing",
			event:    func(t *testing.T) eventstore.Event { return event(t, order.Processing{OrderID: "ord-1", At: t0}) },
			to:       "ann@example.com",
			template: "order_processing",
			subject:  "Acme: order ord-1 is being prepared",
			text:     []string{"preparing your order ord-1"},
			html:     []string{"ord-1"},
		},
		{
			name: "shipped",
			event: func(t *testing.T) eventstore.Event {
				return event(t, order.Shipped{OrderID: "ord-1", Carrier: "DHL", TrackingNumber: "JJD000390007", At: t0})
			},
			to:       "ann@example.com",
			template: "order_shipped",
			subject:  "Acme: order ord-1 has shipped",
			text:     []string{"Carrier: DHL", "Tracking number: JJD000390007"},
			html:     []string{"DHL", "JJD000390007"},
		},
		{
			name:     "delivered",
			event:    func(t *testing.T) eventstore.Event { return event(t, order.Delivered{OrderID: "ord-1", At: t0}) },
			to:       "ann@example.com",
			template: "order_delivered",
			subject:  "Acme: order ord-1 delivered",
			text:     []string{"ord-1 has been delivered"},
			html:     []string{"has been delivered"},
		},
		{
			name: "cancelled",
			event: func(t *testing.T) eventstore.Event {
				return event(t, order.Cancelled{OrderID: "ord-1", Reason: "out of stock", At: t0})
			},
			to:       "ann@example.com",
			template: "order_cancelled",
			subject:  "Acme: order ord-1 cancelled",
			text:     []string{"Reason: out of stock"},
			html:     []string{"Reason: out of stock"},
		},
		{
			name: "refunded",
			event: func(t *testing.T) eventstore.Event {
				return event(t, order.Refunded{OrderID: "ord-1", PaymentID: "pay-1", Amount: eur(2603), At: t0})
			},
			to:       "ann@example.com",
			template: "order_refunded",
			subject:  "Acme: refund for order ord-1",
			text:     []string{"refunded 26.03 EUR"},
			html:     []string{"26.03 EUR"},
		},
		{
			name: "payment failed",
			event: func(t *testing.T) eventstore.Event {
				return event(t, payment.Failed{PaymentID: "pay-9", CheckoutID: "chk-9", Reason: "card declined", At: t0})
			},
			to:       "ann@example.com",
			template: "payment_failed",
			subject:  "Acme: payment for order chk-9 failed",
			text:     []string{"Reason: card declined", "cart was kept"},
			html:     []string{"card declined", "cart was kept"},
		},
		{
			name: "payment refunded",
			event: func(t *testing.T) eventstore.Event {
				return event(t, checkout.Refunded{CheckoutID: "chk-9", PaymentID: "pay-9", At: t0})
			},
			to:       "ann@example.com",
			template: "payment_refunded",
			subject:  "Acme: payment for order chk-9 refunded",
			text:     []string{"arrived after the reservation expired and was refunded"},
			html:     []string{"arrived after the reservation expired and was refunded"},
		},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.template] = true
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, 0)
			ev := tt.event(t)
			if err := h.n.Handle(context.Background(), ev); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			sent := h.sender.Sent()
			if len(sent) != 1 {
				t.Fatalf("sent %d emails, want 1", len(sent))
			}
			m := sent[0]
			if m.To != tt.to || m.Subject != tt.subject {
				t.Errorf("to %q subject %q, want %q %q", m.To, m.Subject, tt.to, tt.subject)
			}
			for _, s := range tt.text {
				if !strings.Contains(m.Text, s) {
					t.Errorf("text lacks %q:\n%s", s, m.Text)
				}
			}
			for _, s := range tt.html {
				if !strings.Contains(m.HTML, s) {
					t.Errorf("html lacks %q:\n%s", s, m.HTML)
				}
			}
			id := ev.ID.String() + "/" + tt.template
			rec, ok, err := h.log.Get(context.Background(), id)
			if err != nil || !ok {
				t.Fatalf("log has no %s: %v", id, err)
			}
			if rec.Status != notify.StatusSent || rec.Attempts != 1 || rec.SentAt == nil || !rec.SentAt.Equal(t0) ||
				rec.To != tt.to || rec.Subject != tt.subject || rec.Template != tt.template || rec.Channel != "email" ||
				rec.EventID != ev.ID.String() || !rec.At.Equal(t0) || rec.Error != "" {
				t.Errorf("recorded %+v", rec)
			}
			if tt.template == "verify_email" {
				if strings.Contains(rec.Body, "tok-123") {
					t.Errorf("recorded body leaks the verification token:\n%s", rec.Body)
				}
			} else if rec.Body != m.Text {
				t.Errorf("recorded body %q, want the text part %q", rec.Body, m.Text)
			}
		})
	}
	if len(covered) != len(notify.Types) {
		t.Errorf("%d templates tested for %d types", len(covered), len(notify.Types))
	}
}

func TestHandleRedeliveredSendsOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	ev := event(t, order.Delivered{OrderID: "ord-1", At: t0})
	for i := 0; i < 2; i++ {
		if err := h.n.Handle(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	ev2 := event(t, order.Processing{OrderID: "ord-1", At: t0})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- h.n.Handle(context.Background(), ev2)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := len(h.sender.Sent()); got != 2 {
		t.Fatalf("sent %d emails for 2 events delivered 2 and 8 times, want 2", got)
	}
}

func TestHandleRetriesThenSends(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 2)
	ev := event(t, order.Shipped{OrderID: "ord-1", Carrier: "UPS", TrackingNumber: "1Z", At: t0})
	if err := h.n.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	rec, ok, _ := h.log.Get(context.Background(), ev.ID.String()+"/order_shipped")
	if !ok || rec.Status != notify.StatusSent || rec.Attempts != 3 || rec.SentAt == nil || rec.Error != "" {
		t.Fatalf("recorded %+v, want sent after 3 attempts", rec)
	}
	if len(h.sender.Sent()) != 1 {
		t.Fatalf("sent %d, want 1", len(h.sender.Sent()))
	}
}

func TestHandleRecordsFailure(t *testing.T) {
	t.Parallel()
	h := newHarness(t, -1)
	ev := event(t, order.Cancelled{OrderID: "ord-1", Reason: "fraud", At: t0})
	if err := h.n.Handle(context.Background(), ev); err != nil {
		t.Fatalf("Handle returned %v, want nil (failure recorded)", err)
	}
	rec, ok, _ := h.log.Get(context.Background(), ev.ID.String()+"/order_cancelled")
	if !ok || rec.Status != notify.StatusFailed || rec.Attempts != 4 || rec.SentAt != nil ||
		!strings.Contains(rec.Error, "smtp refused (call 4)") || rec.To != "ann@example.com" {
		t.Fatalf("recorded %+v, want failed after 4 attempts", rec)
	}
	if len(h.sender.Sent()) != 0 || h.sender.calls != 4 {
		t.Fatalf("sent %d in %d calls, want 0 in 4", len(h.sender.Sent()), h.sender.calls)
	}
	// A redelivery tries again and counts on.
	if err := h.n.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	rec, _, _ = h.log.Get(context.Background(), ev.ID.String()+"/order_cancelled")
	if rec.Attempts != 8 || rec.Status != notify.StatusFailed {
		t.Fatalf("after redelivery %+v, want failed with 8 attempts", rec)
	}
}

func TestHandleIgnoresOtherTypes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	evs := []eventstore.Event{
		event(t, payment.Succeeded{PaymentID: "p", CheckoutID: "ord-1", Amount: eur(1), At: t0}),
		{ID: uuid.New(), Type: "something.else", SchemaVersion: 1, Data: []byte(`{}`)},
	}
	for _, ev := range evs {
		if err := h.n.Handle(context.Background(), ev); err != nil {
			t.Fatalf("%s: %v", ev.Type, err)
		}
	}
	all, err := h.log.List(context.Background(), "", 10)
	if err != nil || len(all) != 0 || h.sender.calls != 0 {
		t.Fatalf("log %v err %v calls %d, want nothing", all, err, h.sender.calls)
	}
}

func TestHandleEscapesHTML(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	h.dir.customers["cus-2"] = person{"bob@example.com", "<b>Ann</b>"}
	ev := event(t, order.Placed{OrderID: "ord-2", CustomerID: "cus-2", Lines: []order.Line{
		{ProductID: `<script>x</script>`, Quantity: 1, UnitPrice: eur(100), LineTotal: eur(100)},
	}, Total: eur(100), At: t0})
	if err := h.n.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	m := h.sender.Sent()[0]
	if strings.Contains(m.HTML, "<b>Ann</b>") || !strings.Contains(m.HTML, "&lt;b&gt;Ann&lt;/b&gt;") {
		t.Errorf("name not escaped in HTML:\n%s", m.HTML)
	}
	if strings.Contains(m.HTML, "<script>") {
		t.Errorf("product id not escaped in HTML:\n%s", m.HTML)
	}
	if !strings.Contains(m.Text, "Hello <b>Ann</b>,") {
		t.Errorf("text part should carry the name as is:\n%s", m.Text)
	}
}

func TestHandleUnknownRecipientSkips(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	evs := []eventstore.Event{
		event(t, order.Shipped{OrderID: "ord-404", Carrier: "DHL", TrackingNumber: "x", At: t0}),
		event(t, payment.Failed{PaymentID: "p", CheckoutID: "chk-404", Reason: "r", At: t0}),
		event(t, order.Placed{OrderID: "ord-5", CustomerID: "cus-404", Total: eur(1), At: t0}),
	}
	for _, ev := range evs {
		if err := h.n.Handle(context.Background(), ev); err != nil {
			t.Fatalf("%s: %v", ev.Type, err)
		}
	}
	all, _ := h.log.List(context.Background(), "", 10)
	if len(all) != 0 || h.sender.calls != 0 {
		t.Fatalf("recorded %v with %d sends, want nothing", all, h.sender.calls)
	}
}

func TestHandleDirectoryErrorIsReturned(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	h.dir.err = errors.New("store down")
	err := h.n.Handle(context.Background(), event(t, order.Delivered{OrderID: "ord-1", At: t0}))
	if err == nil || !strings.Contains(err.Error(), "store down") {
		t.Fatalf("Handle = %v, want the directory's error", err)
	}
	if h.sender.calls != 0 {
		t.Fatal("sent despite the directory failing")
	}
}

type failingLog struct{ notify.Log }

func (failingLog) Get(context.Context, string) (notify.Notification, bool, error) {
	return notify.Notification{}, false, errors.New("log down")
}

func TestHandleLogErrorIsReturned(t *testing.T) {
	t.Parallel()
	s := &fakeSender{}
	n, err := notify.New(notify.Config{Sender: s, Log: failingLog{notify.NewMemoryLog()}, Directory: newDirectory(), Codec: codec})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Handle(context.Background(), event(t, order.Delivered{OrderID: "ord-1", At: t0})); err == nil {
		t.Fatal("Handle = nil, want the log's error")
	}
	if s.calls != 0 {
		t.Fatal("sent without knowing whether it was sent before")
	}
}

func TestVerificationNeedsOpenToken(t *testing.T) {
	t.Parallel()
	ev := verificationEvent(t)
	s := &fakeSender{}
	n, err := notify.New(notify.Config{Sender: s, Log: notify.NewMemoryLog(), Directory: newDirectory(), Codec: codec})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Handle(context.Background(), ev); err != nil || s.calls != 0 {
		t.Fatalf("Handle = %v with %d sends, want nil and none", err, s.calls)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	if _, err := notify.New(notify.Config{Log: notify.NewMemoryLog(), Directory: newDirectory(), Codec: codec}); err == nil {
		t.Fatal("New without a Sender succeeded")
	}
}

func TestFormatMoney(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		m    money.Money
		want string
	}{
		{eur(1299), "12.99 EUR"},
		{eur(5), "0.05 EUR"},
		{eur(0), "0.00 EUR"},
		{eur(-150), "-1.50 EUR"},
		{money.Money{Amount: 500, Currency: "JPY"}, "500 JPY"},
		{money.Money{Amount: 1234, Currency: "KWD"}, "1.234 KWD"},
	} {
		if got := notify.FormatMoney(tt.m); got != tt.want {
			t.Errorf("FormatMoney(%v) = %q, want %q", tt.m, got, tt.want)
		}
	}
}

// TestLogSender runs the Sender suite on the log, reading back what it
// logged.
func TestLogSender(t *testing.T) {
	t.Parallel()
	sendertest.Run(t, func(*testing.T) sendertest.Adapter {
		h := &emailLog{}
		return sendertest.Adapter{Sender: notify.LogSender{Logger: slog.New(h)}, Received: h.received}
	})
}

// emailLog is an slog.Handler keeping the emails LogSender logged.
type emailLog struct {
	mu     sync.Mutex
	emails []notify.Email
}

func (h *emailLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *emailLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *emailLog) WithGroup(string) slog.Handler            { return h }

func (h *emailLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "email" {
		return nil
	}
	var e notify.Email
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "to":
			e.To = a.Value.String()
		case "subject":
			e.Subject = a.Value.String()
		case "text":
			e.Text = a.Value.String()
		}
		return true
	})
	h.mu.Lock()
	h.emails = append(h.emails, e)
	h.mu.Unlock()
	return nil
}

func (h *emailLog) received(*testing.T) []notify.Email {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]notify.Email(nil), h.emails...)
}

package payments_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/payments"
	"github.com/commerce-engine/commerce/payments/paymenttest"
)

const leakMarker = "secret_MUSTNOTLEAK"

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeStripe is an httptest Stripe whose answer the test switches.
type fakeStripe struct {
	mu     sync.Mutex
	status int
	body   string
	hits   int
	last   *http.Request
	form   url.Values
}

func (f *fakeStripe) answer(status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.body = status, body
}

func (f *fakeStripe) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits
}

func (f *fakeStripe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(raw))
	f.mu.Lock()
	f.hits++
	f.last, f.form = r, form
	status, body := f.status, f.body
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", "req_fake")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

const (
	piCreated = `{"id":"pi_fake","object":"payment_intent","amount":1999,"currency":"eur","status":"requires_payment_method","client_secret":"pi_fake_` + leakMarker + `"}`
	apiError  = `{"error":{"type":"api_error","message":"An unknown error occurred"}}`
	cardError = `{"error":{"type":"card_error","code":"card_declined","decline_code":"generic_decline","message":"Your card was declined.","payment_intent":{"id":"pi_fake","object":"payment_intent","status":"requires_payment_method","client_secret":"pi_fake_` + leakMarker + `"}}}`
)

func newFake(t *testing.T, status int, body string) (*fakeStripe, *httptest.Server) {
	t.Helper()
	f := &fakeStripe{status: status, body: body}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func newStripe(t *testing.T, cfg payments.StripeConfig) (*payments.Stripe, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	if cfg.SecretKey == "" {
		cfg.SecretKey = "sk_test_MUSTNOTLEAK"
	}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := payments.NewStripe(cfg)
	if err != nil {
		t.Fatalf("NewStripe: %v", err)
	}
	t.Cleanup(func() {
		if out := logs.String(); strings.Contains(out, "MUSTNOTLEAK") {
			t.Errorf("logs leak a secret:\n%s", out)
		}
	})
	return s, logs
}

var intentReq = payments.IntentRequest{CheckoutID: "co_1", PaymentID: "pay_1", CustomerID: "cus_1",
	Amount: money.Money{Amount: 1999, Currency: "EUR"}}

func TestNewStripeValidates(t *testing.T) {
	t.Parallel()
	for _, cfg := range []payments.StripeConfig{
		{},
		{SecretKey: "sk_test_x", APIBase: "127.0.0.1:12111"},
		{SecretKey: "sk_test_x", APIBase: "ftp://example.com"},
	} {
		if _, err := payments.NewStripe(cfg); err == nil {
			t.Errorf("NewStripe(%+v): want error", cfg)
		}
	}
}

func TestStripeAgainstStripeMock(t *testing.T) {
	t.Parallel()
	base := mustStripeMock(t)
	paymenttest.Run(t, "stripe", func(t *testing.T) payments.Provider {
		s, _ := newStripe(t, payments.StripeConfig{SecretKey: "sk_test_123", APIBase: base})
		return s
	})
	s, _ := newStripe(t, payments.StripeConfig{SecretKey: "sk_test_123", APIBase: base})
	in, err := s.CreateIntent(context.Background(), intentReq)
	if err != nil {
		t.Fatalf("CreateIntent: %v", err)
	}
	if !strings.HasPrefix(in.ProviderID, "pi_") || !strings.Contains(in.ClientSecret, "_secret_") {
		t.Errorf("intent %q / secret set %v: want pi_ id and a client secret", in.ProviderID, in.ClientSecret != "")
	}
	if s.BreakerState() != "closed" {
		t.Errorf("BreakerState = %q after successful calls", s.BreakerState())
	}
}

func TestStripeRequestShape(t *testing.T) {
	t.Parallel()
	f, srv := newFake(t, 200, piCreated)
	s, logs := newStripe(t, payments.StripeConfig{APIBase: srv.URL})
	in, err := s.CreateIntent(context.Background(), intentReq)
	if err != nil {
		t.Fatalf("CreateIntent: %v", err)
	}
	if in != (payments.Intent{ProviderID: "pi_fake", ClientSecret: "pi_fake_" + leakMarker, Status: "requires_payment_method"}) {
		t.Errorf("intent = %+v", in)
	}
	f.mu.Lock()
	r, form := f.last, f.form
	f.mu.Unlock()
	if r.URL.Path != "/v1/payment_intents" || r.Method != http.MethodPost {
		t.Errorf("request %s %s", r.Method, r.URL.Path)
	}
	if got := r.Header.Get("Idempotency-Key"); got != "intent-co_1" {
		t.Errorf("Idempotency-Key = %q, want intent-co_1", got)
	}
	want := map[string]string{
		"amount": "1999", "currency": "eur", "automatic_payment_methods[enabled]": "true",
		"metadata[checkout_id]": "co_1", "metadata[payment_id]": "pay_1", "metadata[customer_id]": "cus_1",
	}
	for k, v := range want {
		if form.Get(k) != v {
			t.Errorf("form %s = %q, want %q", k, form.Get(k), v)
		}
	}
	if !strings.Contains(logs.String(), "pi_fake") {
		t.Errorf("success not logged with the provider id:\n%s", logs)
	}

	f.answer(200, `{"id":"re_1","object":"refund","status":"succeeded"}`)
	err = s.Refund(context.Background(), payments.RefundRequest{ProviderID: "pi_fake", PaymentID: "pay_1",
		Amount: money.Money{Amount: 500, Currency: "EUR"}, Reason: "item damaged", IdempotencyKey: "refund-1"})
	if err != nil {
		t.Fatalf("Refund: %v", err)
	}
	f.mu.Lock()
	r, form = f.last, f.form
	f.mu.Unlock()
	if r.URL.Path != "/v1/refunds" || r.Header.Get("Idempotency-Key") != "refund-1" ||
		form.Get("payment_intent") != "pi_fake" || form.Get("amount") != "500" ||
		form.Get("metadata[payment_id]") != "pay_1" || form.Get("metadata[reason]") != "item damaged" || form.Has("reason") {
		t.Errorf("refund request %s key %q form %v", r.URL.Path, r.Header.Get("Idempotency-Key"), form)
	}
}

func TestStripeBreakerOpensAndRecovers(t *testing.T) {
	t.Parallel()
	f, srv := newFake(t, 500, apiError)
	// Open long enough that the calls below meet it open on a busy machine;
	// the test waits it out below (it runs beside the others).
	const openFor = 10 * time.Second
	s, _ := newStripe(t, payments.StripeConfig{APIBase: srv.URL, ConsecutiveFailures: 3, OpenFor: openFor})
	ctx := context.Background()
	for i := range 3 {
		_, err := s.CreateIntent(ctx, intentReq)
		var ue *payments.UnavailableError
		if !errors.As(err, &ue) || !errors.Is(err, payments.ErrUnavailable) {
			t.Fatalf("call %d: error = %v, want *UnavailableError", i, err)
		}
		if ue.RetryAfter < time.Second {
			t.Errorf("RetryAfter = %v, want at least 1s", ue.RetryAfter)
		}
		if errors.Is(err, payments.ErrRejected) {
			t.Errorf("5xx must not be ErrRejected: %v", err)
		}
	}
	if got := s.BreakerState(); got != "open" {
		t.Fatalf("BreakerState after 3 failures = %q, want open", got)
	}
	hits := f.count()
	if hits != 3 {
		t.Fatalf("server saw %d requests, want 3", hits)
	}
	for _, call := range []func() error{
		func() error { _, err := s.CreateIntent(ctx, intentReq); return err },
		func() error {
			return s.Refund(ctx, payments.RefundRequest{ProviderID: "pi_1", Amount: money.Money{Amount: 1, Currency: "EUR"}, IdempotencyKey: "k"})
		},
		func() error { return s.CancelIntent(ctx, "pi_1", "k") },
	} {
		err := call()
		var ue *payments.UnavailableError
		if !errors.As(err, &ue) || !errors.Is(err, gobreaker.ErrOpenState) {
			t.Fatalf("open breaker: error = %v, want UnavailableError wrapping ErrOpenState", err)
		}
		if ue.RetryAfter < time.Second {
			t.Errorf("RetryAfter = %v, want at least 1s", ue.RetryAfter)
		}
	}
	if f.count() != hits {
		t.Fatalf("requests reached the server while the breaker was open")
	}

	f.answer(200, piCreated)
	for deadline := time.Now().Add(openFor + 30*time.Second); s.BreakerState() == "open"; {
		if time.Now().After(deadline) {
			t.Fatalf("breaker still open %v after OpenFor %v", openFor+30*time.Second, openFor)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := s.BreakerState(); got != "half-open" {
		t.Errorf("BreakerState after OpenFor = %q, want half-open", got)
	}
	if _, err := s.CreateIntent(ctx, intentReq); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	if got := s.BreakerState(); got != "closed" {
		t.Errorf("BreakerState after a success = %q, want closed", got)
	}
}

func TestStripeClosedPortIsUnavailable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	s, _ := newStripe(t, payments.StripeConfig{APIBase: "http://" + addr, ConsecutiveFailures: 2, OpenFor: time.Minute, Timeout: 2 * time.Second})
	for range 2 {
		if _, err := s.CreateIntent(context.Background(), intentReq); !errors.Is(err, payments.ErrUnavailable) {
			t.Fatalf("closed port: error = %v, want ErrUnavailable", err)
		}
	}
	if s.BreakerState() != "open" {
		t.Fatalf("BreakerState = %q, want open", s.BreakerState())
	}
	_, err = s.CreateIntent(context.Background(), intentReq)
	var ue *payments.UnavailableError
	// What is left of the minute: 30 s leaves a busy machine room between
	// the trip and this call.
	if !errors.As(err, &ue) || ue.RetryAfter < 30*time.Second || ue.RetryAfter > time.Minute {
		t.Fatalf("open for a minute: error %v, RetryAfter should be what is left of 1m", err)
	}
}

func TestStripeRejectionsDoNotTrip(t *testing.T) {
	t.Parallel()
	f, srv := newFake(t, 402, cardError)
	s, _ := newStripe(t, payments.StripeConfig{APIBase: srv.URL, ConsecutiveFailures: 2})
	for i := range 5 {
		_, err := s.CreateIntent(context.Background(), intentReq)
		if !errors.Is(err, payments.ErrRejected) || errors.Is(err, payments.ErrUnavailable) {
			t.Fatalf("card error %d: %v, want ErrRejected only", i, err)
		}
		if !strings.Contains(err.Error(), "Your card was declined.") || strings.Contains(err.Error(), "MUSTNOTLEAK") {
			t.Errorf("error should carry Stripe's message and no client secret: %v", err)
		}
	}
	if s.BreakerState() != "closed" || f.count() != 5 {
		t.Fatalf("after 5 card errors: state %q, %d requests; want closed, 5", s.BreakerState(), f.count())
	}
	f.answer(400, `{"error":{"type":"invalid_request_error","code":"parameter_invalid_integer","message":"Invalid integer"}}`)
	if _, err := s.CreateIntent(context.Background(), intentReq); !errors.Is(err, payments.ErrRejected) {
		t.Fatalf("400: %v, want ErrRejected", err)
	}
	// 429 is an outage signal, not a rejection.
	f.answer(429, `{"error":{"type":"invalid_request_error","code":"rate_limit","message":"Too many requests"}}`)
	for range 2 {
		if _, err := s.CreateIntent(context.Background(), intentReq); !errors.Is(err, payments.ErrUnavailable) {
			t.Fatalf("429: %v, want ErrUnavailable", err)
		}
	}
	if s.BreakerState() != "open" {
		t.Errorf("after 2 rate limits: state %q, want open", s.BreakerState())
	}
}

func TestStripeCancelIntentStates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  int
		body    string
		wantErr error
	}{
		{"pending intent canceled", 200, `{"id":"pi_1","object":"payment_intent","status":"canceled"}`, nil},
		{"already succeeded", 400, `{"error":{"type":"invalid_request_error","code":"payment_intent_unexpected_state","message":"You cannot cancel this PaymentIntent because it has a status of succeeded. Only a PaymentIntent with one of the following statuses may be canceled: requires_payment_method, requires_capture, requires_confirmation, requires_action, processing.","payment_intent":{"id":"pi_1","object":"payment_intent","status":"succeeded","client_secret":"pi_1_` + leakMarker + `"}}}`, payments.ErrAlreadySucceeded},
		{"already succeeded, message only", 400, `{"error":{"type":"invalid_request_error","code":"payment_intent_unexpected_state","message":"You cannot cancel this PaymentIntent because it has a status of succeeded."}}`, payments.ErrAlreadySucceeded},
		{"already canceled", 400, `{"error":{"type":"invalid_request_error","code":"payment_intent_unexpected_state","message":"You cannot cancel this PaymentIntent because it has a status of canceled.","payment_intent":{"id":"pi_1","object":"payment_intent","status":"canceled"}}}`, nil},
		{"unknown intent", 404, `{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such payment_intent: 'pi_1'"}}`, payments.ErrRejected},
		{"outage", 503, apiError, payments.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, srv := newFake(t, tt.status, tt.body)
			s, _ := newStripe(t, payments.StripeConfig{APIBase: srv.URL, ConsecutiveFailures: 1})
			err := s.CancelIntent(context.Background(), "pi_1", "cancel-co_1")
			if tt.wantErr == nil && err != nil || !errors.Is(err, tt.wantErr) {
				t.Fatalf("CancelIntent error = %v, want %v", err, tt.wantErr)
			}
			f.mu.Lock()
			r := f.last
			f.mu.Unlock()
			if r.URL.Path != "/v1/payment_intents/pi_1/cancel" || r.Header.Get("Idempotency-Key") != "cancel-co_1" {
				t.Errorf("request %s key %q", r.URL.Path, r.Header.Get("Idempotency-Key"))
			}
			wantState := "closed"
			if errors.Is(tt.wantErr, payments.ErrUnavailable) {
				wantState = "open"
			}
			if s.BreakerState() != wantState {
				t.Errorf("BreakerState = %q, want %q", s.BreakerState(), wantState)
			}
		})
	}
}

func TestStripeCallerCancelDoesNotTrip(t *testing.T) {
	t.Parallel()
	_, srv := newFake(t, 200, piCreated)
	s, _ := newStripe(t, payments.StripeConfig{APIBase: srv.URL, ConsecutiveFailures: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.CreateIntent(ctx, intentReq)
	if !errors.Is(err, context.Canceled) || errors.Is(err, payments.ErrUnavailable) {
		t.Fatalf("canceled caller: error = %v, want context.Canceled, not unavailable", err)
	}
	if s.BreakerState() != "closed" {
		t.Fatalf("a caller giving up opened the breaker")
	}
}

func TestStripeTimeoutIsUnavailable(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	s, _ := newStripe(t, payments.StripeConfig{APIBase: srv.URL, Timeout: 100 * time.Millisecond, ConsecutiveFailures: 1})
	_, err := s.CreateIntent(context.Background(), intentReq)
	if !errors.Is(err, payments.ErrUnavailable) {
		t.Fatalf("slow Stripe: error = %v, want ErrUnavailable", err)
	}
	if s.BreakerState() != "open" {
		t.Fatalf("BreakerState = %q, want open after a timeout", s.BreakerState())
	}
}

package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/internal/app"
	"github.com/commerce-engine/commerce/internal/testsvc"
	"github.com/commerce-engine/commerce/openapi/openapitest"
	"github.com/commerce-engine/commerce/payments"
)

// checkoutRig is a running engine and how to pay on it: by the offline
// provider's simulator, or by webhooks signed like Stripe's.
type checkoutRig struct {
	srv    *running
	secret string // the webhook secret of the Stripe setup; "" offline
	stripe *cutProxy
	amqp   *cutProxy
	// mailpit is the SMTP sink's HTTP API of the production setup; ""
	// when emails go to the log.
	mailpit string
}

// checkoutSetups are the embedded default and the production parts:
// PostgreSQL, Redis, RabbitMQ and stripe-mock, the last two behind proxies
// the test can cut.
func checkoutSetups() []struct {
	name string
	rig  func(t *testing.T) *checkoutRig
} {
	return []struct {
		name string
		rig  func(t *testing.T) *checkoutRig
	}{
		{"embedded", func(t *testing.T) *checkoutRig {
			cfg := testConfig(t)
			cfg.AdminEmail, cfg.AdminPassword = testAdminEmail, testAdminPassword
			cfg.CheckoutExpiry = 3 * time.Second
			return &checkoutRig{srv: MustRun(t, cfg)}
		}},
		{"postgres+redis+rabbitmq+stripe-mock", func(t *testing.T) *checkoutRig {
			cfg, opts := productionConfig(t)
			return productionRig(t, cfg, opts)
		}},
		{"kurrentdb-standin+postgres+redis+rabbitmq+stripe-mock", func(t *testing.T) *checkoutRig {
			cfg, opts := kurrentConfig(t)
			return productionRig(t, cfg, opts)
		}},
	}
}

// productionRig runs the engine on cfg with RabbitMQ and stripe-mock behind
// proxies the test can cut, and Mailpit for emails.
func productionRig(t *testing.T, cfg Config, opts []Option) *checkoutRig {
	t.Helper()
	cfg.CheckoutExpiry = 3 * time.Second
	amqpURL := testsvc.AMQP(t)
	u, err := url.Parse(amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	rig := &checkoutRig{amqp: newCutProxy(t, u.Host)}
	u.Host = rig.amqp.ln.Addr().String()
	cfg.AMQPURL = u.String()
	mock, err := url.Parse(testsvc.StripeMock(t))
	if err != nil {
		t.Fatal(err)
	}
	rig.stripe = newCutProxy(t, mock.Host)
	var b [16]byte
	_, _ = rand.Read(b[:])
	rig.secret = "whsec_" + hex.EncodeToString(b[:])
	cfg.StripeSecretKey, cfg.StripeWebhookSecret = "sk_test_123", Secret(rig.secret)
	cfg.StripeAPIBase = "http://" + rig.stripe.ln.Addr().String()
	prefix := testsvc.UniqueName("co") + "."
	opts = append(opts, app.WithAMQPPrefix(prefix))
	smtpAddr, api := testsvc.Mailpit(t)
	cfg.SMTPURL, cfg.MailFrom, rig.mailpit = "smtp://"+smtpAddr, "shop@example.com", api
	rig.srv = MustRun(t, cfg, opts...)
	t.Cleanup(func() { deleteDeclared(t, amqpURL, rig.srv.Main) })
	return rig
}

// deleteDeclared stops the engine and deletes every exchange and queue its
// bus declared, so the broker is left as the test found it.
func deleteDeclared(t *testing.T, amqpURL string, m *Main) { deleteShared(t, amqpURL, []*Main{m}) }

type intentAnswer struct {
	CheckoutID   string      `json:"checkout_id"`
	PaymentID    string      `json:"payment_id"`
	ClientSecret string      `json:"client_secret"`
	Amount       money.Money `json:"amount"`
	Status       string      `json:"status"`
}

// providerID is the provider's intent id, as the payment recorded it.
func providerID(t *testing.T, base, paymentID string) string {
	t.Helper()
	admin := client{t: t, base: base, token: adminToken(t, base)}
	var page struct {
		Events []struct {
			Type string `json:"type"`
			Data struct {
				ProviderID string `json:"provider_id"`
			} `json:"data"`
		} `json:"events"`
	}
	admin.must(200, "GET", "/api/v1/admin/streams/payment-"+paymentID+"/events", nil, &page)
	for _, e := range page.Events {
		if e.Type == "payment.intent_created" {
			return e.Data.ProviderID
		}
	}
	t.Fatalf("payment %s has no intent", paymentID)
	return ""
}

// pay delivers the provider's outcome: through the simulator offline, as a
// signed webhook otherwise (several times, as Stripe may).
func (r *checkoutRig) pay(t *testing.T, shopper client, in intentAnswer, outcome string, times int) {
	t.Helper()
	if r.secret == "" {
		for range times {
			shopper.must(http.StatusAccepted, "POST", "/api/v1/payments/"+in.PaymentID+"/simulate", map[string]string{"outcome": outcome}, nil)
		}
		return
	}
	typ := payments.EventPaymentSucceeded
	if outcome == "failed" {
		typ = payments.EventPaymentFailed
	}
	body, sig, err := payments.SignedEvent(r.secret, payments.EventSpec{
		Type: typ, ProviderID: providerID(t, shopper.base, in.PaymentID), PaymentID: in.PaymentID, CheckoutID: in.CheckoutID, Amount: in.Amount,
		FailureReason: "card_declined", Created: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	for range times {
		r.webhook(t, body, sig, http.StatusOK)
	}
}

func (r *checkoutRig) webhook(t *testing.T, body []byte, sig string, want int) {
	t.Helper()
	req, _ := http.NewRequest("POST", r.srv.url+"/api/v1/payments/webhook", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", sig)
	resp, err := openapitest.Client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("webhook: %d %s, want %d", resp.StatusCode, b, want)
	}
}

// eventually polls until cond holds (15 s at most).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var verifyLink = regexp.MustCompile(`"customer_id":"([^"]+)","link":"/verify-email\?token=([^"]+)"`)

// verify finds the shopper's verification link in the engine's log, as a
// new user of the embedded default does, and follows it.
func verify(t *testing.T, srv *running, shopper client, userID string) {
	t.Helper()
	var token string
	for _, m := range verifyLink.FindAllStringSubmatch(srv.logs.String(), -1) {
		if m[1] == userID {
			token = m[2]
		}
	}
	if token == "" {
		t.Fatalf("no verification link for %s in the log", userID)
	}
	shopper.must(200, "POST", "/api/v1/auth/verify-email", map[string]string{"token": token}, nil)
}

type productAnswer struct {
	Available int64 `json:"available"`
}

// available reads a product's available units once the catalog has applied
// position pos ("" for no wait).
func available(t *testing.T, c client, id, pos string) int64 {
	t.Helper()
	var p productAnswer
	if pos == "" {
		c.must(200, "GET", "/api/v1/products/"+id, nil, &p)
	} else {
		c.must(200, "GET", "/api/v1/products/"+id, nil, &p, "X-Min-Position", pos)
	}
	return p.Available
}

// adminTokens keeps one admin session per engine: logins are rate limited.
var adminTokens sync.Map

func adminToken(t *testing.T, base string) string {
	t.Helper()
	if tok, ok := adminTokens.Load(base); ok {
		return tok.(string)
	}
	var session struct {
		AccessToken string `json:"access_token"`
	}
	client{t: t, base: base}.must(200, "POST", "/api/v1/auth/admin/login", map[string]string{"email": testAdminEmail, "password": testAdminPassword}, &session)
	adminTokens.Store(base, session.AccessToken)
	return session.AccessToken
}

type orderAnswer struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

func orderStatus(t *testing.T, c client, id string) string {
	t.Helper()
	var o orderAnswer
	code, b, _, err := c.do("GET", "/api/v1/orders/"+id, nil)
	if err != nil || code == 404 {
		return ""
	}
	if code != 200 || json.Unmarshal(b, &o) != nil {
		t.Fatalf("GET order: %d %s", code, b)
	}
	return o.Status
}

func cartItems(t *testing.T, c client) int {
	t.Helper()
	var cart struct {
		Items []json.RawMessage `json:"items"`
	}
	c.must(200, "GET", "/api/v1/cart", nil, &cart)
	return len(cart.Items)
}

// held counts a product's open reservations, from its stream.
func held(t *testing.T, admin client, productID string) int {
	t.Helper()
	n := 0
	for _, typ := range streamTypes(t, admin, "product-"+productID) {
		switch typ {
		case "product.stock_reserved":
			n++
		case "product.reservation_released", "product.reservation_committed":
			n--
		}
	}
	return n
}

func streamTypes(t *testing.T, admin client, stream string) []string {
	t.Helper()
	var page struct {
		Events []struct {
			Type string `json:"type"`
		} `json:"events"`
	}
	admin.must(200, "GET", "/api/v1/admin/streams/"+stream+"/events?limit=1000", nil, &page)
	var out []string
	for _, e := range page.Events {
		out = append(out, e.Type)
	}
	return out
}

// TestCheckout buys over HTTP as API.md describes, on the embedded default
// and on the production parts, then walks every failure path of the issue:
// a declined payment, stock short at the intent, a reservation that expired
// before the payment succeeded, duplicate and out-of-order webhooks, a
// forged signature, a cancellation, Stripe down, RabbitMQ cut mid-run.
func TestCheckout(t *testing.T) {
	for _, setup := range checkoutSetups() {
		t.Run(setup.name, func(t *testing.T) {
			t.Parallel()
			rig := setup.rig(t)
			srv := rig.srv
			admin, shopper, ids, _ := shop(t, srv.url, 4)
			var me struct {
				UserID string `json:"user_id"`
			}
			shopper.must(200, "POST", "/api/v1/auth/login", map[string]string{"email": "ann@example.com", "password": "another long Passw0rd"}, &me)

			// Not verified yet: 403, nothing held.
			shopper.must(http.StatusForbidden, "POST", "/api/v1/payments/intents", map[string]any{}, nil)
			if rig.mailpit != "" {
				verifyFromInbox(t, rig.mailpit, shopper, "ann@example.com")
			} else {
				verify(t, srv, shopper, me.UserID)
			}

			// Browse and review the cart as the seed's shopper does.
			var listing struct {
				Items []struct {
					ID string `json:"id"`
				} `json:"items"`
			}
			shopper.must(200, "GET", "/api/v1/products?category=kitchen", nil, &listing)
			if len(listing.Items) == 0 {
				t.Fatal("no product in the kitchen category")
			}
			var summary struct {
				AllAvailable bool `json:"all_available"`
				ItemCount    int  `json:"item_count"`
			}
			eventually(t, "the cart summary", func() bool {
				shopper.must(200, "GET", "/api/v1/cart/summary", nil, &summary)
				return summary.ItemCount == 6
			})
			if !summary.AllAvailable {
				t.Fatalf("cart summary: %+v", summary)
			}

			// The happy path: intent, payment (three times, then a stale
			// failure), order in history, cart cleared, stock committed.
			var in intentAnswer
			inPos := shopper.must(http.StatusCreated, "POST", "/api/v1/payments/intents", map[string]any{}, &in)
			if in.Status != "requires_payment_method" || in.Amount.Amount != 2*(100+101+102) || in.ClientSecret == "" {
				t.Fatalf("intent: %+v", in)
			}
			if got := available(t, shopper, ids[0], inPos); got != 48 {
				t.Fatalf("available after the intent: %d, want 48 (reserved)", got)
			}
			rig.pay(t, shopper, in, "succeeded", 3)
			rig.pay(t, shopper, in, "failed", 1)
			eventually(t, "order placed", func() bool { return orderStatus(t, shopper, in.CheckoutID) == "placed" })
			var history struct {
				Items []orderAnswer `json:"items"`
			}
			shopper.must(200, "GET", "/api/v1/orders/user/"+me.UserID, nil, &history)
			if len(history.Items) != 1 || history.Items[0].ID != in.CheckoutID {
				t.Fatalf("order history: %+v", history.Items)
			}
			eventually(t, "cart cleared", func() bool { return cartItems(t, shopper) == 0 })
			if n := held(t, admin, ids[0]); n != 0 {
				t.Fatalf("%d reservations still open after the order", n)
			}
			if got := available(t, shopper, ids[0], ""); got != 48 {
				t.Fatalf("available after the order: %d, want 48 (committed)", got)
			}
			// checkout.completed is the saga's last step, after the order
			// and the cart: wait for it before judging the timeline.
			wantTypes := []string{"checkout.started", "cart.checked_out", "product.stock_reserved",
				"payment.intent_created", "checkout.payment_requested", "payment.succeeded",
				"checkout.paid", "product.reservation_committed", "order.placed", "cart.cleared", "checkout.completed"}
			var types []string
			timelineTypes := func() []string {
				var timeline struct {
					Events []struct {
						Type string `json:"type"`
					} `json:"events"`
				}
				admin.must(200, "GET", "/api/v1/admin/orders/"+in.CheckoutID+"/timeline", nil, &timeline)
				var out []string
				for _, e := range timeline.Events {
					out = append(out, e.Type)
				}
				return out
			}
			deadline := time.Now().Add(15 * time.Second)
			for types = timelineTypes(); !slices.Contains(types, "checkout.completed") && time.Now().Before(deadline); types = timelineTypes() {
				time.Sleep(20 * time.Millisecond)
			}
			for _, want := range wantTypes {
				if !slices.Contains(types, want) {
					t.Errorf("timeline lacks %s: %v", want, types)
				}
			}
			if n := strings.Count(strings.Join(types, " "), "order.placed"); n != 1 {
				t.Errorf("%d order.placed in the timeline", n)
			}

			// A forged signature is refused and records nothing.
			body, sig, _ := payments.SignedEvent("whsec_forged", payments.EventSpec{Type: payments.EventPaymentSucceeded,
				ProviderID: providerID(t, srv.url, in.PaymentID), PaymentID: in.PaymentID, CheckoutID: in.CheckoutID, Amount: in.Amount})
			rig.webhook(t, body, sig, http.StatusBadRequest)
			rig.webhook(t, []byte("{not json"), sig, http.StatusBadRequest)

			// A declined payment releases the stock and keeps the cart.
			shopper.must(200, "POST", "/api/v1/cart/items", map[string]any{"product_id": ids[1], "quantity": 3}, nil)
			var declined intentAnswer
			dPos := shopper.must(http.StatusCreated, "POST", "/api/v1/payments/intents", map[string]any{}, &declined)
			if got := available(t, shopper, ids[1], dPos); got != 45 {
				t.Fatalf("available with 3 reserved: %d", got)
			}
			rig.pay(t, shopper, declined, "failed", 2)
			eventually(t, "declined checkout released", func() bool { return available(t, shopper, ids[1], "") == 48 })
			if n := cartItems(t, shopper); n != 1 {
				t.Fatalf("cart after a declined payment has %d lines, want 1", n)
			}
			if s := orderStatus(t, shopper, declined.CheckoutID); s != "" {
				t.Fatalf("a declined payment has an order (%s)", s)
			}

			// Stock short at the intent: 409 with the lines, nothing held.
			admin.must(200, "POST", "/api/v1/admin/products/"+ids[1]+"/stock", map[string]any{"delta": -46}, nil)
			code, b, h, err := shopper.do("POST", "/api/v1/payments/intents", map[string]any{})
			var short struct {
				Lines []struct {
					ProductID string `json:"product_id"`
					Available int64  `json:"available"`
				} `json:"lines"`
			}
			if err != nil || code != http.StatusConflict || !strings.HasPrefix(h.Get("Content-Type"), "application/problem+json") ||
				json.Unmarshal(b, &short) != nil || len(short.Lines) != 1 || short.Lines[0].ProductID != ids[1] || short.Lines[0].Available != 2 {
				t.Fatalf("short intent: %d %s %v", code, b, err)
			}
			if got := available(t, shopper, ids[1], h.Get("X-Event-Position")); got != 2 {
				t.Fatalf("after a short intent %d available, want 2 (nothing held)", got)
			}
			shopper.must(200, "PATCH", "/api/v1/cart/items/"+ids[1], map[string]any{"quantity": 1}, nil)

			// The reservation expires before the payment succeeds: the
			// stock is released, then the late payment is refunded.
			var late intentAnswer
			shopper.must(http.StatusCreated, "POST", "/api/v1/payments/intents", map[string]any{}, &late)
			eventually(t, "expired checkout released", func() bool {
				return slices.Contains(streamTypes(t, admin, "checkout-"+late.CheckoutID), "checkout.released")
			})
			if got := available(t, shopper, ids[1], ""); got != 2 {
				eventually(t, "released unit available", func() bool { return available(t, shopper, ids[1], "") == 2 })
			}
			rig.pay(t, shopper, late, "succeeded", 1)
			eventually(t, "late payment refunded", func() bool {
				return slices.Contains(streamTypes(t, admin, "payment-"+late.PaymentID), "payment.refunded")
			})
			if s := orderStatus(t, shopper, late.CheckoutID); s != "" {
				t.Fatalf("a late payment got an order (%s)", s)
			}

			// Cancellation: stock back, payment refunded, order refunded.
			shopper.must(200, "POST", "/api/v1/orders/"+in.CheckoutID+"/cancel", map[string]any{"reason": "changed my mind"}, nil)
			eventually(t, "cancelled order refunded", func() bool { return orderStatus(t, shopper, in.CheckoutID) == "refunded" })
			eventually(t, "cancelled units back in stock", func() bool { return available(t, shopper, ids[0], "") == 50 })
			shopper.must(http.StatusConflict, "POST", "/api/v1/orders/"+in.CheckoutID+"/cancel", map[string]any{}, nil)

			shipWithLivePush(t, rig, admin, shopper, ids)
			if rig.stripe != nil {
				stripeDownAndBack(t, rig, shopper, ids)
			}
			if rig.amqp != nil {
				rabbitCutMidRun(t, rig, shopper, ids)
			}
			// Every step was notified and recorded, once each.
			wantSent := map[string]int{"verify_email": 1, "order_confirmation": 2, "payment_failed": 1,
				"payment_refunded": 1, "order_cancelled": 1, "order_refunded": 1,
				"order_processing": 1, "order_shipped": 1, "order_delivered": 1}
			var got map[string]int
			defer func() {
				if t.Failed() {
					t.Logf("notifications sent to the shopper: %v", got)
				}
			}()
			eventually(t, "the notifications", func() bool {
				got = sentTemplates(t, admin, "ann@example.com")
				for tpl, n := range wantSent {
					if got[tpl] < n {
						return false
					}
				}
				return true
			})
			if rig.mailpit != "" {
				subjects := inboxSubjects(t, rig.mailpit, "ann@example.com")
				if len(subjects) < 7 {
					t.Errorf("the SMTP sink got %d emails for the shopper: %v", len(subjects), subjects)
				}
			}
			var poisoned struct {
				Items []json.RawMessage `json:"items"`
			}
			admin.must(200, "GET", "/api/v1/admin/messages/poisoned", nil, &poisoned)
			if len(poisoned.Items) != 0 {
				t.Errorf("poisoned messages: %s", poisoned.Items)
			}
		})
	}
}

// stripeDownAndBack cuts Stripe away: checkouts answer 503 with
// Retry-After and hold nothing, the breaker opens; once Stripe is back a
// checkout goes through again.
func stripeDownAndBack(t *testing.T, rig *checkoutRig, shopper client, ids []string) {
	t.Helper()
	admin := client{t: t, base: shopper.base, token: adminToken(t, shopper.base)}
	shopper.must(200, "POST", "/api/v1/cart/items", map[string]any{"product_id": ids[2], "quantity": 1}, nil)
	rig.stripe.cut()
	for i := range 6 {
		code, b, h, err := shopper.do("POST", "/api/v1/payments/intents", map[string]any{})
		if err != nil || code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
			t.Fatalf("intent %d with Stripe down: %d %s %v", i, code, b, err)
		}
	}
	for _, id := range ids {
		if n := held(t, admin, id); n != 0 {
			t.Fatalf("%d reservations of %s held while Stripe is down", n, id)
		}
	}
	if s := rig.srv.Saga().Provider().(*payments.Stripe).BreakerState(); s != "open" {
		t.Fatalf("breaker %s after 6 failures, want open", s)
	}
	rig.stripe.heal()
	var in intentAnswer
	eventually(t, "checkout through again once Stripe is back", func() bool {
		code, b, _, err := shopper.do("POST", "/api/v1/payments/intents", map[string]any{})
		if err == nil && code == http.StatusCreated {
			return json.Unmarshal(b, &in) == nil
		}
		time.Sleep(500 * time.Millisecond)
		return false
	})
	rig.pay(t, shopper, in, "succeeded", 1)
	eventually(t, "order after recovery", func() bool { return orderStatus(t, shopper, in.CheckoutID) == "placed" })
}

// rabbitCutMidRun drops every connection to RabbitMQ while a payment is
// recorded: once the broker is reachable again the saga completes it.
func rabbitCutMidRun(t *testing.T, rig *checkoutRig, shopper client, ids []string) {
	t.Helper()
	shopper.must(200, "POST", "/api/v1/cart/items", map[string]any{"product_id": ids[3], "quantity": 1}, nil)
	var in intentAnswer
	shopper.must(http.StatusCreated, "POST", "/api/v1/payments/intents", map[string]any{}, &in)
	rig.amqp.cut()
	rig.pay(t, shopper, in, "succeeded", 1)
	time.Sleep(500 * time.Millisecond)
	if s := orderStatus(t, shopper, in.CheckoutID); s != "" {
		t.Logf("order %s before RabbitMQ came back (published before the cut)", s)
	}
	rig.amqp.heal()
	eventually(t, "order after RabbitMQ is back", func() bool { return orderStatus(t, shopper, in.CheckoutID) == "placed" })
}

// sentTemplates counts the notifications recorded as sent to one address.
func sentTemplates(t *testing.T, admin client, to string) map[string]int {
	t.Helper()
	var list struct {
		Items []struct {
			Template string `json:"template"`
			Status   string `json:"status"`
		} `json:"items"`
	}
	admin.must(200, "GET", "/api/v1/admin/notifications?to="+url.QueryEscape(to), nil, &list)
	out := map[string]int{}
	for _, n := range list.Items {
		if n.Status == "sent" {
			out[n.Template]++
		}
	}
	return out
}

type mailpitMessage struct {
	ID      string
	Subject string
	To      []struct{ Address string }
}

// inbox lists the SMTP sink's messages to one address.
func inbox(t *testing.T, api, to string) []mailpitMessage {
	t.Helper()
	var list struct {
		Messages []mailpitMessage `json:"messages"`
	}
	getMailpit(t, api+"/api/v1/messages?limit=200", &list)
	var out []mailpitMessage
	for _, m := range list.Messages {
		for _, a := range m.To {
			if a.Address == to {
				out = append(out, m)
			}
		}
	}
	return out
}

func inboxSubjects(t *testing.T, api, to string) []string {
	t.Helper()
	var out []string
	for _, m := range inbox(t, api, to) {
		out = append(out, m.Subject)
	}
	return out
}

func getMailpit(t *testing.T, u string, out any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

var inboxLink = regexp.MustCompile(`/verify-email\?token=([A-Za-z0-9_%-]+)`)

// verifyFromInbox follows the verification link of the email the shopper
// received, as a user does.
func verifyFromInbox(t *testing.T, api string, shopper client, to string) {
	t.Helper()
	var token string
	eventually(t, "the verification email", func() bool {
		for _, m := range inbox(t, api, to) {
			var msg struct{ Text string }
			getMailpit(t, api+"/api/v1/message/"+m.ID, &msg)
			if found := inboxLink.FindStringSubmatch(msg.Text); found != nil {
				token, _ = url.QueryUnescape(found[1])
				return true
			}
		}
		return false
	})
	shopper.must(200, "POST", "/api/v1/auth/verify-email", map[string]string{"token": token}, nil)
}

// liveFrame is one server-sent event of GET /api/v1/orders/live.
type liveFrame struct {
	OrderID string `json:"order_id"`
	Status  string `json:"status"`
}

// openLive connects the shopper to the live stream and returns the frames
// it receives; the stream ends with the test.
func openLive(t *testing.T, c client) <-chan liveFrame {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", c.base+"/api/v1/orders/live", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := openapitest.Client(t).Do(req) //nolint:bodyclose // closed below, or by the reader goroutine
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		_ = resp.Body.Close()
		t.Fatalf("live: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := make(chan liveFrame, 64)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var f liveFrame
				if json.Unmarshal([]byte(data), &f) == nil {
					out <- f
				}
			}
		}
	}()
	return out
}

// shipWithLivePush buys once more while the shopper watches the live
// stream, and the admin processes, ships (carrier, tracking) and delivers
// the order: each status arrives on the stream, in order, and the order
// reads it at once.
func shipWithLivePush(t *testing.T, rig *checkoutRig, admin, shopper client, ids []string) {
	t.Helper()
	frames := openLive(t, shopper)
	shopper.must(200, "POST", "/api/v1/cart/items", map[string]any{"product_id": ids[2], "quantity": 1}, nil)
	var in intentAnswer
	shopper.must(http.StatusCreated, "POST", "/api/v1/payments/intents", map[string]any{}, &in)
	rig.pay(t, shopper, in, "succeeded", 1)
	want := []string{"placed", "processing", "shipped", "delivered"}
	next := func(status string) {
		t.Helper()
		timeout := time.After(15 * time.Second)
		for {
			select {
			case f, ok := <-frames:
				if !ok {
					t.Fatalf("live stream ended before %s", status)
				}
				if f.OrderID == in.CheckoutID && f.Status == status {
					// A push comes once the shopper's reads show it.
					var o struct {
						Status string `json:"status"`
					}
					shopper.must(200, "GET", "/api/v1/orders/"+in.CheckoutID, nil, &o)
					if o.Status != status {
						t.Fatalf("after the live %s update the order reads %q", status, o.Status)
					}
					return
				}
				if f.OrderID == in.CheckoutID && slices.Index(want, f.Status) > slices.Index(want, status) {
					t.Fatalf("live stream sent %s before %s", f.Status, status)
				}
			case <-timeout:
				t.Fatalf("no live %s update for order %s", status, in.CheckoutID)
			}
		}
	}
	next("placed")
	admin.must(200, "POST", "/api/v1/admin/orders/"+in.CheckoutID+"/status", map[string]any{"status": "processing"}, nil)
	next("processing")
	admin.must(200, "POST", "/api/v1/admin/orders/"+in.CheckoutID+"/status", map[string]any{"status": "shipped", "carrier": "DHL", "tracking_number": "JD0146"}, nil)
	next("shipped")
	admin.must(200, "POST", "/api/v1/admin/orders/"+in.CheckoutID+"/status", map[string]any{"status": "delivered"}, nil)
	next("delivered")
	eventually(t, "the shipping email with its tracking number", func() bool {
		var list struct {
			Items []struct {
				Template string `json:"template"`
				Body     string `json:"body"`
			} `json:"items"`
		}
		admin.must(200, "GET", "/api/v1/admin/notifications?to=ann%40example.com", nil, &list)
		for _, n := range list.Items {
			if n.Template == "order_shipped" && strings.Contains(n.Body, "JD0146") && strings.Contains(n.Body, "DHL") {
				return true
			}
		}
		return false
	})
}

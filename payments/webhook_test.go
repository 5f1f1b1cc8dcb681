package payments_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/payments"
)

const testSecret = "whsec_test_0123456789"

func mustSign(t *testing.T, secret string, spec payments.EventSpec) ([]byte, string) {
	t.Helper()
	body, sig, err := payments.SignedEvent(secret, spec)
	if err != nil {
		t.Fatalf("SignedEvent: %v", err)
	}
	return body, sig
}

func TestVerifierRoundTrip(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 11, 26, 9, 30, 15, 0, time.UTC)
	eur := func(a int64) money.Money { return money.Money{Amount: a, Currency: "EUR"} }
	tests := []struct {
		name string
		spec payments.EventSpec
		want payments.WebhookEvent
	}{
		{
			name: "succeeded",
			spec: payments.EventSpec{ID: "evt_ok", Type: payments.EventPaymentSucceeded, ProviderID: "pi_1",
				PaymentID: "pay_1", CheckoutID: "co_1", Amount: eur(1999), Created: created},
			want: payments.WebhookEvent{ID: "evt_ok", Type: payments.EventPaymentSucceeded, APIVersion: "2023-10-16",
				ProviderID: "pi_1", PaymentID: "pay_1", CheckoutID: "co_1", Amount: eur(1999), Created: created},
		},
		{
			name: "failed",
			spec: payments.EventSpec{ID: "evt_fail", Type: payments.EventPaymentFailed, ProviderID: "pi_2",
				PaymentID: "pay_2", CheckoutID: "co_2", Amount: eur(500), FailureReason: "Your card was declined.", Created: created},
			want: payments.WebhookEvent{ID: "evt_fail", Type: payments.EventPaymentFailed, APIVersion: "2023-10-16",
				ProviderID: "pi_2", PaymentID: "pay_2", CheckoutID: "co_2", Amount: eur(500),
				FailureReason: "Your card was declined.", Created: created},
		},
		{
			name: "refunded",
			spec: payments.EventSpec{ID: "evt_ref", Type: payments.EventChargeRefunded, ProviderID: "pi_3",
				PaymentID: "pay_3", CheckoutID: "co_3", Amount: money.Money{Amount: 1000, Currency: "JPY"},
				AmountRefunded: money.Money{Amount: 400, Currency: "JPY"}, Created: created},
			want: payments.WebhookEvent{ID: "evt_ref", Type: payments.EventChargeRefunded, APIVersion: "2023-10-16",
				ProviderID: "pi_3", PaymentID: "pay_3", CheckoutID: "co_3", Amount: money.Money{Amount: 1000, Currency: "JPY"},
				AmountRefunded: money.Money{Amount: 400, Currency: "JPY"}, Created: created},
		},
		{
			name: "unknown type keeps only id, type and version",
			spec: payments.EventSpec{ID: "evt_other", Type: "customer.created", ProviderID: "pi_4",
				PaymentID: "pay_4", Amount: eur(1), Created: created},
			want: payments.WebhookEvent{ID: "evt_other", Type: "customer.created", APIVersion: "2023-10-16"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body, sig := mustSign(t, testSecret, tt.spec)
			got, err := payments.Verifier{Secret: testSecret}.Parse(body, sig)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got != tt.want {
				t.Errorf("Parse:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestSignedEventDefaults(t *testing.T) {
	t.Parallel()
	spec := payments.EventSpec{Type: payments.EventPaymentSucceeded, ProviderID: "pi_1", PaymentID: "pay_1",
		Amount: money.Money{Amount: 1, Currency: "USD"}}
	b1, s1 := mustSign(t, testSecret, spec)
	b2, _ := mustSign(t, testSecret, spec)
	e1, err := payments.Verifier{Secret: testSecret}.Parse(b1, s1)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if !strings.HasPrefix(e1.ID, "evt_") || len(e1.ID) < 10 {
		t.Errorf("generated id %q, want evt_...", e1.ID)
	}
	if bytes.Equal(b1, b2) {
		t.Error("two events with an empty ID got the same body")
	}
	if d := time.Since(e1.Created); d < -time.Second || d > time.Minute {
		t.Errorf("zero Created became %v, want about now", e1.Created)
	}
	var raw map[string]any
	if err := json.Unmarshal(b1, &raw); err != nil {
		t.Fatal(err)
	}
	obj := raw["data"].(map[string]any)["object"].(map[string]any)
	if obj["currency"] != "usd" || obj["object"] != "payment_intent" {
		t.Errorf("data.object currency %v object %v, want usd payment_intent", obj["currency"], obj["object"])
	}
	if _, _, err := payments.SignedEvent("", spec); err == nil {
		t.Error("SignedEvent with an empty secret: want error")
	}
}

// resign signs body as Stripe would at time ts.
func resign(body []byte, secret string, ts time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: ts}).Header
}

func TestVerifierRejects(t *testing.T) {
	t.Parallel()
	good := payments.EventSpec{ID: "evt_1", Type: payments.EventPaymentSucceeded, ProviderID: "pi_1",
		PaymentID: "pay_1", CheckoutID: "co_1", Amount: money.Money{Amount: 100, Currency: "EUR"}}
	body, sig := mustSign(t, testSecret, good)
	noPay := good
	noPay.PaymentID = ""
	noPayBody, noPaySig := mustSign(t, testSecret, noPay)
	noPI := good
	noPI.Type, noPI.ProviderID = payments.EventChargeRefunded, ""
	noPIBody, noPISig := mustSign(t, testSecret, noPI)
	noCur := good
	noCur.Amount.Currency = ""
	noCurBody, noCurSig := mustSign(t, testSecret, noCur)
	now := time.Now()
	notJSON := []byte("this is not json")
	noID := []byte(`{"type":"payment_intent.succeeded","data":{"object":{}}}`)
	wrongObject := []byte(`{"id":"evt_x","type":"payment_intent.succeeded","data":{"object":{"object":"charge","id":"pi_1","currency":"eur","metadata":{"payment_id":"p"}}}}`)

	tests := []struct {
		name    string
		v       payments.Verifier
		body    []byte
		sig     string
		wantErr error
	}{
		{"forged signature", payments.Verifier{Secret: testSecret}, body,
			fmt.Sprintf("t=%d,v1=%s", now.Unix(), strings.Repeat("ab", 32)), payments.ErrBadSignature},
		{"wrong secret", payments.Verifier{Secret: testSecret}, body, resign(body, "whsec_other", now), payments.ErrBadSignature},
		{"empty verifier secret", payments.Verifier{}, body, resign(body, "", now), payments.ErrBadSignature},
		{"missing header", payments.Verifier{Secret: testSecret}, body, "", payments.ErrBadSignature},
		{"garbled header", payments.Verifier{Secret: testSecret}, body, "garbage", payments.ErrBadSignature},
		{"header without timestamp", payments.Verifier{Secret: testSecret}, body,
			strings.SplitN(sig, ",", 2)[1], payments.ErrBadSignature},
		{"older than default tolerance", payments.Verifier{Secret: testSecret}, body,
			resign(body, testSecret, now.Add(-301*time.Second)), payments.ErrBadSignature},
		{"older than custom tolerance", payments.Verifier{Secret: testSecret, Tolerance: 10 * time.Second}, body,
			resign(body, testSecret, now.Add(-11*time.Second)), payments.ErrBadSignature},
		{"injected clock moved past tolerance", payments.Verifier{Secret: testSecret,
			Now: func() time.Time { return time.Now().Add(10 * time.Minute) }}, body, sig, payments.ErrBadSignature},
		{"body tampered after signing", payments.Verifier{Secret: testSecret},
			bytes.Replace(body, []byte(`"amount":100`), []byte(`"amount":1`), 1), sig, payments.ErrBadSignature},
		{"non-JSON body", payments.Verifier{Secret: testSecret}, notJSON, resign(notJSON, testSecret, now), payments.ErrBadPayload},
		{"no event id", payments.Verifier{Secret: testSecret}, noID, resign(noID, testSecret, now), payments.ErrBadPayload},
		{"known type without payment id", payments.Verifier{Secret: testSecret}, noPayBody, noPaySig, payments.ErrBadPayload},
		{"refund without payment intent", payments.Verifier{Secret: testSecret}, noPIBody, noPISig, payments.ErrBadPayload},
		{"known type without currency", payments.Verifier{Secret: testSecret}, noCurBody, noCurSig, payments.ErrBadPayload},
		{"wrong object kind", payments.Verifier{Secret: testSecret}, wrongObject, resign(wrongObject, testSecret, now), payments.ErrBadPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.v.Parse(tt.body, tt.sig)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Parse error = %v, want %v", err, tt.wantErr)
			}
			if got != (payments.WebhookEvent{}) {
				t.Errorf("Parse returned %+v with an error, want zero event", got)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
	// Sanity: the untouched inputs do verify, so the cases above fail for
	// the reason they name.
	if _, err := (payments.Verifier{Secret: testSecret}).Parse(body, sig); err != nil {
		t.Fatalf("untampered event: %v", err)
	}
	if _, err := (payments.Verifier{Secret: testSecret, Tolerance: 20 * time.Second}).Parse(body, resign(body, testSecret, now.Add(-11*time.Second))); err != nil {
		t.Fatalf("event within custom tolerance: %v", err)
	}
}

// TestVerifierOtherAPIVersion is a real Stripe event rendered in API version
// 2024-06-20, which stripe-go v76's ConstructEvent refuses.
func TestVerifierOtherAPIVersion(t *testing.T) {
	t.Parallel()
	body := []byte(`{
  "id": "evt_3PXYZ2eZvKYlo2C1abcdef",
  "object": "event",
  "api_version": "2024-06-20",
  "created": 1719948368,
  "data": {
    "object": {
      "id": "pi_3PXYZ2eZvKYlo2C1",
      "object": "payment_intent",
      "amount": 2500,
      "amount_capturable": 0,
      "amount_details": {"tip": {}},
      "amount_received": 2500,
      "automatic_payment_methods": {"allow_redirects": "always", "enabled": true},
      "currency": "eur",
      "latest_charge": "ch_3PXYZ2eZvKYlo2C1",
      "metadata": {"checkout_id": "co_9", "customer_id": "cus_9", "payment_id": "pay_9"},
      "payment_method_configuration_details": {"id": "pmc_1", "parent": null},
      "status": "succeeded"
    }
  },
  "livemode": false,
  "pending_webhooks": 2,
  "request": {"id": null, "idempotency_key": "intent-co_9"},
  "type": "payment_intent.succeeded"
}`)
	sig := resign(body, testSecret, time.Now())
	if _, err := webhook.ConstructEvent(body, sig, testSecret); err == nil {
		t.Log("note: stripe-go ConstructEvent accepted api_version 2024-06-20")
	}
	got, err := payments.Verifier{Secret: testSecret}.Parse(body, sig)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := payments.WebhookEvent{ID: "evt_3PXYZ2eZvKYlo2C1abcdef", Type: payments.EventPaymentSucceeded,
		APIVersion: "2024-06-20", ProviderID: "pi_3PXYZ2eZvKYlo2C1", PaymentID: "pay_9", CheckoutID: "co_9",
		Amount: money.Money{Amount: 2500, Currency: "EUR"}, Created: time.Unix(1719948368, 0).UTC()}
	if got != want {
		t.Errorf("Parse:\n got %+v\nwant %+v", got, want)
	}
}

func TestVerifierExpandedPaymentIntentAndCode(t *testing.T) {
	t.Parallel()
	refund := []byte(`{"id":"evt_r","type":"charge.refunded","api_version":"2023-10-16","created":1,
"data":{"object":{"object":"charge","id":"ch_1","amount":900,"amount_refunded":900,"currency":"gbp",
"payment_intent":{"id":"pi_exp","object":"payment_intent"},"metadata":{"payment_id":"pay_r"}}}}`)
	got, err := payments.Verifier{Secret: testSecret}.Parse(refund, resign(refund, testSecret, time.Now()))
	if err != nil {
		t.Fatalf("Parse refund: %v", err)
	}
	if got.ProviderID != "pi_exp" || got.AmountRefunded != (money.Money{Amount: 900, Currency: "GBP"}) {
		t.Errorf("refund parsed as %+v", got)
	}
	failed := []byte(`{"id":"evt_f","type":"payment_intent.payment_failed","created":1,
"data":{"object":{"object":"payment_intent","id":"pi_f","amount":5,"currency":"eur","metadata":{"payment_id":"pay_f"},
"last_payment_error":{"code":"expired_card"}}}}`)
	got, err = payments.Verifier{Secret: testSecret}.Parse(failed, resign(failed, testSecret, time.Now()))
	if err != nil {
		t.Fatalf("Parse failed: %v", err)
	}
	if got.FailureReason != "expired_card" {
		t.Errorf("FailureReason = %q, want the code when there is no message", got.FailureReason)
	}
}

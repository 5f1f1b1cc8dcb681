// Package paymenttest is the conformance suite of payments.Provider: every
// adapter (offline, Stripe against stripe-mock) runs it from its own tests,
// as every event store runs eventstore/storetest.
package paymenttest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/payments"
)

// Run checks the providers newProvider returns against the contract: the
// provider is named wantName; CreateIntent answers a "pi_" id, a client
// secret and a status, and rejects (payments.ErrRejected) a request
// without a checkout id, with a zero amount or an invalid currency; Refund
// of part of an intent succeeds and of a negative amount is rejected;
// CancelIntent of a pending intent succeeds. newProvider returns a fresh
// provider for each call; an integration adapter skips (or fails under CI)
// there when its service is missing.
func Run(t *testing.T, wantName string, newProvider func(t *testing.T) payments.Provider) {
	t.Helper()
	ctx := context.Background()
	intent := func(t *testing.T, p payments.Provider) payments.Intent {
		t.Helper()
		in, err := p.CreateIntent(ctx, payments.IntentRequest{CheckoutID: "co_conf", PaymentID: "pay_conf",
			CustomerID: "cus_conf", Amount: money.Money{Amount: 1999, Currency: "EUR"}})
		if err != nil {
			t.Fatalf("CreateIntent: %v", err)
		}
		return in
	}
	t.Run("name", func(t *testing.T) {
		t.Parallel()
		if p := newProvider(t); p.Name() != wantName {
			t.Errorf("Name() = %q, want %q", p.Name(), wantName)
		}
	})
	t.Run("create intent", func(t *testing.T) {
		t.Parallel()
		in := intent(t, newProvider(t))
		if !strings.HasPrefix(in.ProviderID, "pi_") {
			t.Errorf("ProviderID = %q, want pi_...", in.ProviderID)
		}
		if in.ClientSecret == "" || in.Status == "" {
			t.Errorf("intent %+v lacks client secret or status", in)
		}
	})
	t.Run("invalid intents are rejected", func(t *testing.T) {
		t.Parallel()
		p := newProvider(t)
		for _, bad := range []payments.IntentRequest{
			{PaymentID: "p", Amount: money.Money{Amount: 1, Currency: "EUR"}},
			{CheckoutID: "c", PaymentID: "p", Amount: money.Money{Amount: 0, Currency: "EUR"}},
			{CheckoutID: "c", PaymentID: "p", Amount: money.Money{Amount: 5, Currency: "eur"}},
		} {
			if _, err := p.CreateIntent(ctx, bad); !errors.Is(err, payments.ErrRejected) {
				t.Errorf("CreateIntent(%+v) error = %v, want ErrRejected", bad, err)
			}
		}
	})
	t.Run("refund", func(t *testing.T) {
		t.Parallel()
		p := newProvider(t)
		in := intent(t, p)
		if err := p.Refund(ctx, payments.RefundRequest{ProviderID: in.ProviderID, PaymentID: "pay_conf",
			Amount: money.Money{Amount: 500, Currency: "EUR"}, Reason: "requested_by_customer", IdempotencyKey: "refund-conf-1"}); err != nil {
			t.Errorf("Refund: %v", err)
		}
		if err := p.Refund(ctx, payments.RefundRequest{ProviderID: in.ProviderID, PaymentID: "pay_conf",
			Amount: money.Money{Amount: -5, Currency: "EUR"}, IdempotencyKey: "refund-conf-2"}); !errors.Is(err, payments.ErrRejected) {
			t.Errorf("Refund of a negative amount: error = %v, want ErrRejected", err)
		}
	})
	t.Run("cancel a pending intent", func(t *testing.T) {
		t.Parallel()
		p := newProvider(t)
		in := intent(t, p)
		if err := p.CancelIntent(ctx, in.ProviderID, "cancel-conf"); err != nil {
			t.Errorf("CancelIntent: %v", err)
		}
	})
}

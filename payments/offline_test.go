package payments_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/payments"
	"github.com/commerce-engine/commerce/payments/paymenttest"
)

var (
	_ payments.Provider = (*payments.Offline)(nil)
	_ payments.Provider = (*payments.Stripe)(nil)
)

func TestOfflineConformance(t *testing.T) {
	t.Parallel()
	paymenttest.Run(t, "offline", func(*testing.T) payments.Provider { return payments.NewOffline() })
}

func TestOfflineDeterministicIDs(t *testing.T) {
	t.Parallel()
	o := payments.NewOffline()
	ctx := context.Background()
	req := payments.IntentRequest{CheckoutID: "co_42", PaymentID: "pay_42", Amount: money.Money{Amount: 10, Currency: "EUR"}}
	a, err := o.CreateIntent(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := payments.NewOffline().CreateIntent(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if a.ProviderID != b.ProviderID {
		t.Errorf("same checkout gave %q and %q", a.ProviderID, b.ProviderID)
	}
	if want := "pi_offline_0853aaa87312ed06f6e1a0fb"; a.ProviderID != want { // first 24 hex of sha256("co_42")
		t.Errorf("ProviderID = %q, want %q", a.ProviderID, want)
	}
	if !regexp.MustCompile(`^pi_offline_[0-9a-f]{24}$`).MatchString(a.ProviderID) {
		t.Errorf("ProviderID %q, want pi_offline_ + 24 hex", a.ProviderID)
	}
	if a.ProviderID != payments.OfflineIntentID("co_42") {
		t.Errorf("OfflineIntentID disagrees with CreateIntent")
	}
	req.CheckoutID = "co_43"
	c, _ := o.CreateIntent(ctx, req)
	if c.ProviderID == a.ProviderID {
		t.Error("different checkouts share a ProviderID")
	}
	if !strings.HasPrefix(a.ClientSecret, a.ProviderID+"_secret_") || a.ClientSecret == b.ClientSecret {
		t.Errorf("client secrets %q, %q: want ProviderID_secret_random", a.ClientSecret, b.ClientSecret)
	}
	if a.Status != "requires_payment_method" {
		t.Errorf("Status = %q", a.Status)
	}
}

func TestOfflineCancelAfterSucceeded(t *testing.T) {
	t.Parallel()
	o := payments.NewOffline()
	id := payments.OfflineIntentID("co_paid")
	if err := o.CancelIntent(context.Background(), id, "k1"); err != nil {
		t.Fatalf("cancel before success: %v", err)
	}
	o.MarkSucceeded(id)
	if err := o.CancelIntent(context.Background(), id, "k2"); !errors.Is(err, payments.ErrAlreadySucceeded) {
		t.Fatalf("cancel after MarkSucceeded: %v, want ErrAlreadySucceeded", err)
	}
	var zero payments.Offline // the zero value works too
	zero.MarkSucceeded(id)
	if err := zero.CancelIntent(context.Background(), id, "k3"); !errors.Is(err, payments.ErrAlreadySucceeded) {
		t.Fatalf("zero Offline: %v", err)
	}
}

func TestOfflineConcurrent(t *testing.T) {
	t.Parallel()
	o := payments.NewOffline()
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			co := fmt.Sprintf("co_%d", i%10)
			in, err := o.CreateIntent(ctx, payments.IntentRequest{CheckoutID: co, PaymentID: "p", Amount: money.Money{Amount: 1, Currency: "EUR"}})
			if err != nil {
				t.Error(err)
				return
			}
			if i%2 == 0 {
				o.MarkSucceeded(in.ProviderID)
			}
			err = o.CancelIntent(ctx, in.ProviderID, "k")
			if err != nil && !errors.Is(err, payments.ErrAlreadySucceeded) {
				t.Error(err)
			}
			_ = o.Refund(ctx, payments.RefundRequest{ProviderID: in.ProviderID, Amount: money.Money{Amount: 1, Currency: "EUR"}, IdempotencyKey: "r"})
		}()
	}
	wg.Wait()
	for i := 0; i < 10; i += 2 {
		if err := o.CancelIntent(ctx, payments.OfflineIntentID(fmt.Sprintf("co_%d", i)), "k"); !errors.Is(err, payments.ErrAlreadySucceeded) {
			t.Errorf("co_%d: %v, want ErrAlreadySucceeded", i, err)
		}
	}
}

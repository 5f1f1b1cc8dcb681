package main

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestOneTracePerCheckout records spans in memory while a checkout is paid:
// the webhook's request, the payment command and its append, the relay's
// publish, the saga's consumer and the commands it runs, and the
// notifier's consumer all share the webhook request's trace.
func TestOneTracePerCheckout(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev); _ = tp.Shutdown(t.Context()) })

	cfg := testConfig(t)
	cfg.AdminEmail, cfg.AdminPassword = testAdminEmail, testAdminPassword
	srv := MustRun(t, cfg)
	_, shopper, _, _ := shop(t, srv.url, 3)
	var me struct {
		UserID string `json:"user_id"`
	}
	shopper.must(200, "POST", "/api/v1/auth/login", map[string]string{"email": "ann@example.com", "password": "another long Passw0rd"}, &me)
	verify(t, srv, shopper, me.UserID)
	var in intentAnswer
	shopper.must(http.StatusCreated, "POST", "/api/v1/payments/intents", map[string]any{}, &in)
	shopper.must(http.StatusAccepted, "POST", "/api/v1/payments/"+in.PaymentID+"/simulate", map[string]string{"outcome": "succeeded"}, nil)

	want := []string{
		"POST /api/v1/payments/:payment_id/simulate",
		"command payment.MarkSucceeded", "eventstore.append",
		"publish payment.succeeded", "consume checkout-saga payment.succeeded",
		"command checkout.PaymentSucceeded", "publish checkout.paid", "consume checkout-saga checkout.paid",
		"command catalog.CommitReservation", "command order.Place", "command cart.Clear",
		"publish order.placed", "consume notifier order.placed",
	}
	var got []string
	deadline := time.Now().Add(15 * time.Second)
	for {
		var root trace.TraceID
		spans := exp.GetSpans()
		for _, s := range spans {
			if s.Name == want[0] {
				root = s.SpanContext.TraceID()
			}
		}
		got = got[:0]
		for _, s := range spans {
			if root.IsValid() && s.SpanContext.TraceID() == root {
				got = append(got, s.Name)
			}
		}
		missing := false
		for _, w := range want {
			if !slices.Contains(got, w) {
				missing = true
			}
		}
		if !missing {
			break
		}
		if time.Now().After(deadline) {
			for _, w := range want {
				if !slices.Contains(got, w) {
					t.Errorf("the webhook's trace has no %q span", w)
				}
			}
			t.Fatalf("spans in the webhook's trace: %v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("%d spans in the webhook's trace", len(got))
}

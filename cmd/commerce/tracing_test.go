package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// recordSpans installs an in-memory tracer provider for the test.
func recordSpans(t *testing.T) *tracetest.InMemoryExporter {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev); _ = tp.Shutdown(t.Context()) })
	return exp
}

// attr returns span s's attribute key as a string ("" when it has none).
func attr(s tracetest.SpanStub, key string) string {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value.String()
		}
	}
	return ""
}

// TestOneTracePerCheckout records spans in memory while a checkout is paid:
// the webhook's request, the payment command and its append, the relay's
// publish, the saga's consumer and the commands it runs, and the
// notifier's consumer all share the webhook request's trace. The request's
// span is otelgin's, the messaging spans carry OpenTelemetry's messaging
// attributes, and on PostgreSQL and Redis their calls are spans too.
func TestOneTracePerCheckout(t *testing.T) {
	for _, tc := range []struct {
		name       string
		config     func(t *testing.T) (Config, []Option)
		production bool // PostgreSQL events and read models, Redis
	}{
		{"embedded", func(t *testing.T) (Config, []Option) {
			cfg := testConfig(t)
			cfg.AdminEmail, cfg.AdminPassword = testAdminEmail, testAdminPassword
			return cfg, nil
		}, false},
		{"postgres", productionConfig, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp := recordSpans(t)
			cfg, opts := tc.config(t)
			srv := MustRun(t, cfg, opts...)
			testOneTracePerCheckout(t, srv, exp, tc.production)
		})
	}
}

func testOneTracePerCheckout(t *testing.T, srv *running, exp *tracetest.InMemoryExporter, production bool) {
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
	var trail []tracetest.SpanStub // the spans of the webhook's trace
	deadline := time.Now().Add(15 * time.Second)
	for {
		var root trace.TraceID
		spans := exp.GetSpans()
		for _, s := range spans {
			if s.Name == want[0] {
				root = s.SpanContext.TraceID()
			}
		}
		got, trail = got[:0], trail[:0]
		for _, s := range spans {
			if root.IsValid() && s.SpanContext.TraceID() == root {
				got = append(got, s.Name)
				trail = append(trail, s)
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

	var sawPostgres bool
	for _, s := range trail {
		switch {
		case s.Name == want[0]:
			if s.InstrumentationScope.Name != otelgin.ScopeName {
				t.Errorf("the request's span comes from %q, not otelgin", s.InstrumentationScope.Name)
			}
			for key, value := range map[string]string{
				"http.route":                "/api/v1/payments/:payment_id/simulate",
				"url.path":                  "/api/v1/payments/" + in.PaymentID + "/simulate",
				"http.request.method":       "POST",
				"http.response.status_code": "202",
			} {
				if got := attr(s, key); got != value {
					t.Errorf("the request's span has %s %q, want %q", key, got, value)
				}
			}
		case strings.HasPrefix(s.Name, "publish "), strings.HasPrefix(s.Name, "consume "):
			op := "send"
			if strings.HasPrefix(s.Name, "consume ") {
				op = "process"
				if consumer := strings.Fields(s.Name)[1]; attr(s, "messaging.consumer.group.name") != consumer {
					t.Errorf("span %q has messaging.consumer.group.name %q", s.Name, attr(s, "messaging.consumer.group.name"))
				}
			}
			if attr(s, "messaging.system") != "gochannel" || attr(s, "messaging.destination.name") == "" || attr(s, "messaging.operation.type") != op {
				t.Errorf("span %q has messaging.system %q, messaging.destination.name %q, messaging.operation.type %q; want gochannel, a topic, %s",
					s.Name, attr(s, "messaging.system"), attr(s, "messaging.destination.name"), attr(s, "messaging.operation.type"), op)
			}
		case attr(s, "db.system.name") == "postgresql":
			sawPostgres = true
		}
	}
	if production && !sawPostgres {
		t.Errorf("no PostgreSQL span in the webhook's trace: %v", got)
	}
	if production {
		// The login's rate limit is kept in Redis: its calls are spans of
		// the login request.
		var sawRedis bool
		for _, s := range exp.GetSpans() {
			sawRedis = sawRedis || attr(s, "db.system") == "redis" && s.Parent.IsValid()
		}
		if !sawRedis {
			t.Error("no Redis span under a request")
		}
	}
}

package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
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

	// The notifier's line about the confirmation it sent names the trace.
	var notified bool
	sc := bufio.NewScanner(strings.NewReader(srv.logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Msg     string `json:"msg"`
			TraceID string `json:"trace_id"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "notify: sent" && line.TraceID == trail[0].SpanContext.TraceID().String() {
			notified = true
		}
	}
	if !notified {
		t.Error("no \"notify: sent\" log line carries the webhook's trace_id")
	}

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

// TestTracedRequestLogsNameTheirSpan: every line logged for a traced
// request, the access log's and a panic's alike, carries the trace_id and
// span_id of the request's span.
func TestTracedRequestLogsNameTheirSpan(t *testing.T) {
	exp := recordSpans(t)
	srv := MustRun(t, testConfig(t), WithRoutes(func(r gin.IRouter) {
		r.GET("/test/panic", func(*gin.Context) { panic("boom") })
	}))
	if resp, body := get(t, srv.url+"/test/panic"); resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("GET /test/panic: %d %s", resp.StatusCode, body)
	}
	var span tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == "GET /test/panic" {
			span = s
		}
	}
	if !span.SpanContext.IsValid() {
		t.Fatal("no span for GET /test/panic")
	}
	wantTrace, wantSpan := span.SpanContext.TraceID().String(), span.SpanContext.SpanID().String()
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(srv.logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Msg     string `json:"msg"`
			Route   string `json:"route"`
			TraceID string `json:"trace_id"`
			SpanID  string `json:"span_id"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil || line.Route != "/test/panic" {
			continue
		}
		seen[line.Msg] = true
		if line.TraceID != wantTrace || line.SpanID != wantSpan {
			t.Errorf("%q line has trace_id %q span_id %q, want %s %s", line.Msg, line.TraceID, line.SpanID, wantTrace, wantSpan)
		}
	}
	for _, msg := range []string{"http request", "panic in HTTP handler"} {
		if !seen[msg] {
			t.Errorf("no %q line for GET /test/panic in the log:\n%s", msg, srv.logs.String())
		}
	}
}

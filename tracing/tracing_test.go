package tracing_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/commerce-engine/commerce/tracing"
)

// TestTraceParentCarriesTheTrace: a span started from a traceparent read
// out of metadata belongs to the trace that wrote it, and its own
// traceparent names it.
func TestTraceParentCarriesTheTrace(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	defer otel.SetTracerProvider(noop.NewTracerProvider())

	ctx, parent := tracing.Tracer().Start(context.Background(), "command")
	tp1 := tracing.TraceParent(ctx)
	parent.End()
	if tp1 == "" {
		t.Fatal("no traceparent for a recording span")
	}
	if got := tracing.TraceParent(context.Background()); got != "" {
		t.Fatalf("traceparent without a span: %q", got)
	}
	cctx, child := tracing.Start(context.Background(), tp1, "consume", trace.SpanKindConsumer)
	child.End()
	if trace.SpanContextFromContext(cctx).TraceID() != parent.SpanContext().TraceID() {
		t.Fatal("the consumer's span is in another trace")
	}
	if tracing.TraceParent(cctx) == tp1 {
		t.Fatal("the consumer's traceparent names its parent, not itself")
	}
	// A span already in ctx wins over the metadata's traceparent.
	octx, other := tracing.Tracer().Start(context.Background(), "other")
	_, nested := tracing.Start(octx, tp1, "nested", trace.SpanKindInternal)
	nested.End()
	other.End()
	if nested.SpanContext().TraceID() != other.SpanContext().TraceID() {
		t.Fatal("the context's span was not preferred")
	}
	if ctx := tracing.WithTraceParent(context.Background(), "garbage"); trace.SpanContextFromContext(ctx).IsValid() {
		t.Fatal("a bad traceparent gave a span context")
	}
}

// TestSetupExportsToTheEndpoint: with an endpoint, Setup exports spans
// over OTLP/HTTP to its /v1/traces; without one it installs nothing.
func TestSetupExportsToTheEndpoint(t *testing.T) {
	prev := otel.GetTracerProvider()
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	paths := make(chan string, 10)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths <- r.Method + " " + r.URL.Path
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()

	shutdown, err := tracing.Setup(t.Context(), tracing.Config{Service: "commerce", Version: "test", Endpoint: collector.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tracing.Tracer().Start(t.Context(), "exported")
	span.End()
	if err := shutdown(t.Context()); err != nil {
		t.Fatalf("shutdown (flush): %v", err)
	}
	select {
	case got := <-paths:
		if got != "POST /v1/traces" {
			t.Fatalf("the collector got %s", got)
		}
	default:
		t.Fatal("nothing was exported")
	}

	otel.SetTracerProvider(prev)
	shutdown, err = tracing.Setup(t.Context(), tracing.Config{Service: "commerce"})
	if err != nil {
		t.Fatal(err)
	}
	if err := shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if otel.GetTracerProvider() != prev {
		t.Fatal("Setup without an endpoint installed a provider")
	}
}

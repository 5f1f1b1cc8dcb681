// Package tracing sets up OpenTelemetry for the engine and carries trace
// context where HTTP headers cannot: in event metadata, through the log and
// the message bus, so that one checkout's spans (the webhook, the command,
// the append, the relay's publish, each consumer) share one trace.
//
// With an endpoint in Config, spans are exported over OTLP/HTTP; without
// one the global provider stays OpenTelemetry's no-op and tracing costs
// next to nothing.
package tracing

import (
	"context"
	"fmt"
	"strings"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Name is the instrumentation scope of every span the engine starts.
const Name = "github.com/commerce-engine/commerce"

// propagator is the W3C trace context, the format of the traceparent the
// engine writes into event metadata.
var propagator = propagation.TraceContext{}

// Config says what the engine's spans are named after and where they go.
type Config struct {
	// Service and Version name the engine in every exported span.
	Service, Version string
	// Endpoint is the base URL of an OTLP/HTTP collector, e.g.
	// http://127.0.0.1:4318 (spans go to Endpoint + "/v1/traces", as with
	// OpenTelemetry's OTEL_EXPORTER_OTLP_ENDPOINT); empty exports nothing.
	Endpoint string
}

// Setup installs the W3C propagator and, when cfg.Endpoint is set, an
// OTLP/HTTP exporting provider; the returned function flushes and stops it.
// It fails when the exporter or the resource cannot be made.
func Setup(ctx context.Context, cfg Config) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(propagator)
	if cfg.Endpoint == "" {
		return func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(strings.TrimSuffix(cfg.Endpoint, "/")+"/v1/traces"))
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewWithAttributes(semconv.SchemaURL,
		semconv.ServiceName(cfg.Service), semconv.ServiceVersion(cfg.Version)))
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

// Tracer is the engine's tracer from the global provider (tests install an
// in-memory one).
func Tracer() trace.Tracer { return otel.GetTracerProvider().Tracer(Name) }

// TraceParent returns the W3C traceparent of the span in ctx, or "" when
// there is none: what a command writes into its events' metadata.
func TraceParent(ctx context.Context) string {
	carrier := propagation.MapCarrier{}
	propagator.Inject(ctx, carrier)
	return carrier.Get("traceparent")
}

// WithTraceParent returns ctx continuing the trace of a traceparent read
// from event or message metadata (ctx unchanged when it is empty or bad).
func WithTraceParent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return propagator.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}

// HTTP starts a server span per request, named by its route and continuing
// the caller's traceparent header when there is one, and leaves it in the
// request context for the commands the handler runs.
func HTTP() gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := propagator.Extract(c.Request.Context(), propagation.HeaderCarrier(c.Request.Header))
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		ctx, span := Tracer().Start(ctx, c.Request.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", c.Request.Method), attribute.String("http.route", route)))
		defer span.End()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
		span.SetAttributes(attribute.Int("http.response.status_code", c.Writer.Status()))
		if c.Writer.Status() >= 500 {
			span.SetStatus(codes.Error, "server error")
		}
	}
}

// Start begins a span under ctx's span, or under traceparent when ctx has
// none (work resumed from an event or a message).
func Start(ctx context.Context, traceparent, name string, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		ctx = WithTraceParent(ctx, traceparent)
	}
	return Tracer().Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
}

// End records err on span, if any, and ends it.
func End(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

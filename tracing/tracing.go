// Package tracing sets up OpenTelemetry for the engine and carries trace
// context where HTTP headers cannot: in event metadata, through the log and
// the message bus, so that one checkout's spans (the webhook, the command,
// the append, the relay's publish, each consumer) share one trace.
//
// With an endpoint in Config, spans are exported over OTLP/HTTP; without
// one the global provider stays OpenTelemetry's no-op and tracing costs
// next to nothing. HTTP spans come from otelgin (HTTP), PostgreSQL spans
// from otelpgx (set where the pools are made), Redis spans from redisotel
// (set where the clients are made), all with OpenTelemetry's semantic
// attribute names, as the messaging spans (Messaging); LogHandler puts
// trace_id and span_id into every log line written under a span.
package tracing

import (
	"context"
	"fmt"
	"strings"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
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

// HTTP starts a server span per request with otelgin, named by its method
// and route and continuing the caller's traceparent header when there is
// one, and leaves it in the request context for the commands the handler
// runs. Mount it before any middleware that logs, so that their lines carry
// the span too.
func HTTP() gin.HandlerFunc {
	// No server name: server.address comes from the request's Host.
	return otelgin.Middleware("", otelgin.WithPropagators(propagator))
}

// Messaging returns the semantic attributes of a message's span: the
// messaging system ("rabbitmq", or "gochannel" for Watermill's in-process
// channel), the topic and the operation ("send" for a publish, "process"
// for a consumer's handling).
func Messaging(system, topic string, operation attribute.KeyValue) []attribute.KeyValue {
	return []attribute.KeyValue{semconv.MessagingSystemKey.String(system), semconv.MessagingDestinationName(topic), operation}
}

// The messaging operations a span records.
var (
	// Send is a publish's operation.
	Send = semconv.MessagingOperationTypeSend
	// Process is a consumer's handling of a message.
	Process = semconv.MessagingOperationTypeProcess
)

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

// ChildSpans returns a tracer provider over the global one whose tracers
// start a span only under a span, for instrumentation that would otherwise
// make a trace of every call of background work (a projector's Redis
// writes): a traced request's calls become its children, the rest records
// nothing.
func ChildSpans() trace.TracerProvider { return childProvider{} }

// childProvider is the provider ChildSpans returns.
type childProvider struct{ embedded.TracerProvider }

func (childProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return childTracer{name: name, opts: opts}
}

// childTracer starts spans from the global provider, under a span only.
type childTracer struct {
	embedded.Tracer
	name string
	opts []trace.TracerOption
}

func (t childTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, trace.SpanFromContext(ctx) // a no-op span
	}
	return otel.GetTracerProvider().Tracer(t.name, t.opts...).Start(ctx, name, opts...)
}

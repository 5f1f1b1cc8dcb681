package tracing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/commerce-engine/commerce/tracing"
)

// TestLogHandlerNamesTheSpan: a record logged under a span carries its
// trace_id and span_id, one logged without a span carries neither, and
// wrapping twice adds them once.
func TestLogHandlerNamesTheSpan(t *testing.T) {
	var out bytes.Buffer
	h := tracing.LogHandler(tracing.LogHandler(slog.NewJSONHandler(&out, nil)))
	log := slog.New(h).With("part", "test")
	ctx, span := sdktrace.NewTracerProvider().Tracer("test").Start(context.Background(), "request")
	defer span.End()

	log.InfoContext(ctx, "traced")
	var line map[string]any
	if err := json.Unmarshal(out.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line["trace_id"] != span.SpanContext().TraceID().String() || line["span_id"] != span.SpanContext().SpanID().String() || line["part"] != "test" {
		t.Fatalf("traced line: %s", out.String())
	}
	if n := bytes.Count(out.Bytes(), []byte(`"trace_id"`)); n != 1 {
		t.Fatalf("trace_id %d times: %s", n, out.String())
	}

	out.Reset()
	log.Info("untraced")
	if bytes.Contains(out.Bytes(), []byte("trace_id")) || bytes.Contains(out.Bytes(), []byte("span_id")) {
		t.Fatalf("untraced line: %s", out.String())
	}
}

package telemetry

import (
	"context"
	"fmt"
	"os"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// newTracerProvider exports spans over OTLP/HTTP when the standard
// OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT variables name a collector (the
// exporter reads the rest of the OTEL_* settings itself); otherwise
// tracing is off and nil is returned.
func newTracerProvider(ctx context.Context) (*sdktrace.TracerProvider, error) {
	if os.Getenv("OTEL_SDK_DISABLED") == "true" ||
		(os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "") {
		return nil, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName("pgmoat"))),
	), nil
}

// tracer is a door's tracer ("mcp" or "proxy"), or nil when tracing is
// off.
func (o *observers) tracer(door string) trace.Tracer {
	if o == nil || o.traces == nil {
		return nil
	}
	return o.traces.Tracer("github.com/pgmoat/pgmoat/" + door)
}

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

// StartTracing exports spans over OTLP/HTTP when the standard
// OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT variables name a collector (the
// exporter reads the rest of the OTEL_* settings itself); otherwise
// tracing stays off. Shutdown flushes and stops the exporter.
func (o *Observers) StartTracing(ctx context.Context) error {
	if os.Getenv("OTEL_SDK_DISABLED") == "true" ||
		(os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "") {
		return nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return fmt.Errorf("OTLP trace exporter: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName("pgmoat"))),
	)
	o.traces, o.shutdownTraces = tp, tp.Shutdown
	return nil
}

// TraceWith sends spans to tp (tests use a recorder).
func (o *Observers) TraceWith(tp trace.TracerProvider) { o.traces = tp }

// Tracer is a door's tracer ("mcp" or "proxy"), or nil when tracing is
// off.
func (o *Observers) Tracer(door string) trace.Tracer {
	if o == nil || o.traces == nil {
		return nil
	}
	return o.traces.Tracer("github.com/pgmoat/pgmoat/" + door)
}

// Shutdown flushes the last spans and stops the exporter; without
// tracing it does nothing. Safe on a nil *Observers.
func (o *Observers) Shutdown(ctx context.Context) error {
	if o == nil || o.shutdownTraces == nil {
		return nil
	}
	return o.shutdownTraces(ctx)
}

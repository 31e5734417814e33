package telemetry

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestTracingIsOffWithoutAnEndpoint: no OTEL endpoint, no tracer, and
// Shutdown has nothing to flush; a provider given in code names each
// door's tracer.
func TestTracingIsOffWithoutAnEndpoint(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	o := New(nil)
	if err := o.StartTracing(context.Background()); err != nil {
		t.Fatal(err)
	}
	if o.Tracer("mcp") != nil {
		t.Fatal("a tracer without an endpoint")
	}
	if err := o.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	var none *Observers
	if none.Tracer("proxy") != nil || none.Shutdown(context.Background()) != nil {
		t.Fatal("nil observers trace")
	}
	rec := tracetest.NewSpanRecorder()
	o.TraceWith(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	_, span := o.Tracer("proxy").Start(context.Background(), "transaction")
	span.End()
	if got := rec.Ended(); len(got) != 1 || got[0].InstrumentationScope().Name != "github.com/pgmoat/pgmoat/proxy" {
		t.Fatalf("spans: %+v", got)
	}
}

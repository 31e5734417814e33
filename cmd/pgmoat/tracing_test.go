package main

import (
	"context"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/pgmoat/pgmoat/cmd/pgmoat/telemetry"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestToolCallSpanJoinsTheCallersTrace: a traceparent sent in the
// request's _meta becomes the parent of pgmoat's span, so the span links
// back to the LLM trace that made the call.
func TestToolCallSpanJoinsTheCallersTrace(t *testing.T) {
	t.Parallel()
	f := newShopFixture(t)
	recorder := tracetest.NewSpanRecorder()
	obs := telemetry.New(discardLogger())
	obs.TraceWith(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder)))
	st, err := newMCPStack(context.Background(), f.cfg, f.engine, f.pool, discardLogger(), &alice, obs)
	if err != nil {
		t.Fatal(err)
	}
	s := connectStack(t, st)
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := s.cs.CallTool(ctx, &sdk.CallToolParams{
		Meta:      sdk.Meta{"traceparent": "00-" + traceID + "-00f067aa0ba902b7-01"},
		Name:      "query_customers",
		Arguments: map[string]any{"limit": 3, "email": "nobody@freedonia.invalid"},
	})
	if err != nil || res.IsError {
		t.Fatalf("call: %v %+v", err, res)
	}
	spans := recorder.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	span := spans[0]
	if got := span.SpanContext().TraceID().String(); got != traceID {
		t.Errorf("trace id %s, want the caller's %s", got, traceID)
	}
	if got := span.Parent().SpanID().String(); got != "00f067aa0ba902b7" {
		t.Errorf("parent span %s, want the caller's", got)
	}
	attrs := map[string]string{}
	for _, kv := range span.Attributes() {
		attrs[string(kv.Key)] = kv.Value.String()
	}
	if attrs["mcp.tool"] != "query_customers" || attrs["pgmoat.user_id"] != "1" || attrs["pgmoat.rows"] != "0" {
		t.Errorf("span attributes: %v", attrs)
	}
	// The SQL is there, parameterized: the argument's value is not.
	if q := attrs["db.query.text"]; !strings.Contains(q, "$1") || strings.Contains(q, "freedonia") {
		t.Errorf("db.query.text: %q", q)
	}
}

package proxy

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/pgmoat/pgmoat/policy"
)

func TestOneSpanPerTransaction(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	recorder := tracetest.NewSpanRecorder()
	engine, err := policy.New(policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(Config{Engine: engine, Pool: f.pool, Tracer: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder)).Tracer("test"),
		Users: map[string]User{"alice": {Password: "alice", Identity: policy.Identity{UserID: "1"}}}})
	if err != nil {
		t.Fatal(err)
	}
	traced := &proxyFixture{db: f.db, addr: serveOn(t, srv)}
	conn := traced.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	ctx := context.Background()
	for _, sql := range []string{"SELECT 1", "BEGIN", "SELECT 2", "SELECT 3", "COMMIT"} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	spans := recorder.Ended()
	if len(spans) != 2 { // SELECT 1 alone, then BEGIN ... COMMIT
		t.Fatalf("%d spans, want 2", len(spans))
	}
	for _, sp := range spans {
		attrs := map[string]string{}
		for _, kv := range sp.Attributes() {
			attrs[string(kv.Key)] = kv.Value.String()
		}
		if attrs["pgmoat.user_id"] != "1" || attrs["db.user"] != "alice" {
			t.Errorf("span %s attributes: %v", sp.Name(), attrs)
		}
	}
}

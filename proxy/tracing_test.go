package proxy

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/pgmoat/pgmoat/policy"
)

func TestOneSpanPerTransaction(t *testing.T) {
	t.Parallel()
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
	for _, sql := range []string{"SELECT 1", "BEGIN", "SELECT id FROM items WHERE label <> 'secret-label'", "SELECT 3", "COMMIT"} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, "SELECT 1 / (id - id) FROM items"); err == nil {
		t.Fatal("division by zero went through")
	}
	spans := recorder.Ended()
	if len(spans) != 3 { // SELECT 1 alone, then BEGIN ... COMMIT, then the failure
		t.Fatalf("%d spans, want 3", len(spans))
	}
	type event struct {
		query, code string
		rows        int64
	}
	var perSpan [][]event
	for _, sp := range spans {
		attrs := map[string]string{}
		for _, kv := range sp.Attributes() {
			attrs[string(kv.Key)] = kv.Value.String()
		}
		if attrs["pgmoat.user_id"] != "1" || attrs["db.user"] != "alice" {
			t.Errorf("span %s attributes: %v", sp.Name(), attrs)
		}
		var events []event
		for _, ev := range sp.Events() {
			var e event
			for _, kv := range ev.Attributes {
				switch kv.Key {
				case "db.query.text":
					e.query = kv.Value.AsString()
				case "db.response.status_code":
					e.code = kv.Value.AsString()
				case "pgmoat.rows":
					e.rows = kv.Value.AsInt64()
				}
			}
			events = append(events, e)
		}
		perSpan = append(perSpan, events)
	}
	// One event per statement, its SQL scrubbed of values; alice sees her
	// 50 items; the failure carries its SQLSTATE and marks the span.
	if len(perSpan[0]) != 1 || len(perSpan[1]) != 4 || len(perSpan[2]) != 1 {
		t.Fatalf("statement events per span: %+v", perSpan)
	}
	if got := perSpan[1][1]; got.query != "SELECT id FROM items WHERE label <> $1" || got.rows != 50 || got.code != "" {
		t.Errorf("statement event: %+v", got)
	}
	if got := perSpan[2][0]; got.code != "22012" || spans[2].Status().Code != codes.Error {
		t.Errorf("failed statement event: %+v, span status %v", got, spans[2].Status())
	}
}

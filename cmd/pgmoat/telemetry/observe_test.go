package telemetry

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/policy"
)

func TestToolStatsQuantiles(t *testing.T) {
	t.Parallel()
	o := New(nil)
	for i := 1; i <= 100; i++ {
		o.OnCall(mcp.CallRecord{Tool: "query_orders", Duration: time.Duration(i) * time.Millisecond, Rows: 2, IsError: i%10 == 0})
	}
	o.OnCall(mcp.CallRecord{Tool: "query_customers", Duration: time.Millisecond, Rows: 1})
	got := o.ToolStats()
	if len(got) != 2 || got[1].Name != "query_orders" {
		t.Fatalf("snapshot: %+v", got)
	}
	ord := got[1]
	if ord.Calls != 100 || ord.Errors != 10 || ord.P50 != 50*time.Millisecond || ord.P99 != 99*time.Millisecond || ord.RowsPerCall != 2 {
		t.Fatalf("query_orders: %+v", ord)
	}
}

func TestQuantileEdges(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n    int
		q    float64
		want time.Duration
	}{{0, 0.5, 0}, {1, 0.99, 1}, {2, 0.5, 1}, {2, 0.99, 2}, {1000, 0.99, 990}} {
		sorted := make([]time.Duration, tc.n)
		for i := range sorted {
			sorted[i] = time.Duration(i + 1)
		}
		if got := quantile(sorted, tc.q); got != tc.want {
			t.Errorf("quantile(n=%d, %v) = %v, want %v", tc.n, tc.q, got, tc.want)
		}
	}
}

func TestToolCallLogRecord(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	o := New(slog.New(slog.NewJSONHandler(&buf, nil)))
	o.AllowValues([]string{"query_orders.status", "limit"})
	o.OnCall(mcp.CallRecord{Tool: "query_orders", UserID: "2", Duration: 1500 * time.Microsecond, Rows: 7, Truncated: true,
		ShapeCacheHit: true, DenialRule: "statement.kind",
		Arguments: json.RawMessage(`{"customer_id": 42, "status": "paid", "limit": 5}`)})
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"msg": "tool call", "tool": "query_orders", "user_id": "2", "duration_ms": 1.5, "rows": 7.0, "truncated": true, "error": false,
		"shape_cache_hit": true, "result_cache_hit": false, "verdict": "deny", "rule": "statement.kind"}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %v, want %v", k, rec[k], v)
		}
	}
	if id, _ := rec["request_id"].(string); len(id) != 16 {
		t.Errorf("request_id %q", rec["request_id"])
	}
	args, _ := rec["arguments"].(map[string]any)
	if args["customer_id"] != "[redacted]" || args["status"] != "paid" || args["limit"] != 5.0 {
		t.Errorf("arguments: %v (customer_id must be redacted, status and limit opted in)", args)
	}
}

// TestCallRequestID: a client's id is logged as sent, capped; a call
// without one gets a fresh generated id each time.
func TestCallRequestID(t *testing.T) {
	t.Parallel()
	if got := callRequestID(mcp.CallRecord{RequestID: `"abc"`}); got != `"abc"` {
		t.Errorf("client id logged as %q", got)
	}
	long := strings.Repeat("x", 1000)
	if got := callRequestID(mcp.CallRecord{RequestID: long}); got != long[:maxLoggedID] {
		t.Errorf("a long client id is logged with %d bytes, want %d", len(got), maxLoggedID)
	}
	a, b := callRequestID(mcp.CallRecord{}), callRequestID(mcp.CallRecord{})
	if len(a) != 16 || a == b {
		t.Errorf("generated ids %q, %q: want 16 characters, different each call", a, b)
	}
}

// TestMetricsExportCacheCounters: the engine's and the MCP server's
// counters are read at scrape time.
func TestMetricsExportCacheCounters(t *testing.T) {
	t.Parallel()
	o := New(nil)
	engine, err := policy.New(policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o.WatchEngine(engine)
	var stats atomic.Pointer[mcp.Stats]
	stats.Store(&mcp.Stats{ShapeHits: 3, ResultMisses: 2, Reloads: 1})
	o.WatchMCP(func() mcp.Stats { return *stats.Load() })
	engine.Decide(policy.Identity{UserID: "1", Profile: policy.DefaultProfile}, "SELECT 1")
	o.OnCall(mcp.CallRecord{Tool: "query_orders", Duration: time.Millisecond})
	body := scrape(t, o)
	for _, want := range []string{
		`pgmoat_policy_verdict_cache_total{result="miss"} 1`,
		`pgmoat_mcp_shape_cache_total{result="hit"} 3`,
		`pgmoat_mcp_result_cache_total{result="miss"} 2`,
		`pgmoat_schema_reloads_total 1`,
		`pgmoat_mcp_tool_calls_total{result="ok",tool="query_orders"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	stats.Store(&mcp.Stats{ShapeHits: 5})
	if body := scrape(t, o); !strings.Contains(body, `pgmoat_mcp_shape_cache_total{result="hit"} 5`) {
		t.Errorf("a later scrape does not read the counters again")
	}
}

func scrape(t *testing.T, o *Observers) string {
	t.Helper()
	rec := httptest.NewRecorder()
	o.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

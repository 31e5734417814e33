package telemetry

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pgmoat/pgmoat/mcp"
)

func TestToolStatsQuantiles(t *testing.T) {
	o := newObservers(nil)
	for i := 1; i <= 100; i++ {
		o.onCall(mcp.CallRecord{Tool: "query_orders", Duration: time.Duration(i) * time.Millisecond, Rows: 2, IsError: i%10 == 0})
	}
	o.onCall(mcp.CallRecord{Tool: "query_customers", Duration: time.Millisecond, Rows: 1})
	got := o.tools.snapshot()
	if len(got) != 2 || got[1].Name != "query_orders" {
		t.Fatalf("snapshot: %+v", got)
	}
	ord := got[1]
	if ord.Calls != 100 || ord.Errors != 10 || ord.P50 != 50*time.Millisecond || ord.P99 != 99*time.Millisecond || ord.RowsPerCall != 2 {
		t.Fatalf("query_orders: %+v", ord)
	}
}

func TestQuantileEdges(t *testing.T) {
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
	var buf bytes.Buffer
	o := newObservers(slog.New(slog.NewJSONHandler(&buf, nil)))
	o.allowValues([]string{"query_orders.status", "limit"})
	o.onCall(mcp.CallRecord{Tool: "query_orders", UserID: "2", Duration: 1500 * time.Microsecond, Rows: 7, Truncated: true,
		ShapeCacheHit: true, DenialRule: "statement.kind",
		Arguments: map[string]any{"customer_id": 42.0, "status": "paid", "limit": 5.0}})
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

// TestCallRecordsFromRealCalls: the records the MCP server hands to the
// observers say which cache answered and carry the arguments to redact.
func TestCallRecordsFromRealCalls(t *testing.T) {
	f := newShopFixture(t)
	var buf bytes.Buffer
	obs := newObservers(slog.New(slog.NewJSONHandler(&buf, nil)))
	st, err := newMCPStack(t.Context(), f.cfg, f.engine, f.pool, discardLogger(), &alice, obs)
	if err != nil {
		t.Fatal(err)
	}
	s := connectStack(t, st)
	for range 2 {
		s.rows(t, "query_customers", map[string]any{"limit": 2, "email": "nobody@example.com"})
	}
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["msg"] == "tool call" {
			recs = append(recs, rec)
		}
	}
	if len(recs) != 2 || recs[0]["shape_cache_hit"] != false || recs[1]["shape_cache_hit"] != true {
		t.Fatalf("records: %v", recs)
	}
	if strings.Contains(buf.String(), "nobody@example.com") {
		t.Fatalf("an argument value reached the log: %s", buf.String())
	}
}

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

// TestRedactedValuesNeverReachTheLog: whatever shape the arguments take
// (nested, repeated, escaped names, numbers, text the scanner hands to
// encoding/json), a value not opted in is absent from the log line, in
// both log formats, while the names and the opted-in values are there.
func TestRedactedValuesNeverReachTheLog(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t"
	for _, tc := range []struct {
		name, args string
		logged     map[string]any // what "arguments" must hold in the JSON line
	}{
		{"flat", `{"email": "s3cr3t@x", "limit": 5}`, map[string]any{"email": "[redacted]", "limit": 5.0}},
		{"nested", `{"email_in": ["a", {"x": "s3cr3t"}], "limit": 1}`, map[string]any{"email_in": "[redacted]", "limit": 1.0}},
		{"repeated name: the first value is not logged either", `{"limit": "s3cr3t", "limit": 2}`, map[string]any{"limit": 2.0}},
		{"repeated name: an allowed name shadowed", `{"limit": 2, "email": "x", "email": "s3cr3t"}`, map[string]any{"limit": 2.0, "email": "[redacted]"}},
		{"escaped name", `{"em\u0061il": "s3cr3t", "status": "paid"}`, map[string]any{"email": "[redacted]", "status": "paid"}},
		{"escaped value", `{"email": "\u0073\u0033cr3t"}`, map[string]any{"email": "[redacted]"}},
		{"number", `{"customer_id": 733333, "limit": 12345678901234567890}`, map[string]any{"customer_id": "[redacted]", "limit": 12345678901234567890.0}},
		{"invalid UTF-8 goes the slow way", "{\"email\": \"s3cr3t\xff\", \"limit\": 3}", map[string]any{"email": "[redacted]", "limit": 3.0}},
		{"not an object", `["s3cr3t"]`, map[string]any{}},
		{"none", ``, map[string]any{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var jsonBuf, textBuf bytes.Buffer
			for _, h := range []slog.Handler{slog.NewJSONHandler(&jsonBuf, nil), slog.NewTextHandler(&textBuf, nil)} {
				o := New(slog.New(h))
				o.AllowValues([]string{"limit", "query_customers.status"})
				o.OnCall(mcp.CallRecord{Tool: "query_customers", Duration: time.Millisecond, Arguments: json.RawMessage(tc.args)})
			}
			for _, out := range []string{jsonBuf.String(), textBuf.String()} {
				if strings.Contains(out, secret) || strings.Contains(out, "733333") {
					t.Fatalf("a redacted value reached the log: %s", out)
				}
			}
			var rec struct{ Arguments map[string]any }
			if err := json.Unmarshal(jsonBuf.Bytes(), &rec); err != nil {
				t.Fatalf("%v: %s", err, jsonBuf.String())
			}
			if len(rec.Arguments) != len(tc.logged) {
				t.Fatalf("arguments %v, want %v", rec.Arguments, tc.logged)
			}
			for k, v := range tc.logged {
				if rec.Arguments[k] != v {
					t.Fatalf("arguments %v, want %v", rec.Arguments, tc.logged)
				}
			}
		})
	}
}

// BenchmarkOnCall is the per-call record of a typical call, JSON log to
// a discarded writer through NewLogger's attribute redaction.
func BenchmarkOnCall(b *testing.B) {
	o := New(slog.New(slog.NewJSONHandler(discard{}, &slog.HandlerOptions{ReplaceAttr: redactAttr})))
	o.AllowValues([]string{"limit"})
	rec := mcp.CallRecord{Tool: "query_orders", UserID: "7", RequestID: "42", SessionID: "ABCDEFGHIJKLMNOP", Duration: 1500 * time.Microsecond,
		Rows: 50, Truncated: true, ShapeCacheHit: true,
		SQL:       `SELECT t."id", t."status" FROM "public"."orders" AS t WHERE t."customer_id" = ANY($1::"pg_catalog"."int4"[]) ORDER BY t."created_at" DESC, t."id" DESC LIMIT $2::pg_catalog.int8`,
		Arguments: json.RawMessage(`{"customer_id_in":[11,12,13],"order_by":"created_at desc","limit":50,"columns":["id","status","total_amount","created_at"]}`)}
	b.ReportAllocs()
	for b.Loop() {
		o.OnCall(rec)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

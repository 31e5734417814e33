package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/telemetry"
)

// TestCallRecordsFromRealCalls: the records the MCP server hands to the
// observers say which cache answered and carry the arguments to redact.
func TestCallRecordsFromRealCalls(t *testing.T) {
	t.Parallel()
	f := newShopFixture(t)
	var buf bytes.Buffer
	obs := telemetry.New(slog.New(slog.NewJSONHandler(&buf, nil)))
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

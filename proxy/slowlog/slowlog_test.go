package slowlog

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pgmoat/pgmoat/policy"
	"github.com/pgmoat/pgmoat/proxy"
)

func TestSlowStatementsGetPlanAndIndexAdvice(t *testing.T) {
	f := newShopFixture(t)
	x := proxy.NewExecutor(f.pool, f.engine, f.cfg.RLS.Setting)
	always := func(string) time.Duration { return time.Nanosecond }
	var logs bytes.Buffer
	l := &slowLog{x: x, threshold: always, logger: slog.New(slog.NewJSONHandler(&logs, nil))}
	// orders.note has no index on purpose: a filter on it is a sequential scan.
	l.observe(alice, "SELECT id FROM public.orders WHERE note = $1", time.Second)
	l.observeProxied(proxy.SlowQuery{User: "alice", Identity: alice, Kind: policy.KindSelect,
		SQL: "SELECT id FROM public.orders WHERE note = 'gift wrap'", Duration: time.Second}) // interval 0: not rate-limited
	l.observeProxied(proxy.SlowQuery{User: "alice", Identity: alice, SQL: "SELECT 'gift wrap' FROM", Duration: time.Second})
	l.wait()
	got := l.snapshot()
	if len(got) != 3 {
		t.Fatalf("%d slow entries, want 3", len(got))
	}
	// The EXPLAINs run concurrently: find each entry by what it is.
	var unreadable, proxied, fromMCP proxy.SlowStatement
	for _, e := range got {
		switch {
		case e.Source == "mcp":
			fromMCP = e
		case e.SQL == "":
			unreadable = e
		default:
			proxied = e
		}
	}
	for _, e := range []proxy.SlowStatement{proxied, fromMCP} {
		if !strings.Contains(e.Plan, "Seq Scan on orders") || e.Advice != "CREATE INDEX ON public.orders (note)" || e.UserID != "1" {
			t.Fatalf("slow entry: %+v", e)
		}
	}
	if fromMCP.Source != "mcp" || proxied.Source != "proxy" || proxied.SQL != "SELECT id FROM public.orders WHERE note = $1" {
		t.Fatalf("entries: %+v / %+v", proxied, fromMCP)
	}
	if unreadable.SQL != "" || !strings.HasPrefix(unreadable.Plan, "plan unavailable") {
		t.Fatalf("a text that cannot be normalized: %+v", unreadable)
	}

	// The log carries the whole plan, as JSON, and no value anywhere.
	var records []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		records = append(records, rec)
	}
	if len(records) != 3 {
		t.Fatalf("%d log records, want 3:\n%s", len(records), logs.String())
	}
	if strings.Contains(logs.String(), "gift wrap") {
		t.Fatalf("a value reached the log:\n%s", logs.String())
	}
	var withPlan int
	for _, rec := range records {
		if rec["msg"] != "slow statement" || rec["user_id"] != "1" {
			t.Fatalf("record: %v", rec)
		}
		if plan, ok := rec["plan"].([]any); ok && len(plan) == 1 {
			withPlan++
		}
	}
	if withPlan != 2 {
		t.Fatalf("%d records carry a JSON plan, want 2:\n%s", withPlan, logs.String())
	}

	limited := &slowLog{x: x, interval: time.Hour, threshold: always}
	for range 3 {
		limited.observe(alice, "SELECT id FROM public.orders WHERE note = $1", time.Second)
		limited.observeProxied(proxy.SlowQuery{Identity: alice, SQL: "SELECT 1", Duration: time.Second})
	}
	limited.wait()
	if n := len(limited.snapshot()); n != 1 {
		t.Fatalf("rate limit let %d EXPLAINs through, want 1", n)
	}
	fast := &slowLog{x: x, threshold: engineThresholds(f.engine)}
	fast.observe(alice, "SELECT 1", time.Millisecond) // under the 500 ms default
	fast.wait()
	if n := len(fast.snapshot()); n != 0 {
		t.Fatalf("a fast statement was logged as slow")
	}
}

func TestSummarizePlan(t *testing.T) {
	plan := `[{"Plan": {"Node Type": "Limit", "Total Cost": 12.4, "Plan Rows": 10, "Plans": [
		{"Node Type": "Seq Scan", "Relation Name": "tickets", "Schema": "support", "Filter": "(tickets.priority = $1)", "Total Cost": 12, "Plan Rows": 10}]}}]`
	summary, advice := summarizePlan(plan)
	if summary != "Limit > Seq Scan on tickets (cost 12, rows 10)" {
		t.Errorf("summary = %q", summary)
	}
	if advice != "CREATE INDEX ON support.tickets (priority)" {
		t.Errorf("advice = %q", advice)
	}
	if s, a := summarizePlan("not json"); s != "" || a != "" {
		t.Errorf("garbage plan: %q %q", s, a)
	}
}

// TestSlowPlansOfTextsWithLiterals: a psql text's literals become $n
// placeholders typed as the literals were, so the plan is captured where
// unknown types would not resolve (generate_series(unknown, unknown)).
func TestSlowPlansOfTextsWithLiterals(t *testing.T) {
	f := newShopFixture(t)
	x := proxy.NewExecutor(f.pool, f.engine, f.cfg.RLS.Setting)
	l := &slowLog{x: x, threshold: func(string) time.Duration { return time.Nanosecond }}
	for _, sql := range []string{
		"SELECT * FROM generate_series(1, 10)",
		"SELECT g FROM generate_series(1, 100) g WHERE g % 7 = 0",
		"SELECT id FROM public.orders WHERE id > 5 AND note = 'gift wrap' AND total_amount > 10.5",
	} {
		l.observeProxied(proxy.SlowQuery{User: "alice", Identity: alice, Kind: policy.KindSelect, SQL: sql, Duration: time.Second})
	}
	// An extended-protocol text: the client typed $1, a literal is $2.
	l.observeProxied(proxy.SlowQuery{User: "alice", Identity: alice, Kind: policy.KindSelect,
		SQL: "SELECT * FROM generate_series($1, 3)", ParamOIDs: []uint32{23}, Duration: time.Second})
	l.wait()
	got := l.snapshot()
	if len(got) != 4 {
		t.Fatalf("%d slow entries, want 4", len(got))
	}
	for _, e := range got {
		if strings.HasPrefix(e.Plan, "plan unavailable") || e.Plan == "" || strings.Contains(e.SQL, "gift") {
			t.Errorf("%s: plan %q", e.SQL, e.Plan)
		}
	}
}

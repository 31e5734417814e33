package main

import (
	"strings"
	"testing"
	"time"

	"github.com/pgmoat/pgmoat/proxy"
)

func TestSlowStatementsGetPlanAndIndexAdvice(t *testing.T) {
	f := newShopFixture(t)
	x := proxy.NewExecutor(f.pool, f.engine, f.cfg.RLS.Setting)
	l := &slowLog{x: x, thresholds: map[string]time.Duration{"readonly": time.Nanosecond}}
	// orders.note has no index on purpose: a filter on it is a sequential scan.
	l.observe(alice, "SELECT id FROM public.orders WHERE note = $1", []any{"gift wrap"}, time.Second)
	l.observe(alice, "SELECT id FROM public.orders WHERE note = $1", []any{"again"}, time.Second) // interval 0: not rate-limited
	l.wait()
	got := l.snapshot()
	if len(got) != 2 {
		t.Fatalf("%d slow entries, want 2", len(got))
	}
	e := got[0]
	if !strings.Contains(e.Plan, "Seq Scan on orders") || e.Advice != "CREATE INDEX ON public.orders (note)" || e.UserID != "1" {
		t.Fatalf("slow entry: %+v", e)
	}
	if strings.Contains(e.Plan+e.Advice+e.SQL, "gift wrap") {
		t.Fatalf("a parameter value reached the slow log: %+v", e)
	}

	limited := &slowLog{x: x, interval: time.Hour, thresholds: map[string]time.Duration{"readonly": time.Nanosecond}}
	for range 3 {
		limited.observe(alice, "SELECT id FROM public.orders WHERE note = $1", []any{"x"}, time.Second)
	}
	limited.wait()
	if n := len(limited.snapshot()); n != 1 {
		t.Fatalf("rate limit let %d EXPLAINs through, want 1", n)
	}
	fast := &slowLog{x: x}
	fast.observe(alice, "SELECT 1", nil, time.Millisecond) // under the 500 ms default
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

package slowlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgmoat/pgmoat/policy"
	"github.com/pgmoat/pgmoat/proxy"
)

func TestSummarizePlan(t *testing.T) {
	plan := `[{"Plan": {"Node Type": "Limit", "Total Cost": 12.4, "Plan Rows": 10, "Plans": [
		{"Node Type": "Seq Scan", "Relation Name": "tickets", "Schema": "support", "Filter": "(tickets.priority = $1)", "Total Cost": 12, "Plan Rows": 10}]}}]`
	summary, advice := SummarizePlan(plan)
	if summary != "Limit > Seq Scan on tickets (cost 12, rows 10)" {
		t.Errorf("summary = %q", summary)
	}
	if advice != "CREATE INDEX ON support.tickets (priority)" {
		t.Errorf("advice = %q", advice)
	}
	if s, a := SummarizePlan("not json"); s != "" || a != "" {
		t.Errorf("garbage plan: %q %q", s, a)
	}
}

// fakeExplainer answers EXPLAIN with a sequential scan of public.orders
// filtered on note, and remembers what it was asked.
type fakeExplainer struct {
	mu    sync.Mutex
	asked []explained
	fail  error
	// gate, when set, holds every EXPLAIN until it is closed.
	gate chan struct{}
}

type explained struct {
	id   policy.Identity
	sql  string
	oids []uint32
}

const seqScanPlan = `[{"Plan": {"Node Type": "Seq Scan", "Relation Name": "orders", "Schema": "public",
	"Filter": "(orders.note = $1)", "Total Cost": 42, "Plan Rows": 3}}]`

func (f *fakeExplainer) ExplainGeneric(_ context.Context, id policy.Identity, sql string, oids []uint32) (string, error) {
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, explained{id, sql, oids})
	if f.fail != nil {
		return "", f.fail
	}
	return seqScanPlan, nil
}

var alice = policy.Identity{UserID: "1", Profile: "readonly"}

func always(string) time.Duration { return time.Nanosecond }

func logRecords(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var records []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(logs), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		records = append(records, rec)
	}
	return records
}

// TestLogExplainsWithoutValues: both doors' slow statements are explained
// as their generic plan, the proxy's text with its literals as typed $n,
// and neither SHOW SLOW nor the log carries a value.
func TestLogExplainsWithoutValues(t *testing.T) {
	t.Parallel()
	x := &fakeExplainer{}
	var logs bytes.Buffer
	l := New(Options{Explainer: x, Threshold: always, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	l.Observe(alice, "SELECT id FROM public.orders WHERE note = $1", time.Second)
	l.ObserveProxied(proxy.SlowQuery{User: "alice", Identity: alice, Kind: policy.KindSelect,
		SQL: "SELECT id FROM public.orders WHERE note = 'gift wrap' AND id > $1", ParamOIDs: []uint32{20}, Duration: time.Second})
	l.ObserveProxied(proxy.SlowQuery{User: "alice", Identity: alice, SQL: "SELECT 'gift wrap' FROM", Duration: time.Second})
	l.Close()
	got := l.Snapshot()
	if len(got) != 3 {
		t.Fatalf("%d slow entries, want 3", len(got))
	}
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
		if e.Plan != "Seq Scan on orders (cost 42, rows 3)" || e.Advice != "CREATE INDEX ON public.orders (note)" || e.UserID != "1" {
			t.Errorf("slow entry: %+v", e)
		}
	}
	if proxied.Source != "proxy" || proxied.SQL != "SELECT id FROM public.orders WHERE note = $2 AND id > $1" {
		t.Errorf("proxied entry: %+v", proxied)
	}
	if unreadable.SQL != "" || !strings.HasPrefix(unreadable.Plan, "plan unavailable") {
		t.Errorf("a text that cannot be normalized: %+v", unreadable)
	}
	if len(x.asked) != 2 {
		t.Fatalf("%d EXPLAINs, want 2 (the unreadable text is never sent): %+v", len(x.asked), x.asked)
	}
	for _, a := range x.asked {
		if a.id != alice {
			t.Errorf("EXPLAIN as %+v, want the statement's identity", a.id)
		}
		if strings.HasPrefix(a.sql, "SELECT id FROM public.orders WHERE note = $2") && (len(a.oids) != 2 || a.oids[0] != 20 || a.oids[1] != 0) {
			t.Errorf("parameter types %v: want the client's int8 for $1 and, for $2, unknown as its quoted literal was", a.oids)
		}
	}
	records := logRecords(t, logs.String())
	if len(records) != 3 || strings.Contains(logs.String(), "gift wrap") {
		t.Fatalf("log (3 records, no value):\n%s", logs.String())
	}
	var withPlan int
	for _, rec := range records {
		if rec["msg"] != "slow statement" || rec["user_id"] != "1" {
			t.Errorf("record: %v", rec)
		}
		if plan, ok := rec["plan"].([]any); ok && len(plan) == 1 {
			withPlan++
		}
	}
	if withPlan != 2 {
		t.Errorf("%d records carry a JSON plan, want 2:\n%s", withPlan, logs.String())
	}
}

func TestLogRateLimitAndThreshold(t *testing.T) {
	t.Parallel()
	x := &fakeExplainer{}
	limited := New(Options{Explainer: x, Interval: time.Hour, Threshold: always})
	for range 3 {
		limited.Observe(alice, "SELECT 1", time.Second)
		limited.ObserveProxied(proxy.SlowQuery{Identity: alice, SQL: "SELECT 1", Duration: time.Second})
	}
	limited.Close()
	if n := len(limited.Snapshot()); n != 1 {
		t.Errorf("rate limit let %d EXPLAINs through, want 1", n)
	}
	for _, tc := range []struct {
		name      string
		threshold func(string) time.Duration
		d         time.Duration
		want      int
	}{
		{"no threshold: the policy default", nil, policy.DefaultSlowThreshold - time.Millisecond, 0},
		{"at the policy default", nil, policy.DefaultSlowThreshold, 1},
		{"a profile's zero: the default", func(string) time.Duration { return 0 }, time.Millisecond, 0},
		{"the profile's own", func(p string) time.Duration { return map[string]time.Duration{"readonly": time.Millisecond}[p] }, time.Millisecond, 1},
	} {
		l := New(Options{Explainer: x, Threshold: tc.threshold})
		l.Observe(alice, "SELECT 1", tc.d)
		l.Close()
		if n := len(l.Snapshot()); n != tc.want {
			t.Errorf("%s: %d entries, want %d", tc.name, n, tc.want)
		}
	}
}

// TestLogCloseWaitsForExplains: Close returns only after EXPLAINs in
// flight ended (the pool closes next), and admits none after it.
func TestLogCloseWaitsForExplains(t *testing.T) {
	t.Parallel()
	x := &fakeExplainer{gate: make(chan struct{})}
	l := New(Options{Explainer: x, Threshold: always})
	l.Observe(alice, "SELECT 1", time.Second)
	closed := make(chan struct{})
	go func() { l.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while an EXPLAIN was running")
	case <-time.After(50 * time.Millisecond):
	}
	close(x.gate)
	<-closed
	l.Observe(alice, "SELECT 2", time.Second)
	if n := len(l.Snapshot()); n != 1 {
		t.Fatalf("%d entries after Close, want the 1 from before", n)
	}
}

// TestLogKeepsFailedExplains: an EXPLAIN the server refuses still makes
// an entry, saying why there is no plan.
func TestLogKeepsFailedExplains(t *testing.T) {
	t.Parallel()
	l := New(Options{Explainer: &fakeExplainer{fail: errors.New("permission denied")}, Threshold: always})
	l.Observe(alice, "SELECT 1", time.Second)
	l.Close()
	got := l.Snapshot()
	if len(got) != 1 || got[0].Plan != "plan unavailable: permission denied" || got[0].Advice != "" {
		t.Fatalf("entries: %+v", got)
	}
}

func TestNilLog(t *testing.T) {
	t.Parallel()
	var l *Log
	l.Observe(alice, "SELECT 1", time.Hour)
	l.ObserveProxied(proxy.SlowQuery{SQL: "SELECT 1", Duration: time.Hour})
	l.Close()
	if l.Snapshot() != nil {
		t.Fatal("a nil log has entries")
	}
}

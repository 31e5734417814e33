package main

import (
	"strings"
	"testing"
	"time"

	"github.com/pgmoat/pgmoat/policy"
	"github.com/pgmoat/pgmoat/proxy"
	"github.com/pgmoat/pgmoat/proxy/slowlog"
)

// TestSlowStatementsGetPlanAndIndexAdvice: the real server's plan of a
// filter on an unindexed column, from either door, names the index that
// would help; a fast statement is not explained.
func TestSlowStatementsGetPlanAndIndexAdvice(t *testing.T) {
	t.Parallel()
	f := newShopFixture(t)
	x := proxy.NewExecutor(f.pool, f.engine, f.cfg.RLS.Setting)
	l := slowlog.New(slowlog.Options{Explainer: x, Threshold: func(string) time.Duration { return time.Nanosecond }})
	// orders.note has no index on purpose: a filter on it is a sequential scan.
	l.Observe(alice, "SELECT id FROM public.orders WHERE note = $1", time.Second)
	l.ObserveProxied(proxy.SlowQuery{User: "alice", Identity: alice, Kind: policy.KindSelect,
		SQL: "SELECT id FROM public.orders WHERE note = 'gift wrap'", Duration: time.Second})
	l.Close()
	got := l.Snapshot()
	if len(got) != 2 {
		t.Fatalf("%d slow entries, want 2", len(got))
	}
	for _, e := range got {
		if !strings.Contains(e.Plan, "Seq Scan on orders") || e.Advice != "CREATE INDEX ON public.orders (note)" || e.UserID != "1" {
			t.Errorf("slow entry: %+v", e)
		}
	}
	fast := slowlog.New(slowlog.Options{Explainer: x, Threshold: slowlog.EngineThresholds(f.engine)})
	fast.Observe(alice, "SELECT 1", time.Millisecond) // under the 500 ms default
	fast.Close()
	if n := len(fast.Snapshot()); n != 0 {
		t.Fatalf("a fast statement was logged as slow")
	}
}

// TestSlowPlansOfTextsWithLiterals: a psql text's literals become $n
// placeholders typed as the literals were, so the plan is captured where
// unknown types would not resolve (generate_series(unknown, unknown)).
func TestSlowPlansOfTextsWithLiterals(t *testing.T) {
	t.Parallel()
	f := newShopFixture(t)
	x := proxy.NewExecutor(f.pool, f.engine, f.cfg.RLS.Setting)
	l := slowlog.New(slowlog.Options{Explainer: x, Threshold: func(string) time.Duration { return time.Nanosecond }})
	for _, sql := range []string{
		"SELECT * FROM generate_series(1, 10)",
		"SELECT g FROM generate_series(1, 100) g WHERE g % 7 = 0",
		"SELECT id FROM public.orders WHERE id > 5 AND note = 'gift wrap' AND total_amount > 10.5",
	} {
		l.ObserveProxied(proxy.SlowQuery{User: "alice", Identity: alice, Kind: policy.KindSelect, SQL: sql, Duration: time.Second})
	}
	// An extended-protocol text: the client typed $1, a literal is $2.
	l.ObserveProxied(proxy.SlowQuery{User: "alice", Identity: alice, Kind: policy.KindSelect,
		SQL: "SELECT * FROM generate_series($1, 3)", ParamOIDs: []uint32{23}, Duration: time.Second})
	l.Close()
	got := l.Snapshot()
	if len(got) != 4 {
		t.Fatalf("%d slow entries, want 4", len(got))
	}
	for _, e := range got {
		if strings.HasPrefix(e.Plan, "plan unavailable") || e.Plan == "" || strings.Contains(e.SQL, "gift") {
			t.Errorf("%s: plan %q", e.SQL, e.Plan)
		}
	}
}

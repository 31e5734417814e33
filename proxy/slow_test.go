package proxy

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmoat/pgmoat/policy"
)

// slowRecorder collects what the OnSlow hook hears.
type slowRecorder struct {
	mu  sync.Mutex
	got []SlowQuery
}

func (r *slowRecorder) hook(q SlowQuery) {
	r.mu.Lock()
	r.got = append(r.got, q)
	r.mu.Unlock()
}

func (r *slowRecorder) take() []SlowQuery {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.got
	r.got = nil
	return out
}

func TestSlowStatementsReachTheHookWithTheirOwnText(t *testing.T) {
	t.Parallel()
	rec := &slowRecorder{}
	f := newFixture(t, fixtureOptions{slowThreshold: time.Nanosecond, onSlow: rec.hook})
	ctx := context.Background()

	simple := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	if _, err := simple.Exec(ctx, `SELECT label FROM items WHERE label = 'item 5'`); err != nil {
		t.Fatal(err)
	}
	if _, err := simple.Exec(ctx, `BEGIN; COMMIT`); err == nil {
		t.Fatal("a multi-statement text went through the readonly profile")
	}
	got := rec.take()
	if len(got) != 1 || got[0].SQL != `SELECT label FROM items WHERE label = 'item 5'` || got[0].User != "alice" ||
		got[0].Identity.UserID != "1" || got[0].Kind != policy.KindSelect || got[0].Duration <= 0 {
		t.Fatalf("simple protocol: %+v", got)
	}

	// A prepared statement's later batches (Bind/Execute/Sync, no Parse)
	// are reported under its own text, not the last one parsed.
	prepared := f.connect(t, "bob", pgx.QueryExecModeCacheStatement)
	const first = `SELECT label FROM items WHERE id = $1`
	const second = `SELECT count(*) FROM items WHERE owner = $1`
	for _, q := range []string{first, second, first} {
		rows, err := prepared.Query(ctx, q, 2)
		if err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if rows.Err() != nil {
			t.Fatal(rows.Err())
		}
	}
	got = rec.take()
	var texts []string
	for _, q := range got {
		texts = append(texts, q.SQL)
		if q.User != "bob" {
			t.Fatalf("extended protocol: %+v", q)
		}
	}
	if len(texts) < 3 || texts[len(texts)-1] != first || texts[len(texts)-2] != second {
		t.Fatalf("extended protocol texts: %q", texts)
	}
}

func TestFastStatementsAreNotSlow(t *testing.T) {
	t.Parallel()
	rec := &slowRecorder{}
	f := newFixture(t, fixtureOptions{slowThreshold: time.Hour, onSlow: rec.hook})
	conn := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	if _, err := conn.Exec(context.Background(), `SELECT 1`); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("fast statement reported slow: %+v", got)
	}
}

func TestExplainGenericShowsNoValues(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	x := NewExecutor(f.pool, f.server.engine, "")
	ctx := context.Background()
	alice := policy.Identity{UserID: "1", Profile: "readonly"}

	normalized := policy.Normalize(`SELECT label FROM public.items WHERE label = 'item 5' AND owner = 1`)
	plan, err := x.ExplainGeneric(ctx, alice, normalized, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"Node Type": "Seq Scan"`, `"Relation Name": "items"`, `$1`, `$2`} {
		if !strings.Contains(plan, want) {
			t.Fatalf("plan lacks %s:\n%s", want, plan)
		}
	}
	if strings.Contains(plan, "item 5") {
		t.Fatalf("a value reached the plan:\n%s", plan)
	}

	// Given types are used as given.
	if _, err := x.ExplainGeneric(ctx, alice, `SELECT label FROM public.items WHERE id = $1`, []uint32{23}); err != nil {
		t.Fatal(err)
	}

	// Policy judges the text like any other.
	_, err = x.ExplainGeneric(ctx, alice, `SELECT pg_catalog.pg_read_file($1)`, nil)
	var pe *policy.Error
	if !errors.As(err, &pe) {
		t.Fatalf("pg_read_file: got %v, want a policy denial", err)
	}

	// A statement the server rejects leaves the one backend usable.
	_, err = x.ExplainGeneric(ctx, alice, `SELECT nope FROM public.items WHERE id = $1`, nil)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42703" {
		t.Fatalf("unknown column: got %v", err)
	}
	for range 2 {
		if _, err := x.ExplainGeneric(ctx, alice, `SELECT id FROM public.items WHERE owner = $1`, nil); err != nil {
			t.Fatalf("after a failed explain: %v", err)
		}
	}
	res, err := x.Query(ctx, alice, `SELECT count(*) FROM public.items`)
	if err != nil || res.Rows[0][0].(int64) != 50 {
		t.Fatalf("backend after explains: %v %v (RLS must still hold)", res, err)
	}
	if st := f.pool.Stats(); st.Closed != 0 || st.Open != 1 {
		t.Fatalf("pool stats after explains: %+v (a backend was replaced)", st)
	}
}

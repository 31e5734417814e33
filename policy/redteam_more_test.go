package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// explainRLSSchema has a table with row-level security holding one
// identity's rows and another's (bob's, user 2, all one secret value),
// a security_invoker view over it (the reader's policies apply), a SQL
// function reading it (which the planner inlines), and a table without
// row-level security. ANALYZE gives the planner the
// statistics of every row, whoever may read it.
const explainRLSSchema = `
CREATE TABLE notes (owner int, secret text);
INSERT INTO notes SELECT 1, 'alice-' || (g % 10) FROM generate_series(1, 5000) g;
INSERT INTO notes SELECT 2, 'bob-salary-91000' FROM generate_series(1, 3000) g;
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON notes USING (owner = current_setting('request.user_id')::int);
CREATE VIEW my_notes WITH (security_invoker) AS SELECT * FROM notes;
CREATE FUNCTION notes_with(s text) RETURNS SETOF notes LANGUAGE sql STABLE AS 'SELECT * FROM notes WHERE secret = s';
CREATE TABLE plain (v text);
INSERT INTO plain VALUES ('x');
ANALYZE notes, plain;
CREATE ROLE explain_reader LOGIN PASSWORD 'explain';
GRANT SELECT ON notes, my_notes, plain TO explain_reader;
`

// planRows is the planner's row estimate for sql, as EXPLAIN shows it.
func planRows(t *testing.T, conn *pgx.Conn, sql string) float64 {
	t.Helper()
	var out []byte
	if err := conn.QueryRow(context.Background(), "EXPLAIN (FORMAT JSON) "+sql).Scan(&out); err != nil {
		t.Fatal(err)
	}
	var plan []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		}
	}
	if err := json.Unmarshal(out, &plan); err != nil || len(plan) != 1 {
		t.Fatalf("EXPLAIN output %s: %v", out, err)
	}
	return plan[0].Plan.Rows
}

// TestRedteamExplainEstimatesPastRowSecurity: the planner estimates a
// condition on a table with row-level security from the table's
// statistics (the most common values and histogram of every identity's
// rows: PostgreSQL uses them for leakproof operators such as = and <),
// so a plain EXPLAIN tells alice, who reads none of bob's rows, that
// 'bob-salary-91000' is a common value and how common, and a binary
// search with < reads histogram bounds: what pg_stats, denied as
// sensitive, would show. EXPLAIN of a statement that reads a relation
// with row-level security, a view (whose relations may have it and
// apply the reader's policies) or calls a function outside pg_catalog
// (a SQL function reading one is inlined, its conditions estimated
// alike) is denied online; EXPLAIN elsewhere and the SELECTs themselves
// stay allowed.
func TestRedteamExplainEstimatesPastRowSecurity(t *testing.T) {
	admin, snap, dsnFor := redteamDB(t, explainRLSSchema)
	ctx := context.Background()
	defer func() {
		_, _ = admin.Exec(context.Background(), "DROP OWNED BY explain_reader; DROP ROLE explain_reader")
	}()
	// What is at stake, as the server shows it to alice.
	rc, err := pgx.Connect(ctx, dsnFor("explain_reader", "explain"))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close(ctx)
	if _, err := rc.Exec(ctx, "SET request.user_id = '1'"); err != nil {
		t.Fatal(err)
	}
	var seen int
	if err := rc.QueryRow(ctx, "SELECT count(*) FROM notes WHERE secret = 'bob-salary-91000'").Scan(&seen); err != nil || seen != 0 {
		t.Fatalf("alice reads %d of bob's rows: %v", seen, err)
	}
	for _, q := range []string{"SELECT * FROM notes WHERE secret = '%s'", "SELECT * FROM my_notes WHERE secret = '%s'", "SELECT * FROM notes_with('%s')"} {
		hit := planRows(t, rc, fmt.Sprintf(q, "bob-salary-91000"))
		miss := planRows(t, rc, fmt.Sprintf(q, "bob-salary-00000"))
		if hit < 100*miss {
			t.Fatalf("%s: the estimate for bob's value (%v rows) does not stand out from a made-up one (%v): the attack has no oracle here", q, hit, miss)
		}
	}
	e, err := New(Options{Functions: oracleCatalog{snap}})
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		"EXPLAIN SELECT * FROM notes WHERE secret = 'bob-salary-91000'",
		"EXPLAIN (FORMAT JSON) SELECT 1 FROM public.notes WHERE secret < 'm'",
		"EXPLAIN SELECT * FROM my_notes WHERE secret = 'bob-salary-91000'",
		"EXPLAIN SELECT * FROM plain WHERE EXISTS (SELECT 1 FROM notes n WHERE n.secret = plain.v)",
		"EXPLAIN WITH s AS (SELECT secret FROM notes) SELECT * FROM s WHERE secret = 'x'",
		"EXPLAIN SELECT * FROM plain JOIN LATERAL (SELECT * FROM notes) n ON true",
		"EXPLAIN (ANALYZE false, COSTS true) SELECT * FROM ONLY notes",
		"EXPLAIN SELECT * FROM notes_with('bob-salary-91000')",
		"EXPLAIN SELECT * FROM plain, LATERAL public.notes_with(plain.v) n",
	} {
		wantDenied(t, sql, e.Decide(Identity{}, sql), RuleExplainRowSecurity)
	}
	for _, sql := range []string{
		"EXPLAIN SELECT * FROM plain WHERE v = 'x'",
		"EXPLAIN SELECT * FROM pg_catalog.pg_class WHERE relname = 'notes'",
		"EXPLAIN WITH notes AS (SELECT 1 AS secret) SELECT * FROM notes",
		"EXPLAIN SELECT lower(v), * FROM plain, generate_series(1, 3) g WHERE v = 'x'",
		"SELECT * FROM notes_with('bob-salary-91000')",
		"SELECT * FROM notes WHERE secret = 'bob-salary-91000'",
		"SELECT * FROM my_notes",
	} {
		if v := e.Decide(Identity{}, sql); !v.Allowed {
			t.Errorf("%s: denied by %s: %s", sql, v.Rule, v.Reason)
		}
	}
}

// statsCountSchema has a table with row-level security and an index on
// its email column: 5000 rows of alice's (user 1), and two of bob's
// holding one address.
const statsCountSchema = `
CREATE TABLE people (owner int, email text);
INSERT INTO people SELECT 1, 'a' || g || '@example.com' FROM generate_series(1, 5000) g;
INSERT INTO people VALUES (2, 'bob-secret@example.com'), (2, 'bob-secret@example.com');
CREATE INDEX ON people (email);
ALTER TABLE people ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON people USING (owner = current_setting('request.user_id')::int);
ANALYZE people;
CREATE ROLE stats_reader LOGIN PASSWORD 'stats';
GRANT SELECT ON people TO stats_reader;
`

// TestRedteamScanCountersPastRowSecurity: the cumulative statistics
// count what each scan read before row-level security filtered it. An
// index scan for an address fetches every heap row the index holds for
// it, whoever owns it, so after alice's query (which returns nothing)
// idx_tup_fetch of pg_stat_user_tables, pg_stat_get_tuples_fetched and
// the heap blocks of pg_statio_user_tables tell her how many of bob's
// rows hold the address; a scan count tells her which plan the
// statistics of every row chose. The per-relation scan, tuple and block
// counters are denied; server and database totals stay allowed.
func TestRedteamScanCountersPastRowSecurity(t *testing.T) {
	admin, snap, dsnFor := redteamDB(t, statsCountSchema)
	ctx := context.Background()
	defer func() {
		_, _ = admin.Exec(context.Background(), "DROP OWNED BY stats_reader; DROP ROLE stats_reader")
	}()
	rc, err := pgx.Connect(ctx, dsnFor("stats_reader", "stats"))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close(ctx)
	const fetched = "SELECT idx_tup_fetch FROM pg_stat_user_tables WHERE relname = 'people'"
	var before, seen int64
	if err := rc.QueryRow(ctx, fetched).Scan(&before); err != nil {
		t.Fatal(err)
	}
	// What is at stake, as the server shows it to alice.
	if _, err := rc.Exec(ctx, "SET request.user_id = '1'"); err != nil {
		t.Fatal(err)
	}
	if err := rc.QueryRow(ctx, "SELECT count(*) FROM people WHERE email = 'bob-secret@example.com'").Scan(&seen); err != nil || seen != 0 {
		t.Fatalf("alice reads %d of bob's rows: %v", seen, err)
	}
	if _, err := rc.Exec(ctx, "SELECT pg_stat_force_next_flush()"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for after := before; after-before != 2; {
		if time.Now().After(deadline) {
			t.Fatalf("idx_tup_fetch went from %d to %d: the attack has no oracle here", before, after)
		}
		if err := rc.QueryRow(ctx, fetched).Scan(&after); err != nil {
			t.Fatal(err)
		}
	}
	e, err := New(Options{Functions: oracleCatalog{snap}})
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		fetched,
		"SELECT * FROM pg_catalog.pg_stat_all_tables",
		"SELECT idx_tup_fetch FROM pg_stat_user_indexes",
		"SELECT * FROM pg_stat_all_indexes",
		"SELECT heap_blks_hit FROM pg_statio_user_tables",
		"SELECT * FROM pg_statio_all_tables",
		"SELECT * FROM pg_statio_user_indexes",
		"SELECT * FROM pg_statio_all_indexes",
		"SELECT pg_stat_get_tuples_fetched('people'::regclass)",
		"SELECT pg_stat_get_tuples_returned(c.oid) FROM pg_class c",
		"SELECT pg_stat_get_numscans('people'::regclass)",
		"SELECT pg_stat_get_blocks_hit('people'::regclass)",
		"SELECT pg_catalog.pg_stat_get_blocks_fetched('people'::regclass)",
	} {
		v := e.Decide(Identity{}, sql)
		if v.Allowed || (v.Rule != RuleRelation && v.Rule != RuleFunction) {
			t.Errorf("%s: allowed=%v rule %q (%s), want denied as relation.denied or function.denied", sql, v.Allowed, v.Rule, v.Reason)
		}
	}
	for _, sql := range []string{
		"SELECT * FROM pg_stat_database",
		"SELECT * FROM pg_stat_sys_tables",
		"SELECT pg_stat_get_live_tuples('people'::regclass)",
		"SELECT * FROM pg_stat_bgwriter",
	} {
		if v := e.Decide(Identity{}, sql); !v.Allowed {
			t.Errorf("%s: denied by %s: %s", sql, v.Rule, v.Reason)
		}
	}
}

package policy

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
)

// explainMoreSchema has a table with row-level security (bob's rows all
// one secret value), a partitioned parent and an inheritance parent with
// row-level security, a materialized view, a plain table, and a set-returning SQL function in
// public named like pg_catalog's generate_series but taking text, which
// PostgreSQL picks for a text argument, and the planner inlines.
const explainMoreSchema = `
CREATE TABLE xnotes (owner int, secret text);
INSERT INTO xnotes SELECT 1, 'alice-' || (g % 10) FROM generate_series(1, 5000) g;
INSERT INTO xnotes SELECT 2, 'bob-salary-91000' FROM generate_series(1, 3000) g;
ALTER TABLE xnotes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON xnotes USING (owner = current_setting('request.user_id')::int);
CREATE TABLE xparts (owner int, secret text) PARTITION BY LIST (owner);
CREATE TABLE xparts_1 PARTITION OF xparts FOR VALUES IN (1);
CREATE TABLE xparts_2 PARTITION OF xparts FOR VALUES IN (2);
INSERT INTO xparts SELECT * FROM xnotes;
ALTER TABLE xparts ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON xparts USING (owner = current_setting('request.user_id')::int);
CREATE TABLE xbase (owner int, secret text);
CREATE TABLE xchild () INHERITS (xbase);
INSERT INTO xchild SELECT * FROM xnotes;
ALTER TABLE xbase ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON xbase USING (owner = current_setting('request.user_id')::int);
CREATE MATERIALIZED VIEW xmat AS SELECT 1 AS one;
CREATE TABLE xplain (v text);
INSERT INTO xplain VALUES ('x');
CREATE FUNCTION public.generate_series(s text) RETURNS SETOF xnotes LANGUAGE sql STABLE AS 'SELECT * FROM xnotes WHERE secret = s';
ANALYZE xnotes, xparts, xbase, xchild, xplain;
CREATE ROLE explain_more LOGIN PASSWORD 'explain';
GRANT SELECT ON xnotes, xparts, xbase, xchild, xmat, xplain TO explain_more;
`

// TestRedteamExplainMoreRowSecurity tries to get past explain.row_security
// the planner's estimate of a value in another identity's rows: through
// every construct that reads a relation inside the explained statement,
// EXPLAIN's options, and a function whose name pg_catalog also has.
func TestRedteamExplainMoreRowSecurity(t *testing.T) {
	admin, snap, dsnFor := redteamDB(t, explainMoreSchema)
	ctx := context.Background()
	defer func() {
		_, _ = admin.Exec(context.Background(), "DROP OWNED BY explain_more; DROP ROLE explain_more; DROP FUNCTION public.generate_series(text)")
	}()
	rc, err := pgx.Connect(ctx, dsnFor("explain_more", "explain"))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close(ctx)
	if _, err := rc.Exec(ctx, "SET request.user_id = '1'"); err != nil {
		t.Fatal(err)
	}
	// The overloaded name is an oracle on the server: PostgreSQL picks
	// public.generate_series(text) and inlines its body.
	q := "SELECT * FROM generate_series('%s'::text)"
	if hit, miss := planRows(t, rc, fmt.Sprintf(q, "bob-salary-91000")), planRows(t, rc, fmt.Sprintf(q, "bob-salary-00000")); hit < 100*miss {
		t.Fatalf("%s: the estimate for bob's value (%v rows) does not stand out (%v)", q, hit, miss)
	}
	e, err := New(Options{Functions: oracleCatalog{snap}})
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		// The function PostgreSQL resolves, not the first of the name.
		"EXPLAIN SELECT * FROM generate_series('bob-salary-91000'::text)",
		"EXPLAIN SELECT * FROM ROWS FROM (generate_series('bob-salary-91000'::text)) g",
		"EXPLAIN SELECT (SELECT count(*) FROM generate_series('bob-salary-91000'::text))",
		// Every place a relation is read.
		"EXPLAIN SELECT (SELECT count(*) FROM xnotes WHERE secret = 'bob-salary-91000')",
		"EXPLAIN SELECT v FROM xplain UNION ALL SELECT secret FROM xnotes WHERE secret = 'bob-salary-91000'",
		"EXPLAIN SELECT v FROM xplain INTERSECT SELECT secret FROM xnotes",
		"EXPLAIN (SELECT v FROM xplain) EXCEPT (SELECT secret FROM public.xnotes)",
		"EXPLAIN SELECT * FROM xplain WHERE v IN (SELECT secret FROM xnotes)",
		"EXPLAIN SELECT * FROM xplain WHERE v = ANY (ARRAY(SELECT secret FROM xnotes))",
		"EXPLAIN SELECT lower((SELECT secret FROM xnotes LIMIT 1))",
		"EXPLAIN SELECT * FROM ROWS FROM (generate_series(1, 2)) g, xnotes",
		"EXPLAIN SELECT * FROM xnotes TABLESAMPLE SYSTEM (50) WHERE secret = 'x'",
		"EXPLAIN TABLE xnotes",
		"EXPLAIN SELECT * FROM \"xnotes\" WHERE secret = 'x'",
		"EXPLAIN SELECT * FROM XNOTES",
		"EXPLAIN SELECT * FROM (SELECT * FROM (SELECT * FROM xnotes) a) b",
		"EXPLAIN WITH a AS (SELECT 1), b AS (SELECT * FROM xnotes) SELECT * FROM a, b",
		"EXPLAIN WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r, xnotes WHERE n < 2) SELECT * FROM r",
		"EXPLAIN WITH xnotes AS (SELECT * FROM xnotes WHERE secret = 'bob-salary-91000') SELECT * FROM xnotes",
		"EXPLAIN SELECT * FROM (WITH xnotes AS (SELECT 1) SELECT 1) s, xnotes",
		"EXPLAIN SELECT * FROM xplain p JOIN xnotes n ON n.secret = p.v",
		"EXPLAIN SELECT * FROM xplain p, LATERAL (SELECT * FROM xnotes n WHERE n.secret = p.v) l",
		"EXPLAIN SELECT * FROM xplain WHERE EXISTS (SELECT FROM xnotes WHERE secret < 'm')",
		"EXPLAIN SELECT count(*) FILTER (WHERE EXISTS (SELECT 1 FROM xnotes)) FROM xplain",
		"EXPLAIN SELECT * FROM xplain ORDER BY (SELECT max(secret) FROM xnotes)",
		"EXPLAIN SELECT * FROM xplain GROUP BY v HAVING v > (SELECT min(secret) FROM xnotes)",
		"EXPLAIN SELECT CASE WHEN true THEN (SELECT 1 FROM xnotes LIMIT 1) END",
		// A partitioned parent with row-level security.
		"EXPLAIN SELECT * FROM xparts WHERE secret = 'bob-salary-91000'",
		// An inheritance parent with row-level security, with and without
		// its children.
		"EXPLAIN SELECT * FROM xbase WHERE secret = 'bob-salary-91000'",
		"EXPLAIN SELECT * FROM ONLY xbase",
		// EXPLAIN's options change only how the estimate prints.
		"EXPLAIN (FORMAT YAML) SELECT * FROM xnotes WHERE secret = 'x'",
		"EXPLAIN (FORMAT XML, SETTINGS, COSTS, VERBOSE, BUFFERS, SUMMARY) SELECT * FROM xnotes",
		"EXPLAIN (COSTS false) SELECT * FROM xnotes",
		"EXPLAIN VERBOSE SELECT * FROM xnotes",
		// A parameter instead of the literal, as a Parse of the text sends it.
		"EXPLAIN SELECT * FROM xnotes WHERE secret = $1",
		// With a function of the name in public, an unqualified call may be
		// public's whatever its arguments: refused, not guessed.
		"EXPLAIN SELECT * FROM generate_series(1, 3) g",
	} {
		wantDenied(t, sql, e.Decide(Identity{}, sql), RuleExplainRowSecurity)
	}
	// The shape cache: the same shape judged for an allowed text first.
	for _, pair := range [][2]string{
		{"EXPLAIN SELECT * FROM xplain WHERE v = 'x'", "EXPLAIN SELECT * FROM xnotes WHERE v = 'x'"},
		{"EXPLAIN SELECT * FROM xplain WHERE v < 'x'", "EXPLAIN SELECT * FROM xnotes WHERE v < 'bob'"},
		{"EXPLAIN SELECT * FROM pg_catalog.generate_series(1, 2)", "EXPLAIN SELECT * FROM public.generate_series('bob-salary-91000')"},
	} {
		if v := e.Decide(Identity{}, pair[0]); !v.Allowed {
			t.Errorf("%s: denied by %s: %s", pair[0], v.Rule, v.Reason)
		}
		wantDenied(t, pair[1], e.Decide(Identity{}, pair[1]), RuleExplainRowSecurity)
	}
	// EXPLAIN of another statement, or in a multi-statement text, is no
	// way around.
	for _, sql := range []string{
		"SELECT 1; EXPLAIN SELECT * FROM xnotes WHERE secret = 'x'",
		"EXPLAIN SELECT 1; EXPLAIN SELECT * FROM xnotes WHERE secret = 'x'",
		"EXPLAIN EXECUTE p('bob-salary-91000')",
		"EXPLAIN DECLARE c CURSOR FOR SELECT * FROM xnotes",
		"EXPLAIN CREATE TABLE t AS SELECT * FROM xnotes",
		// The partition and the child skip their parent's policies.
		"EXPLAIN SELECT * FROM xparts_2",
		"EXPLAIN SELECT * FROM xchild",
	} {
		if v := e.Decide(Identity{}, sql); v.Allowed {
			t.Errorf("%s: allowed", sql)
		}
	}
	// A profile that allows several statements in one text judges each
	// EXPLAIN of them, after an allowed one too.
	multi, err := New(Options{Functions: oracleCatalog{snap}, Profiles: map[string]Profile{"multi": {AllowMultiStatement: true}}})
	if err != nil {
		t.Fatal(err)
	}
	id := Identity{UserID: "1", Profile: "multi"}
	for _, sql := range []string{
		"EXPLAIN SELECT 1; EXPLAIN SELECT * FROM xnotes WHERE secret = 'x'",
		"SELECT 1; EXPLAIN SELECT * FROM xnotes WHERE secret = 'x'",
		"EXPLAIN SELECT * FROM xplain; SELECT * FROM xnotes; EXPLAIN SELECT * FROM xparts",
	} {
		for _, v := range []Verdict{multi.Decide(id, sql), multi.DecideQuery(id, sql)} {
			wantDenied(t, sql, v, RuleExplainRowSecurity)
		}
	}
	for _, sql := range []string{
		"EXPLAIN SELECT * FROM xmat",
		"EXPLAIN SELECT * FROM pg_catalog.generate_series(1, 3) g",
		"EXPLAIN SELECT * FROM xplain WHERE v = (SELECT 'x'::text)",
		"SELECT * FROM xnotes WHERE secret = 'bob-salary-91000'",
	} {
		if v := e.Decide(Identity{}, sql); !v.Allowed {
			t.Errorf("%s: denied by %s: %s", sql, v.Rule, v.Reason)
		}
	}
}

// overloadSchema has volatile functions in public named like stable
// pg_catalog ones but taking other argument types, which PostgreSQL
// picks for those arguments although pg_catalog comes first on the path:
// upper(1) has no implicit cast to upper(text)'s argument, and a row of
// xshadow none to lower(text)'s.
const overloadSchema = `
CREATE TABLE xshadow (v text);
INSERT INTO xshadow VALUES ('x');
CREATE FUNCTION public.upper(i int) RETURNS text VOLATILE LANGUAGE sql AS 'SELECT ''public''';
CREATE FUNCTION public.lower(r xshadow) RETURNS text VOLATILE LANGUAGE sql AS 'SELECT ''public''';
`

// TestRedteamOverloadedNameVolatile: an unqualified call resolves among
// the functions of that name in every schema of the path by argument
// types, so the engine, which does not resolve them, judges every one of
// them: upper(1) and t.lower run public's volatile functions.
func TestRedteamOverloadedNameVolatile(t *testing.T) {
	admin, snap, _ := redteamDB(t, overloadSchema)
	ctx := context.Background()
	var got string
	if err := admin.QueryRow(ctx, "SELECT upper(1) || lower(t) || t.lower FROM xshadow t").Scan(&got); err != nil || got != "publicpublicpublic" {
		t.Fatalf("the server calls %q (%v), want public's functions", got, err)
	}
	e, err := New(Options{Functions: oracleCatalog{snap}})
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		"SELECT upper(1)",
		"SELECT lower(t) FROM xshadow t",
		"SELECT t.lower FROM xshadow t",
		"SELECT (t).lower FROM xshadow t",
		// Which one lower(v) calls takes v's type: refused, not guessed.
		"SELECT lower(v) FROM xshadow t",
	} {
		wantDenied(t, sql, e.Decide(Identity{}, sql), RuleVolatile)
	}
	if v := e.Decide(Identity{}, "SELECT pg_catalog.upper('x'), pg_catalog.lower(v) FROM xshadow"); !v.Allowed {
		t.Errorf("qualified calls denied by %s: %s", v.Rule, v.Reason)
	}
}

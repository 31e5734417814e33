package policy

import (
	"context"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"testing"
)

// implicitOperatorSchema gives public operators between text and integer,
// under the symbols that SQL keywords stand for, each calling a volatile
// function that records its call in a setting. With no pg_catalog
// operator between text and integer, the server picks public's for
// the keyword syntaxes below.
const implicitOperatorSchema = `
CREATE FUNCTION public.hit(a text, b int) RETURNS bool VOLATILE LANGUAGE sql
  AS $$SELECT pg_catalog.set_config('red.hit', 'yes', false) IS NOT NULL$$;
CREATE OPERATOR public.~~ (LEFTARG = text, RIGHTARG = int, FUNCTION = public.hit);
CREATE OPERATOR public.~~* (LEFTARG = text, RIGHTARG = int, FUNCTION = public.hit);
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = int, FUNCTION = public.hit);
CREATE OPERATOR public.<> (LEFTARG = text, RIGHTARG = int, FUNCTION = public.hit);
CREATE OPERATOR public.>= (LEFTARG = text, RIGHTARG = int, FUNCTION = public.hit);
CREATE OPERATOR public.<= (LEFTARG = text, RIGHTARG = int, FUNCTION = public.hit);
CREATE OPERATOR public.> (LEFTARG = text, RIGHTARG = int, FUNCTION = public.hit);
CREATE OPERATOR public.< (LEFTARG = text, RIGHTARG = int, FUNCTION = public.hit);
`

// TestRedteamKeywordOperators: SQL keywords stand for operators resolved
// by name along the search path (LIKE is ~~, ILIKE ~~*, CASE x WHEN y,
// NULLIF, IN, IS DISTINCT FROM and = ANY are =, BETWEEN is >= and <=),
// so each of them runs public's volatile function here, and each must be
// refused as the operator written out is.
func TestRedteamKeywordOperators(t *testing.T) {
	admin, snap, _ := redteamDB(t, implicitOperatorSchema)
	ctx := context.Background()
	e, err := New(Options{Functions: oracleCatalog{snap}})
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		"SELECT 'a'::text ~~ 1",
		"SELECT 'a'::text LIKE 1",
		"SELECT 'a'::text ILIKE 1",
		"SELECT CASE 'a'::text WHEN 1 THEN 1 END",
		"SELECT NULLIF('a'::text, 1)",
		"SELECT 'a'::text IN (1, 2)",
		"SELECT 'a'::text NOT IN (1, 2)",
		"SELECT 'a'::text IS DISTINCT FROM 1",
		"SELECT 'a'::text IS NOT DISTINCT FROM 1",
		"SELECT 'a'::text = ANY (ARRAY[1])",
		"SELECT 'a'::text < ALL (ARRAY[1])",
		"SELECT 'a'::text BETWEEN 1 AND 2",
		"SELECT 'a'::text NOT BETWEEN 1 AND 2",
		"SELECT 'a'::text BETWEEN SYMMETRIC 1 AND 2",
		"SELECT 'a'::text IN (SELECT 1)",
		"SELECT 'a'::text = ANY (SELECT 1)",
		"SELECT ROW('a'::text) = ROW(1)",
		"SELECT NOT ('a'::text = 1)",
	} {
		var hit string
		if _, err := admin.Exec(ctx, "RESET red.hit; "+sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		if err := admin.QueryRow(ctx, "SELECT pg_catalog.current_setting('red.hit', true)").Scan(&hit); err != nil || hit != "yes" {
			t.Errorf("%s: the server did not call public.hit (%q, %v)", sql, hit, err)
		}
		wantDenied(t, sql, e.Decide(Identity{}, sql), RuleVolatile)
	}
}

// fieldCallSchema gives public volatile functions that shadow catalog
// names for argument types the catalog's do not take: lower of a row of
// xs and upper of an integer, each recording its call in a setting.
const fieldCallSchema = `
CREATE TABLE xs (v text);
INSERT INTO xs VALUES ('x');
CREATE FUNCTION public.lower(r xs) RETURNS text VOLATILE LANGUAGE sql
  AS $$SELECT pg_catalog.set_config('red.hit', 'yes', false)$$;
CREATE FUNCTION public.upper(i int) RETURNS text VOLATILE LANGUAGE sql
  AS $$SELECT pg_catalog.set_config('red.hit', 'yes', false)$$;
CREATE TABLE holder (c xs, cs xs[]);
INSERT INTO holder VALUES (ROW('x'), ARRAY[ROW('x')::xs]);
`

// ranPublic fails unless running sql as admin called one of public's
// functions, so every attack below is known to reach the server's
// volatile code.
func ranPublic(t *testing.T, admin interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	QueryRow(context.Context, string, ...any) pgx.Row
}, sql string) bool {
	t.Helper()
	ctx := context.Background()
	if _, err := admin.Exec(ctx, "RESET red.hit; "+sql); err != nil {
		t.Errorf("%s: %v", sql, err)
		return false
	}
	var hit string
	if err := admin.QueryRow(ctx, "SELECT pg_catalog.current_setting('red.hit', true)").Scan(&hit); err != nil || hit != "yes" {
		t.Errorf("%s: the server did not call public's function (%q, %v)", sql, hit, err)
		return false
	}
	return true
}

// TestRedteamFieldCallSyntaxes: a field name after any expression of a
// row type, a subscript or a parenthesised row is a call of the function
// of that name, and every place an expression may stand (FROM, ROWS FROM,
// ORDER BY, DISTINCT ON, ROLLUP, set operations, LIMIT, window clauses)
// and every spelling of the name (U&"", named and variadic arguments)
// reaches it; each must be refused.
func TestRedteamFieldCallSyntaxes(t *testing.T) {
	admin, snap, _ := redteamDB(t, fieldCallSchema)
	e, err := New(Options{Functions: oracleCatalog{snap}})
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		"SELECT (ARRAY[t])[1].lower FROM xs t",
		"SELECT (t.*).lower FROM xs t",
		"SELECT ((t)).lower FROM xs t",
		"SELECT (SELECT t FROM xs t).lower",
		"SELECT (ROW('x')::xs).lower",
		"SELECT ('(x)'::xs).lower",
		"SELECT lower(t.*) FROM xs t",
		"SELECT lower(r => t) FROM xs t",
		"SELECT U&\"l\\006Fwer\"(t) FROM xs t",
		"SELECT * FROM upper(1)",
		"SELECT * FROM ROWS FROM (upper(1))",
		"SELECT 1 FROM xs ORDER BY upper(1)",
		"SELECT DISTINCT ON (upper(1)) 1",
		"SELECT 1 FROM xs GROUP BY ROLLUP (upper(1))",
		"SELECT 1 FROM xs GROUP BY GROUPING SETS ((upper(1)), ())",
		"SELECT 'a' UNION SELECT upper(1)",
		"SELECT 1 LIMIT length(upper(1))",
		"SELECT row_number() OVER (ORDER BY upper(1))",
		"SELECT count(*) FILTER (WHERE upper(1) IS NULL)",
		"SELECT 1 FROM xs t WHERE EXISTS (SELECT 1 WHERE t.lower IS NOT NULL)",
		"SELECT (x).lower FROM (SELECT t FROM xs t) s(x)",
		"WITH w AS MATERIALIZED (SELECT upper(1)) SELECT 1 FROM w",
		"VALUES (upper(1))",
		// A column of the row type and an element of an array of it.
		"SELECT (c).lower FROM holder",
		"SELECT (cs[1]).lower FROM holder",
		"SELECT cs[1].lower FROM holder",
		"SELECT (h.cs)[1].lower FROM holder h",
	} {
		if !ranPublic(t, admin, sql) {
			continue
		}
		wantDenied(t, sql, e.Decide(Identity{}, sql), RuleVolatile)
	}
}

// explainSpellingSchema has a row-level-security table and a public
// set-returning function over it that PostgreSQL inlines into the plan.
const explainSpellingSchema = `
CREATE TABLE ynotes (owner int, secret text);
ALTER TABLE ynotes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON ynotes USING (owner = current_setting('request.user_id')::int);
CREATE TABLE yplain (v text);
CREATE FUNCTION public.generate_series(s text) RETURNS SETOF ynotes LANGUAGE sql STABLE AS 'SELECT * FROM ynotes WHERE secret = s';
`

// TestRedteamExplainSpellings: the relation and the function may be
// spelled with Unicode escapes, quoted, or reached through a parenthesised
// join, a VALUES list or a set operation inside a subquery; each spelling
// is the same object to PostgreSQL and EXPLAIN of it must be refused.
func TestRedteamExplainSpellings(t *testing.T) {
	admin, snap, _ := redteamDB(t, explainSpellingSchema)
	defer func() { _, _ = admin.Exec(context.Background(), "DROP FUNCTION public.generate_series(text)") }()
	e, err := New(Options{Functions: oracleCatalog{snap}})
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		`EXPLAIN SELECT * FROM U&"ynote\0073"`,
		`EXPLAIN SELECT * FROM U&"!0079notes" UESCAPE '!'`,
		`EXPLAIN SELECT * FROM public.U&"ynotes"`,
		`EXPLAIN SELECT * FROM U&"generate\005Fseries"('x'::text)`,
		`EXPLAIN SELECT * FROM "generate_series"('x'::text)`,
		`EXPLAIN SELECT * FROM (yplain JOIN ynotes ON true)`,
		`EXPLAIN SELECT * FROM yplain WHERE v IN (TABLE yplain UNION SELECT secret FROM ynotes)`,
		`EXPLAIN SELECT * FROM (VALUES ((SELECT secret FROM ynotes LIMIT 1))) v(s)`,
		`EXPLAIN SELECT * FROM yplain WHERE v IN (SELECT secret COLLATE "C" FROM ynotes)`,
		`EXPLAIN SELECT DISTINCT ON (secret) secret FROM ynotes`,
		`EXPLAIN SELECT secret FROM ynotes GROUP BY ROLLUP (secret)`,
		`EXPLAIN SELECT row_number() OVER (PARTITION BY secret) FROM ynotes`,
		`EXPLAIN SELECT (ARRAY(SELECT secret FROM ynotes))[1]`,
	} {
		if _, err := admin.Exec(context.Background(), sql); err != nil {
			t.Errorf("%s: the server does not take it: %v", sql, err)
		}
		wantDenied(t, sql, e.Decide(Identity{}, sql), RuleExplainRowSecurity)
	}
}

// aggregateShadowSchema gives public an aggregate named like
// pg_catalog's count, for rows of xa, whose transition function is
// volatile and records its call.
const aggregateShadowSchema = `
CREATE TABLE xa (v text);
INSERT INTO xa VALUES ('x');
CREATE FUNCTION public.xa_step(s int, r xa) RETURNS int VOLATILE LANGUAGE sql
  AS $$SELECT s + length(pg_catalog.set_config('red.hit', 'yes', false))$$;
CREATE AGGREGATE public.count(xa) (SFUNC = public.xa_step, STYPE = int, INITCOND = '0');
`

// TestRedteamShadowAggregateSyntaxes: count(t) over a row of xa is
// public's aggregate, whose volatile transition function runs, in every
// aggregate syntax: as a window function, with FILTER, with ORDER BY in
// the call, in HAVING, ROLLUP and a subquery, and with the argument
// passed as $1 of the row type (the extended protocol's Parse).
func TestRedteamShadowAggregateSyntaxes(t *testing.T) {
	admin, snap, _ := redteamDB(t, aggregateShadowSchema)
	defer func() { _, _ = admin.Exec(context.Background(), "DROP AGGREGATE public.count(xa)") }()
	e, err := New(Options{Functions: oracleCatalog{snap}})
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		"SELECT count(t) FROM xa t",
		"SELECT count(t) OVER () FROM xa t",
		"SELECT count(t) OVER (ORDER BY v ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM xa t",
		"SELECT count(t) OVER w FROM xa t WINDOW w AS (PARTITION BY v)",
		"SELECT count(t) FILTER (WHERE v IS NOT NULL) FROM xa t",
		"SELECT count(t ORDER BY v) FROM xa t",
		"SELECT 1 FROM xa t HAVING count(t) > 0",
		"SELECT v, count(t) FROM xa t GROUP BY ROLLUP (v)",
		"SELECT (SELECT count(t) FROM xa t)",
		"SELECT count(ROW('x')::xa)",
		"SELECT pg_catalog.count(*), count(t) FROM xa t",
	} {
		if !ranPublic(t, admin, sql) {
			continue
		}
		wantDenied(t, sql, e.Decide(Identity{}, sql), RuleVolatile)
	}
	// The row passed as a parameter: the text alone names no type.
	wantDenied(t, "SELECT count($1)", e.Decide(Identity{}, "SELECT count($1)"), RuleVolatile)
	if v := e.Decide(Identity{}, "SELECT pg_catalog.count(*) FROM xa"); !v.Allowed {
		t.Errorf("the qualified catalog aggregate is denied by %s: %s", v.Rule, v.Reason)
	}
}

package policy

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// markerSchema has rtmark, a volatile marker that appends its argument to
// the custom setting redteam.marker, so a test knows whether the server
// ran it.
const markerSchema = `
CREATE FUNCTION public.rtmark(t text) RETURNS int VOLATILE LANGUAGE sql AS $$
  SELECT length(set_config('redteam.marker', coalesce(current_setting('redteam.marker', true), '') || t || ';', false)) * 0 $$;
`

// resolutionSchema has functions PostgreSQL calls on behalf of a name the
// engine sees, chosen by the declaration of what is named or by argument
// types: each ends in rtmark or set_config.
const resolutionSchema = markerSchema + `
CREATE TABLE rtnums (n int);
INSERT INTO rtnums VALUES (1), (2), (3);

-- An aggregate's transition and final functions.
CREATE FUNCTION public.rtsfunc(s int, v int) RETURNS int VOLATILE LANGUAGE sql AS 'SELECT coalesce(s, 0) + v + public.rtmark(''sfunc'')';
CREATE AGGREGATE public.rtagg(int) (sfunc = public.rtsfunc, stype = int);
CREATE FUNCTION public.rtstable(s int, v int) RETURNS int STABLE LANGUAGE sql AS 'SELECT coalesce(s, 0) + v';
CREATE FUNCTION public.rtfinal(s int) RETURNS int VOLATILE LANGUAGE sql AS 'SELECT s + public.rtmark(''finalfunc'')';
CREATE AGGREGATE public.rtfinagg(int) (sfunc = public.rtstable, stype = int, finalfunc = public.rtfinal);
-- A moving aggregate, whose forward and inverse functions a window frame runs.
CREATE FUNCTION public.rtminv(s int, v int) RETURNS int VOLATILE LANGUAGE sql AS 'SELECT s - v + public.rtmark(''minvfunc'')';
CREATE AGGREGATE public.rtmagg(int) (sfunc = public.rtstable, stype = int,
  msfunc = public.rtstable, minvfunc = public.rtminv, mstype = int);

-- Argument defaults, evaluated in the caller's query: one calling the
-- marker, one calling pinned pg_catalog.set_config (in PL/pgSQL, which
-- is never inlined, so the unused default is still evaluated).
CREATE FUNCTION public.rtdef(a int, b int DEFAULT public.rtmark('default')) RETURNS int STABLE LANGUAGE plpgsql AS 'BEGIN RETURN a; END';
CREATE FUNCTION public.rtdefpin(a int, b text DEFAULT pg_catalog.set_config('redteam.marker', 'pinned-default;', false)) RETURNS int IMMUTABLE LANGUAGE plpgsql AS 'BEGIN RETURN a; END';
`

// TestRedteamResolutionOracle tries calls that PostgreSQL makes because of
// what a name is declared as, not the name itself: an aggregate's support
// functions and argument defaults. The
// marker says whether the server ran a volatile function for the
// statement; the engine must not allow any statement that runs one.
func TestRedteamResolutionOracle(t *testing.T) {
	admin, snap, _ := redteamDB(t, resolutionSchema)
	e, err := New(Options{Functions: oracleCatalog{snap}})
	if err != nil {
		t.Fatal(err)
	}
	// Nothing here refuses every SELECT.
	if v := e.Decide(Identity{}, "SELECT n FROM rtnums ORDER BY n"); !v.Allowed {
		t.Fatalf("a plain SELECT is denied by %s: %s", v.Rule, v.Reason)
	}
	for _, c := range []struct{ sql, rule string }{
		{"SELECT rtagg(n) FROM rtnums", RuleVolatile},
		{"SELECT public.rtagg(n) FROM rtnums", RuleVolatile},
		{"SELECT rtfinagg(n) FROM rtnums", RuleVolatile},
		{"SELECT rtmagg(n) OVER (ORDER BY n ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM rtnums", RuleVolatile},
		{"SELECT rtdef(1)", RuleVolatile},
		{"SELECT rtdef(a => 1)", RuleVolatile},
		{"SELECT public.rtdefpin(1)", RuleVolatile},
		{"SELECT rtdefpin(a => 1)", RuleVolatile},
	} {
		if !marks(t, admin, c.sql) {
			t.Errorf("%s: the server ran no marker: the attack does not test what it says", c.sql)
		}
		wantDenied(t, c.sql, e.Decide(Identity{}, c.sql), c.rule)
	}
}

// marks runs sql on conn and reports whether the marker ran.
func marks(t *testing.T, conn *pgx.Conn, sql string) bool {
	t.Helper()
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "SELECT set_config('redteam.marker', '', false)"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	var got string
	if err := conn.QueryRow(ctx, "SELECT current_setting('redteam.marker')").Scan(&got); err != nil {
		t.Fatal(err)
	}
	return got != ""
}

// TestRedteamResolutionHeldOracle: calls PostgreSQL picks by argument
// types or inserts itself, each in a database of its own (one volatile
// operator or type function refuses every SELECT there). The marker says
// the server ran a volatile function; the engine refuses each statement.
func TestRedteamResolutionHeldOracle(t *testing.T) {
	for _, c := range []struct {
		// fn is named by each denial: the function the server ran.
		name, rule, fn, schema string
		sqls                   []string
	}{
		{"an = operator of a user type, used by IN, CASE, NULLIF, IS DISTINCT FROM and ANY", RuleVolatile, "rteqv", `
CREATE TYPE public.rte AS ENUM ('red', 'blue');
CREATE FUNCTION public.rteqv(a rte, b rte) RETURNS bool VOLATILE LANGUAGE sql AS 'SELECT (a::text || public.rtmark(''eq'')) = (b::text || ''0'')';
CREATE OPERATOR public.= (leftarg = rte, rightarg = rte, function = public.rteqv);
CREATE TABLE rtes (c rte);
INSERT INTO rtes VALUES ('red');`, []string{
			"SELECT c FROM rtes WHERE c IN ('red', 'blue')",
			"SELECT CASE c WHEN 'red' THEN 1 END FROM rtes",
			"SELECT NULLIF(c, 'blue') FROM rtes",
			"SELECT c IS DISTINCT FROM 'blue' FROM rtes",
			"SELECT c = ANY (ARRAY['blue'::rte]) FROM rtes",
		}},
		{"an implicit cast with a volatile function, inserted by function resolution", RuleVolatile, "rtcast", `
CREATE TYPE public.rtc AS ENUM ('red');
CREATE FUNCTION public.rtcast(x rtc) RETURNS text VOLATILE LANGUAGE sql AS 'SELECT ''cast'' || public.rtmark(''cast'')';
CREATE CAST (rtc AS text) WITH FUNCTION public.rtcast(rtc) AS IMPLICIT;
CREATE TABLE rtcs (c rtc);
INSERT INTO rtcs VALUES ('red');`, []string{
			"SELECT upper(c) FROM rtcs",
			"SELECT pg_catalog.upper(c) FROM rtcs",
		}},
		{"VARIADIC, named notation and a polymorphic argument pick public's function over pg_catalog's", RuleVolatile, "public.", `
CREATE FUNCTION public.concat(VARIADIC v int[]) RETURNS text VOLATILE LANGUAGE sql AS 'SELECT ''public'' || public.rtmark(''variadic'')';
CREATE FUNCTION public.lower(x int) RETURNS text VOLATILE LANGUAGE sql AS 'SELECT ''public'' || public.rtmark(''named'')';
CREATE FUNCTION public.upper(x anyelement) RETURNS text VOLATILE LANGUAGE sql AS 'SELECT ''public'' || public.rtmark(''polymorphic'')';`, []string{
			"SELECT concat(1, 2)",
			"SELECT concat(VARIADIC ARRAY[1, 2])",
			"SELECT lower(x => 1)",
			"SELECT lower(x := 1)",
			"SELECT upper(1)",
		}},
		{"a user type's default B-tree class whose operators are not named like the comparison operators, with a volatile comparison function that ORDER BY, DISTINCT and GROUP BY run", RuleVolatile, "rtcmp", `
-- An enum whose default B-tree operator class has operators not named
-- like the comparison operators, and a volatile comparison function:
-- ORDER BY, DISTINCT and GROUP BY call it without naming anything.
CREATE TYPE public.rtcolor AS ENUM ('red', 'green', 'blue');
CREATE FUNCTION public.rtlt(a rtcolor, b rtcolor) RETURNS bool IMMUTABLE LANGUAGE sql AS 'SELECT a < b';
CREATE FUNCTION public.rtle(a rtcolor, b rtcolor) RETURNS bool IMMUTABLE LANGUAGE sql AS 'SELECT a <= b';
CREATE FUNCTION public.rteq(a rtcolor, b rtcolor) RETURNS bool IMMUTABLE LANGUAGE sql AS 'SELECT a = b';
CREATE FUNCTION public.rtge(a rtcolor, b rtcolor) RETURNS bool IMMUTABLE LANGUAGE sql AS 'SELECT a >= b';
CREATE FUNCTION public.rtgt(a rtcolor, b rtcolor) RETURNS bool IMMUTABLE LANGUAGE sql AS 'SELECT a > b';
CREATE FUNCTION public.rtcmp(a rtcolor, b rtcolor) RETURNS int VOLATILE LANGUAGE sql AS
  'SELECT public.rtmark(''cmp'') + CASE WHEN a < b THEN -1 WHEN a > b THEN 1 ELSE 0 END';
CREATE OPERATOR public.<<< (leftarg = rtcolor, rightarg = rtcolor, function = public.rtlt);
CREATE OPERATOR public.<<<= (leftarg = rtcolor, rightarg = rtcolor, function = public.rtle);
CREATE OPERATOR public.=== (leftarg = rtcolor, rightarg = rtcolor, function = public.rteq);
CREATE OPERATOR public.>>>= (leftarg = rtcolor, rightarg = rtcolor, function = public.rtge);
CREATE OPERATOR public.>>> (leftarg = rtcolor, rightarg = rtcolor, function = public.rtgt);
CREATE OPERATOR CLASS public.rtcolor_ops DEFAULT FOR TYPE rtcolor USING btree AS
  OPERATOR 1 <<<, OPERATOR 2 <<<=, OPERATOR 3 ===, OPERATOR 4 >>>=, OPERATOR 5 >>>,
  FUNCTION 1 public.rtcmp(rtcolor, rtcolor);
CREATE TABLE rtcolors (c rtcolor);
INSERT INTO rtcolors VALUES ('blue'), ('red'), ('blue');`, []string{
			"SELECT c FROM rtcolors ORDER BY c",
			"SELECT DISTINCT c FROM rtcolors",
			"SELECT c, count(*) FROM rtcolors GROUP BY c",
			"SELECT greatest(c, c) FROM rtcolors",
		}},
		{"a user type's default hash class with a volatile hash function, which a hash aggregate runs", RuleVolatile, "rthhash", `
CREATE TYPE public.rth AS ENUM ('red', 'blue');
CREATE FUNCTION public.rtheq(a rth, b rth) RETURNS bool IMMUTABLE LANGUAGE sql AS 'SELECT a::text = b::text';
CREATE FUNCTION public.rthlt(a rth, b rth) RETURNS bool IMMUTABLE LANGUAGE sql AS 'SELECT a::text < b::text';
CREATE FUNCTION public.rthcmp(a rth, b rth) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT pg_catalog.bttextcmp(a::text, b::text)';
CREATE FUNCTION public.rthhash(a rth) RETURNS int VOLATILE LANGUAGE sql AS 'SELECT pg_catalog.hashtext(a::text) + public.rtmark(''hash'')';
CREATE OPERATOR public.=== (leftarg = rth, rightarg = rth, function = public.rtheq, hashes, merges);
CREATE OPERATOR public.<<< (leftarg = rth, rightarg = rth, function = public.rthlt);
CREATE OPERATOR CLASS public.rth_btree DEFAULT FOR TYPE rth USING btree AS
  OPERATOR 1 <<<, OPERATOR 3 ===, FUNCTION 1 public.rthcmp(rth, rth);
CREATE OPERATOR CLASS public.rth_hash DEFAULT FOR TYPE rth USING hash AS
  OPERATOR 1 ===, FUNCTION 1 public.rthhash(rth);
CREATE TABLE rths (c rth);
INSERT INTO rths VALUES ('red'), ('blue'), ('red');
SET enable_sort = off;`, []string{
			"SELECT c, count(*) FROM rths GROUP BY c",
		}},
		{"an operator's negator, which the planner puts in place of NOT (a op b)", RuleVolatile, "rtnne", `
CREATE TYPE public.rtn AS ENUM ('red', 'blue');
CREATE FUNCTION public.rtneq(a rtn, b rtn) RETURNS bool IMMUTABLE LANGUAGE sql AS 'SELECT a::text = b::text';
CREATE FUNCTION public.rtnne(a rtn, b rtn) RETURNS bool VOLATILE LANGUAGE sql AS 'SELECT (a::text || public.rtmark(''negator'')) <> (b::text || ''0'')';
CREATE OPERATOR public.=== (leftarg = rtn, rightarg = rtn, function = public.rtneq, negator = !==);
CREATE OPERATOR public.!== (leftarg = rtn, rightarg = rtn, function = public.rtnne, negator = ===);
CREATE TABLE rtns (c rtn);
INSERT INTO rtns VALUES ('red');`, []string{
			"SELECT NOT (c === 'blue') FROM rtns",
			"SELECT c FROM rtns WHERE NOT (c === 'blue')",
		}},
		{"an explicit cast from a user type to text with a volatile function", RuleVolatile, "rtxcast", `
CREATE TYPE public.rtx AS ENUM ('red');
CREATE FUNCTION public.rtxcast(x rtx) RETURNS text VOLATILE LANGUAGE sql AS 'SELECT ''cast'' || public.rtmark(''explicit'')';
CREATE CAST (rtx AS text) WITH FUNCTION public.rtxcast(rtx);
CREATE TABLE rtxs (c rtx);
INSERT INTO rtxs VALUES ('red');`, []string{
			"SELECT c::text FROM rtxs",
			"SELECT CAST(c AS pg_catalog.text) FROM rtxs",
		}},
		{"a domain whose CHECK calls pinned set_config", RuleFunction, "set_config", `
CREATE DOMAIN public.rtd AS int CHECK (pg_catalog.set_config('redteam.marker', 'check;', false) <> '');`, []string{
			"SELECT 1::rtd",
			"SELECT '1'::rtd",
			"SELECT CAST(1 AS public.rtd)",
			"SELECT ARRAY[1]::rtd[]",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			admin, snap, _ := redteamDB(t, markerSchema+c.schema)
			e, err := New(Options{Functions: oracleCatalog{snap}})
			if err != nil {
				t.Fatal(err)
			}
			for _, sql := range c.sqls {
				if !marks(t, admin, sql) {
					t.Errorf("%s: the server ran no marker: the attack does not test what it says", sql)
				}
				v := e.Decide(Identity{}, sql)
				wantDenied(t, sql, v, c.rule)
				if !strings.Contains(v.Reason, c.fn) {
					t.Errorf("%s: the denial (%s) does not name %s", sql, v.Reason, c.fn)
				}
			}
		})
	}
}

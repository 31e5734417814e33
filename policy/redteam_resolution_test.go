package policy

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// resolutionSchema has functions PostgreSQL calls on behalf of a name the
// engine sees, chosen by the declaration of what is named or by argument
// types: each ends in rtmark, a volatile marker that appends its argument
// to the custom setting redteam.marker, so the test knows whether the
// server ran it.
const resolutionSchema = `
CREATE FUNCTION public.rtmark(t text) RETURNS int VOLATILE LANGUAGE sql AS $$
  SELECT length(set_config('redteam.marker', coalesce(current_setting('redteam.marker', true), '') || t || ';', false)) * 0 $$;
CREATE TABLE rtnums (n int);
INSERT INTO rtnums VALUES (1), (2);

-- An aggregate's transition and final functions.
CREATE FUNCTION public.rtsfunc(s int, v int) RETURNS int VOLATILE LANGUAGE sql AS 'SELECT coalesce(s, 0) + v + public.rtmark(''sfunc'')';
CREATE AGGREGATE public.rtagg(int) (sfunc = public.rtsfunc, stype = int);
CREATE FUNCTION public.rtstable(s int, v int) RETURNS int STABLE LANGUAGE sql AS 'SELECT coalesce(s, 0) + v';
CREATE FUNCTION public.rtfinal(s int) RETURNS int VOLATILE LANGUAGE sql AS 'SELECT s + public.rtmark(''finalfunc'')';
CREATE AGGREGATE public.rtfinagg(int) (sfunc = public.rtstable, stype = int, finalfunc = public.rtfinal);

-- Argument defaults, evaluated in the caller's query: one calling the
-- marker, one calling pinned pg_catalog.set_config (in PL/pgSQL, which
-- is never inlined, so the unused default is still evaluated).
CREATE FUNCTION public.rtdef(a int, b int DEFAULT public.rtmark('default')) RETURNS int STABLE LANGUAGE plpgsql AS 'BEGIN RETURN a; END';
CREATE FUNCTION public.rtdefpin(a int, b text DEFAULT pg_catalog.set_config('redteam.marker', 'pinned-default;', false)) RETURNS int IMMUTABLE LANGUAGE plpgsql AS 'BEGIN RETURN a; END';

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
INSERT INTO rtcolors VALUES ('blue'), ('red'), ('blue');
`

// TestRedteamResolutionOracle tries calls that PostgreSQL makes because of
// what a name is declared as, not the name itself: an aggregate's support
// functions, argument defaults, a type's default operator class. The
// marker says whether the server ran a volatile function for the
// statement; the engine must not allow any statement that runs one.
func TestRedteamResolutionOracle(t *testing.T) {
	admin, snap, _ := redteamDB(t, resolutionSchema)
	e, err := New(Options{Functions: oracleCatalog{snap}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ sql, rule string }{
		{"SELECT rtagg(n) FROM rtnums", RuleVolatile},
		{"SELECT public.rtagg(n) FROM rtnums", RuleVolatile},
		{"SELECT rtfinagg(n) FROM rtnums", RuleVolatile},
		{"SELECT rtdef(1)", RuleVolatile},
		{"SELECT rtdef(a => 1)", RuleVolatile},
		{"SELECT public.rtdefpin(1)", RuleVolatile},
		{"SELECT rtdefpin(a => 1)", RuleVolatile},
		{"SELECT c FROM rtcolors ORDER BY c", RuleVolatile},
		{"SELECT DISTINCT c FROM rtcolors", RuleVolatile},
		{"SELECT c, count(*) FROM rtcolors GROUP BY c", RuleVolatile},
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

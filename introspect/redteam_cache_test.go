package introspect_test

import (
	"context"
	"strings"
	"testing"

	"github.com/pgmoat/pgmoat/introspect"
)

// TestReloadSeesWhatThePolicyJudgesBy makes, one at a time, the catalog
// changes that leave every relation's columns as they were but change a
// verdict of the policy, and reloads after each: the diff must not be
// empty (an empty one keeps the engine on the old catalog, so a function
// made volatile went on being called, and a table made the inheritance
// child of a table with row-level security went on being read past its
// policies). An unrelated reload after them stays empty.
func TestReloadSeesWhatThePolicyJudgesBy(t *testing.T) {
	t.Parallel()
	dsn := freshDB(t, `CREATE FUNCTION f() RETURNS int LANGUAGE sql STABLE AS 'SELECT 1';
CREATE TABLE parent (id int, owner text);
ALTER TABLE parent ENABLE ROW LEVEL SECURITY;
CREATE TABLE child (id int, owner text);`)
	ctx := context.Background()
	r, err := introspect.NewReloader(ctx, dsn, introspect.ReloaderOptions{NoListen: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ ddl, want string }{
		{"ALTER FUNCTION f() VOLATILE", "functions: 1 changed (public.f())"},
		{"CREATE FUNCTION g(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1'", "functions: 1 added (public.g(integer))"},
		{"DROP FUNCTION g(int)", "functions: 1 removed (public.g(integer))"},
		{"ALTER TABLE child INHERIT parent", "relation classes: 1 changed (public.child)"},
		{"CREATE SEQUENCE s", "relation classes: 1 added (public.s)"},
		{"CREATE TYPE pair AS (a int, b int)", "types: 2 added (public._pair, public.pair)"},
		{`CREATE FUNCTION eqf(int, int) RETURNS bool LANGUAGE sql IMMUTABLE AS 'SELECT $1 = $2';
CREATE OPERATOR === (LEFTARG = int, RIGHTARG = int, FUNCTION = eqf)`, "implicit calls: 1 added (operator public.=== → public.eqf)"},
		{"CREATE EXTENSION pg_trgm", "extensions: 1 added (pg_trgm)"},
	} {
		execSQL(t, dsn, tc.ddl)
		d, err := r.Reload(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(d.Lines(), "; "); d.Empty() || !strings.Contains(got, tc.want) {
			t.Errorf("%s: diff %q (empty %v), want a line with %q", tc.ddl, got, d.Empty(), tc.want)
		}
	}
	if d, err := r.Reload(ctx); err != nil || !d.Empty() {
		t.Errorf("nothing changed: diff %q, %v", d.Lines(), err)
	}
}

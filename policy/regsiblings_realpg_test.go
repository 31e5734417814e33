package policy

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// regKinds are values of the reg* types the engine judges names of, each
// with a FROM clause it needs, and the names to try: one the policy
// allows, one it denies, one that does not exist.
var regKinds = []struct {
	kind, allowed, denied, missing, missingCode string
	values                                      [][2]string // expression, FROM
}{
	{"relation", "pg_class", "pg_authid", "no_such_rel_x", "42P01", [][2]string{
		{"0::regclass", ""}, {"c.oid::regclass", " from pg_class c"}, {"to_regclass('pg_class')", ""},
		{"pg_catalog.pg_partition_root(0)", ""}, {"(select 0::regclass)", ""},
	}},
	{"function", "now", "pg_sleep", "no_such_fn_x", "42883", [][2]string{
		{"0::regproc", ""}, {"a.aggfnoid", " from pg_aggregate a"}, {"t.typinput", " from pg_type t"}, {"to_regproc('now')", ""},
	}},
	{"type", "int4", "pg_authid", "no_such_type_x", "42704", [][2]string{
		{"0::regtype", ""}, {"pg_typeof(1)", ""}, {"to_regtype('int4')", ""}, {"a.atttypid::regtype", " from pg_attribute a"},
	}},
}

// regPositions put a reg* value (%[1]s, with its FROM clause %[4]s) and a
// string literal (%[2]s a name, %[3]s an array of it) in every syntactic
// position tried: those where PostgreSQL types the literal like the
// value, and those where it does not (an oid, text, or an error).
var regPositions = []string{
	"select coalesce(%[1]s, %[2]s)%[4]s",
	"select coalesce(%[2]s, %[1]s)%[4]s",
	"select coalesce(%[1]s, null, %[2]s)%[4]s",
	"select greatest(%[1]s, %[2]s)%[4]s",
	"select least(%[2]s, %[1]s)%[4]s",
	"select case when true then %[1]s else %[2]s end%[4]s",
	"select case when false then %[2]s else %[1]s end%[4]s",
	"select case when true then %[1]s when false then %[2]s end%[4]s",
	"select array[%[1]s, %[2]s]%[4]s",
	"select array[%[2]s, %[1]s]%[4]s",
	"select array[array[%[1]s], array[%[2]s]]%[4]s",
	"select array[array[%[1]s], %[3]s]%[4]s",
	"select coalesce(array[%[1]s], %[3]s)%[4]s",
	"select array[%[1]s] = %[3]s%[4]s",
	"select %[3]s <@ array[%[1]s]%[4]s",
	"select array[%[1]s] @> %[3]s%[4]s",
	"select array[%[1]s] && %[3]s%[4]s",
	"select array[%[1]s] || %[3]s%[4]s",
	"select array[%[1]s] || %[2]s%[4]s",
	"select array_append(array[%[1]s], %[2]s)%[4]s",
	"select array_prepend(%[2]s, array[%[1]s])%[4]s",
	"select array_position(array[%[1]s], %[2]s)%[4]s",
	"select array_remove(array[%[1]s], %[2]s)%[4]s",
	"select array_replace(array[%[1]s], %[2]s, %[1]s)%[4]s",
	"select array_cat(array[%[1]s], %[3]s)%[4]s",
	"select %[1]s = any(array[%[1]s, %[2]s])%[4]s",
	"select array(select %[1]s%[4]s) = %[3]s",
	"select coalesce((select %[1]s%[4]s limit 1), %[2]s)",
	"select %[1]s%[4]s union select %[2]s",
	"select %[2]s union all select %[1]s%[4]s",
	"select %[1]s, 1%[4]s intersect select %[2]s, 1",
	"select 1, %[1]s%[4]s except select 2, %[2]s",
	"(select %[1]s%[4]s) union (select %[2]s union select %[2]s)",
	"select 1, %[2]s union select 2, %[2]s union select 3, %[1]s%[4]s",
	"values ((select %[1]s%[4]s limit 1)), (%[2]s)",
	"select * from (values ((select %[1]s%[4]s limit 1)), (%[2]s)) v(x)",
	"with w as (select %[1]s%[4]s union all select %[2]s) select * from w",
	"select x from (select %[1]s as x%[4]s union select %[2]s) s",
	// the literal becomes an oid (the reg* types compare as oids), text,
	// or the server refuses the statement
	"select %[1]s = %[2]s%[4]s",
	"select %[2]s = %[1]s%[4]s",
	"select %[1]s <> %[2]s%[4]s",
	"select %[1]s in (%[2]s)%[4]s",
	"select %[1]s between %[2]s and %[2]s%[4]s",
	"select %[1]s is distinct from %[2]s%[4]s",
	"select nullif(%[1]s, %[2]s)%[4]s",
	"select (%[1]s, 1) = (%[2]s, 1)%[4]s",
	"select %[1]s = any(%[3]s)%[4]s",
	"select case %[1]s when %[2]s then 1 end%[4]s",
	"select %[1]s = (select %[2]s)%[4]s",
	"select %[1]s in (select %[2]s)%[4]s",
	"select coalesce(%[1]s::text, %[2]s)%[4]s",
	"values (%[1]s), (%[2]s)%[4]s",
	"values ((select %[1]s%[4]s limit 1)) union all values (%[2]s)",
}

// TestRegSiblingsOnRealPostgreSQL asks the server, for every reg* value
// and position, whether the string literal beside the value is looked up
// as a name: the statement runs with a name that exists, and fails with
// the kind's "does not exist" error with one that does not. Each literal
// the server looks up must be judged as the name: allowed with the
// allowed name, denied by relation.denied or function.denied with the
// denied one.
func TestRegSiblingsOnRealPostgreSQL(t *testing.T) {
	c, db, ctx := realPG(t, 3*time.Minute)
	conn, err := pgconn.Connect(ctx, c.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	e := newTestEngine(t)
	run := func(sql string) error {
		_, err := conn.Exec(ctx, "SET statement_timeout = '5s'; "+sql).ReadAll()
		return err
	}
	lookups, other := 0, 0
	for _, k := range regKinds {
		for _, v := range k.values {
			for _, pos := range regPositions {
				stmt := func(name string) string {
					return fmt.Sprintf(pos, v[0], "'"+name+"'", "'{"+name+"}'", v[1])
				}
				if run(stmt(k.allowed)) != nil {
					other++ // the server refuses the statement whatever the name
					continue
				}
				var pe *pgconn.PgError
				if err := run(stmt(k.missing)); !errors.As(err, &pe) || pe.Code != k.missingCode {
					other++ // the literal is no name: an oid, or text
					continue
				}
				lookups++
				if got := e.Decide(Identity{}, stmt(k.allowed)); !got.Allowed {
					t.Errorf("%s: the server looks up %q as a %s; denied (%s), want allowed", stmt(k.allowed), k.allowed, k.kind, got.Reason)
				}
				want := RuleRelation
				if k.kind == "function" {
					want = RuleFunction
				}
				if got := e.Decide(Identity{}, stmt(k.denied)); got.Allowed || got.Rule != want {
					t.Errorf("%s: the server looks up %q as a %s; allowed=%v rule %q (%s), want %s",
						stmt(k.denied), k.denied, k.kind, got.Allowed, got.Rule, got.Reason, want)
				}
			}
		}
	}
	t.Logf("%d literals looked up as names, %d statements where the literal is none", lookups, other)
	if lookups < 200 || other < 100 {
		t.Errorf("%d lookups, %d others: is the server still being asked?", lookups, other)
	}
}

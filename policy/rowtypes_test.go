package policy

import (
	"fmt"
	"testing"
)

// typePositions are the places a statement the policy allows can name a
// type outside a string; %s is the type's spelling.
var typePositions = []string{
	"select (null::%s).*",
	"select row(1, 2)::%s",
	"select '(1,2)'::%s",
	"select cast(null as %s)",
	"select null::%s[]",
	"select null::%s[3]",
	"select array[]::%s[]",
	"select '{}'::%s[]",
	"select %s '(1,2)'",
	"select array[null::%s]",
	"select pg_typeof((null::%s))",
	"select json_populate_record(null::%s, '{}')",
	"select * from jsonb_populate_recordset(null::%s, '[]')",
	"select * from rows from (json_to_record('{}') as (a %s))",
	"select * from json_to_record('{}') as x(a %s)",
	"select * from jsonb_to_recordset('[]') as x(a int, b %s[])",
	"select * from xmltable('/a' passing '<a/>' columns x %s path '.')",
	"select xmlserialize(content '<a/>' as %s)",
	"select json_object('a': 1 returning %s)",
	"select 1 where null::%s is null",
	"with c as (select null::%s as v) select * from c",
	"select (select null::%s)",
	"values (null::%s)",
	"select * from orders o where (null::%s) is null",
	"select coalesce(null::%s, null)",
	"select case when true then null::%s end",
}

// rowTypeEngines are an offline engine and one with an online catalog
// that knows public's relations (mood, an enum, is none of them), both on
// a profile that denies public.secret_table.
func rowTypeEngines(t *testing.T) map[string]*Engine {
	t.Helper()
	p := map[string]Profile{DefaultProfile: {DenyRelations: []string{"public.secret_table"}}}
	off, err := New(Options{Profiles: p})
	if err != nil {
		t.Fatal(err)
	}
	on, err := New(Options{Profiles: p, Functions: relCatalog{BuiltinFunctions(), map[string]bool{
		"public.orders": true, "public.secret_table": true, "public.customers": true,
		"secret.t": true, "Secret.t": true}}})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*Engine{"offline": off, "online": on}
}

// TestRowTypeNamedAsType: a relation's row type named as a type shows
// the relation's columns and makes its values, so the name is judged as
// the relation in every position a type can take; pg_catalog's types,
// allowed relations and (online) user types that are no relation pass.
func TestRowTypeNamedAsType(t *testing.T) {
	denied := []string{"secret_table", "public.secret_table", `"secret_table"`, `public."secret_table"`,
		`"public"."secret_table"`, "_secret_table", "pg_authid", "pg_catalog.pg_authid", `"pg_authid"`,
		"pg_shadow", "_pg_authid", "secret.t", `"Secret".t`, "pg_stats", "pg_temp.x", "pg_toast.pg_toast_2619"}
	allowed := []string{"orders", "public.orders", `"orders"`, "pg_class", "pg_catalog.pg_class",
		"int4", "pg_catalog.int4", "integer", "text", `"text"`, "double precision", "varchar(10)",
		"numeric(10, 2)", "timestamp with time zone", "_int4", "information_schema.sql_identifier"}
	for name, e := range rowTypeEngines(t) {
		for _, pos := range typePositions {
			for _, typ := range denied {
				sql := fmt.Sprintf(pos, typ)
				if v := e.Decide(Identity{}, sql); v.Allowed || v.Rule != RuleRelation {
					t.Errorf("%s: %s: allowed=%v rule %q (%s), want %s", name, sql, v.Allowed, v.Rule, v.Reason, RuleRelation)
				}
			}
			for _, typ := range allowed {
				sql := fmt.Sprintf(pos, typ)
				if v := e.Decide(Identity{}, sql); !v.Allowed {
					t.Errorf("%s: %s: denied (%s: %s), want allowed", name, sql, v.Rule, v.Reason)
				}
			}
		}
	}
	on := rowTypeEngines(t)["online"]
	for _, sql := range []string{"select null::mood", "select 'happy'::public.mood", "select * from json_to_record('{}') as x(a mood)"} {
		if v := on.Decide(Identity{}, sql); !v.Allowed {
			t.Errorf("online: %s: denied (%s), want allowed: an enum is no relation", sql, v.Reason)
		}
	}
}

// TestRowTypeOnDenyListOnline: the online catalog lists no partition and
// no extension's relation, so a type it does not know as a relation is
// still judged against the deny list.
func TestRowTypeOnDenyListOnline(t *testing.T) {
	e := rowTypeEngines(t)["online"]
	for _, sql := range []string{
		"select null::pg_stat_statements",
		"select (null::public.pg_stat_statements).*",
		"select (null::ext.pg_stat_statements).*",
	} {
		if v := e.Decide(Identity{}, sql); v.Allowed || v.Rule != RuleRelation {
			t.Errorf("%s: allowed=%v rule %q (%s), want %s", sql, v.Allowed, v.Rule, v.Reason, RuleRelation)
		}
	}
}

// TestRegFieldRowTypes: the input of a catalog row type with reg* fields
// ('(..)'::pg_aggregate, row(..)::pg_aggregate, json_populate_record)
// looks each field's text up as a name, which the engine cannot judge;
// a reg* column in a column definition list reads computed text as a
// name; the input functions that take a type's OID run that type's
// input.
func TestRegFieldRowTypes(t *testing.T) {
	e := newTestEngine(t)
	for _, tc := range []struct{ sql, rule string }{
		{"select '(x)'::pg_aggregate", RuleNode},
		{"select row('pg_sleep')::pg_aggregate", RuleNode},
		{"select (null::pg_catalog.pg_proc).*", RuleNode},
		{"select null::_pg_type", RuleNode},
		{"select '{}'::pg_operator[]", RuleNode},
		{"select json_populate_record(null::pg_aggregate, '{\"aggfnoid\":\"pg_sleep\"}')", RuleNode},
		{"select * from json_to_record('{}') as x(a pg_sequences)", RuleNode},
		{"select json_populate_record(p, '{\"aggfnoid\":\"pg_sleep\"}') from pg_aggregate p", RuleNode},
		{"select * from pg_aggregate p, jsonb_populate_record(p, '{}')", RuleNode},
		{"select json_populate_recordset(p, '[]') from pg_proc p", RuleNode},
		{"select * from json_to_record('{\"a\":\"pg_authid\"}') as x(a regclass)", RuleRelation},
		{"select * from jsonb_to_recordset('[]') as x(a regproc[])", RuleFunction},
		{"select * from json_to_record('{}') as x(a pg_catalog._regprocedure)", RuleFunction},
		{"select * from rows from (json_to_record('{}') as (a regtype))", RuleRelation},
		{"select * from xmltable('/a' passing '<a>pg_authid</a>' columns x regclass path '.')", RuleRelation},
		{"select record_in('(pg_sleep)', 2600, -1)", RuleFunction},
		{"select array_in('{pg_sleep}', 24, -1)", RuleFunction},
		{"select domain_in('x', 24, -1)", RuleFunction},
		{"select range_in('[1,2]', 3904, -1)", RuleFunction},
		{"select multirange_in('{}', 4451, -1)", RuleFunction},
		{"select null::otherdb.public.orders", RuleRelation},
		{"select (null::pg_class).*", ""},
		{"select json_populate_record(null::orders, '{}')", ""},
		{"select * from json_to_record('{}') as x(a int, b text)", ""},
		{"select * from json_to_record('{}') as x(a regrole)", ""},
		{"select 'pg_class'::regclass", ""},
		{"select (p).* from pg_aggregate p", ""},
	} {
		v := e.Decide(Identity{}, tc.sql)
		switch {
		case tc.rule == "" && !v.Allowed:
			t.Errorf("%s: denied (%s: %s), want allowed", tc.sql, v.Rule, v.Reason)
		case tc.rule != "" && (v.Allowed || v.Rule != tc.rule):
			t.Errorf("%s: allowed=%v rule %q (%s), want %s", tc.sql, v.Allowed, v.Rule, v.Reason, tc.rule)
		}
	}
}

// TestRowTypeReadsNothing: a type names a relation but reads none of its
// rows, so the verdict does not report it (the MCP door checks that a
// tool's statement reads its table alone, and offline an enum such as
// public.order_status cannot be told from a relation).
func TestRowTypeReadsNothing(t *testing.T) {
	for name, e := range rowTypeEngines(t) {
		for _, sql := range []string{
			`SELECT t.id FROM public.orders AS t WHERE t.status = ANY($1::"public"."order_status"[])`,
			"select t.id from orders t where (null::public.customers) is null",
			"select t.id from orders t where 'public.customers'::regtype is not null",
		} {
			v := e.Decide(Identity{}, sql)
			if !v.Allowed || len(v.Relations) != 1 || v.Relations[0].String() != "public.orders" {
				t.Errorf("%s: %s: allowed=%v relations %v (%s), want public.orders alone", name, sql, v.Allowed, v.Relations, v.Reason)
			}
		}
	}
}

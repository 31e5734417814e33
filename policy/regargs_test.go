package policy

import (
	"strings"
	"testing"
)

// TestNameLookups judges every way a string reaches PostgreSQL's catalog
// lookup of a relation or function name: reg* casts, reg* arrays, function
// parameters of reg* type, functions taking a name as text, field
// selection, and casts of computed values.
func TestNameLookups(t *testing.T) {
	p := shopProfile()
	p.DenyRelations = append(p.DenyRelations, "shop.secret_view")
	e, err := New(Options{Profiles: map[string]Profile{"shop": p}})
	if err != nil {
		t.Fatal(err)
	}
	id := Identity{UserID: "1", Profile: "shop"}
	cases := []struct {
		sql, rule, names string // rule "" = allowed; names: text the reason must hold
	}{
		// (a) a string constant in a reg* parameter or a text name parameter.
		{"select pg_relation_size('pg_authid')", RuleRelation, "pg_authid"},
		{"select pg_catalog.pg_total_relation_size('shop.secrets')", RuleRelation, "shop.secrets"},
		{"select pg_relation_size('shop.secrets', 'main')", RuleRelation, "shop.secrets"},
		{"select pg_indexes_size('shop.secrets')", RuleRelation, "shop.secrets"},
		{"select pg_relation_filepath('shop.secrets')", RuleRelation, "shop.secrets"},
		{"select pg_partition_tree('shop.secrets')", RuleRelation, "shop.secrets"},
		{"select pg_get_viewdef('shop.secret_view')", RuleRelation, "shop.secret_view"},
		{"select pg_get_viewdef('shop.secret_view'::text)", RuleRelation, "shop.secret_view"},
		{"select pg_get_viewdef('shop.secret_view', true)", RuleRelation, "shop.secret_view"},
		{"select pg_get_viewdef('shop.secret_view'::varchar, true)", RuleRelation, "shop.secret_view"},
		{"select pg_get_serial_sequence('shop.secrets', 'id')", RuleRelation, "shop.secrets"},
		{"select has_table_privilege('shop.secrets', 'select')", RuleRelation, "shop.secrets"},
		{"select has_table_privilege('u', 'shop.secrets', 'select')", RuleRelation, "shop.secrets"},
		{"select has_column_privilege('shop.secrets', 'a', 'select')", RuleRelation, "shop.secrets"},
		{"select has_function_privilege('pg_read_file(text)', 'execute')", RuleFunction, "pg_read_file"},
		{"select to_regclass('pg_authid')", RuleRelation, "pg_authid"},
		{"select regclass('pg_authid')", RuleRelation, "pg_authid"},
		{"select to_regproc('pg_sleep')", RuleFunction, "pg_sleep"},
		{"select ('shop.secrets').pg_relation_size", RuleRelation, "shop.secrets"},
		{"select ('shop.secret_view'::text).pg_get_viewdef", RuleRelation, "shop.secret_view"},
		{"select pg_get_viewdef(relname::text) from pg_class", RuleRelation, "run time"},
		{"select pg_partition_tree(rootrelid => 'shop.secrets')", RuleFunction, "named arguments"},
		{"select pg_relation_size('shop.orders')", "", ""},
		{"select pg_get_viewdef('shop.orders'), pg_get_viewdef('shop.orders', true)", "", ""},
		{"select has_table_privilege('shop.orders', 'select')", "", ""},
		{"select pg_partition_ancestors('16451')", "", ""}, // digits in a regclass parameter are an OID
		{"select pg_get_viewdef(c.oid) from pg_class c", "", ""},
		{"select pg_relation_size(c.oid), pg_get_serial_sequence(c.oid::regclass::text, 'id') from pg_class c", RuleRelation, "run time"},
		{"select pg_relation_size(c.oid), pg_get_viewdef(c.oid, true), has_table_privilege(c.oid, 'select'), pg_relation_size(x.oid::int8), pg_get_viewdef(to_regclass('shop.orders')) from pg_class c, (select 1::oid) x(oid)", "", ""},
		{"select pg_relation_size(null), pg_get_viewdef(12345), pg_relation_size('12345'::oid), pg_relation_size(relname::text::oid), pg_relation_size(c.oid::regclass) from pg_class c", "", ""},

		// (a') a value computed at run time reaching a name parameter:
		// the server looks it up whatever the engine can see of it.
		{"select pg_get_viewdef(v) from (values ('shop.secret_view')) x(v)", RuleRelation, "run time"},
		{"select pg_get_viewdef(x.v) from (values ('shop.secret_view')) x(v)", RuleRelation, "run time"},
		{"select pg_relation_size(t.name) from shop.orders t", RuleRelation, "run time"},
		{"select pg_relation_size(c.relname) from pg_class c", RuleRelation, "run time"},
		{"select pg_get_serial_sequence(c.relname, 'id') from pg_class c", RuleRelation, "run time"},
		{"select pg_relation_size('shop.sec' || 'rets')", RuleRelation, "run time"},
		{"select pg_get_viewdef(format('%s.%s', 'shop', 'secret_view'))", RuleRelation, "run time"},
		{"select pg_get_viewdef(concat('shop.', 'secret_view'))", RuleRelation, "run time"},
		{"select pg_get_viewdef(lower('SHOP.SECRET_VIEW'))", RuleRelation, "run time"},
		{"select pg_get_viewdef(('shop.secret_view'::json #>> '{}'))", RuleRelation, "run time"},
		{"select pg_get_viewdef('\"shop.secret_view\"'::json::text)", RuleRelation, "run time"},
		{"select pg_relation_size('shop.secrets'::bytea::text)", RuleRelation, "run time"},
		{"select pg_get_viewdef(convert_from('shop.secret_view', 'UTF8'))", RuleRelation, "run time"},
		{"select pg_get_viewdef($1)", RuleRelation, "run time"},
		{"select pg_relation_size($1)", RuleRelation, "run time"},
		{"select pg_relation_size($1::text)", RuleRelation, "run time"},
		{"select pg_get_viewdef('shop.secret_view'::shop.textdomain)", RuleRelation, "run time"},
		{"select pg_get_viewdef((select 'shop.secret_view'))", RuleRelation, "run time"},
		{"select pg_get_viewdef(case when true then 'shop.secret_view' end)", RuleRelation, "run time"},
		{"select pg_get_viewdef(coalesce(null, 'shop.secret_view'))", RuleRelation, "run time"},
		{"select pg_get_viewdef(nullif('shop.secret_view', ''))", RuleRelation, "run time"},
		{"select pg_relation_size(greatest('shop.secrets', ''))", RuleRelation, "run time"},
		{"select pg_relation_size((array['shop.secrets'])[1])", RuleRelation, "run time"},
		{"select pg_relation_size((row('shop.secrets')).f1)", RuleRelation, "run time"},
		{"select pg_relation_size(E'shop.secrets' collate \"C\")", RuleRelation, "run time"},
		{"select * from rows from (pg_get_viewdef(concat('shop.', 'secret_view')))", RuleRelation, "run time"},
		{"select * from pg_get_viewdef(concat('shop.', 'secret_view'))", RuleRelation, "run time"},
		{"select (concat('shop.', 'secret_view')).pg_get_viewdef", RuleRelation, "run time"},
		{"select (x.v).pg_relation_size from (values ('shop.secrets')) x(v)", RuleRelation, "run time"},
		{"select x.v.pg_get_viewdef from (values ('shop.secret_view')) x(v)", RuleRelation, "run time"},
		{"select t.pg_get_viewdef from concat('shop.', 'secret_view') t", RuleRelation, "run time"},
		{"select t.pg_relation_size from lower('SHOP.SECRETS') t", RuleRelation, "run time"},
		{"select has_table_privilege(current_user, concat('shop.', 'secrets'), 'select')", RuleRelation, "run time"},
		{"select has_function_privilege(concat('pg_read', '_file(text)'), 'execute')", RuleFunction, "run time"},
		{"select to_regclass(concat('shop.', 'secrets'))", RuleRelation, "run time"},
		{"select pg_catalog.to_regproc(proname::text) from pg_proc", RuleFunction, "run time"},
		{"select pg_relation_size(variadic array['shop.secrets'])", RuleFunction, "VARIADIC"},
		{"select pg_get_viewdef(viewname => 'shop.secret_view')", RuleFunction, "named arguments"},
		{"select pg_relation_size('shop.orders', 'main', 'x')", RuleFunction, "3 arguments"},
		{"select row_security_active('shop.secrets')", RuleRelation, "shop.secrets"},
		{"select row_security_active(concat('shop.', 'secrets'))", RuleRelation, "run time"},
		{"select regclassout('shop.secrets'), 1", RuleRelation, "shop.secrets"},
		{"select regprocout('pg_sleep')", RuleFunction, "pg_sleep"},
		{"select row_security_active('shop.orders'), row_security_active(c.oid), regclassout(c.oid::regclass) from pg_class c", "", ""},

		// (b) reg* arrays, judged element by element.
		{"select '{pg_authid}'::regclass[]", RuleRelation, "pg_authid"},
		{"select '{shop.orders, \"pg_authid\"}'::regclass[]", RuleRelation, "pg_authid"},
		{"select '{{shop.orders},{pg_authid}}'::pg_catalog.regclass[]", RuleRelation, "pg_authid"},
		{"select '{x}'::_regclass", RuleRelation, "x"},
		{"select '{pg_sleep}'::regproc[]", RuleFunction, "pg_sleep"},
		{"select array['pg_authid']::regclass[]", RuleRelation, "pg_authid"},
		{"select array[array['shop.orders'], array['pg_authid']]::regclass[]", RuleRelation, "pg_authid"},
		{"select '[1:1]={pg_authid}'::regclass[]", RuleNode, "array"},
		{`select '{pg_au\thid}'::regclass[]`, RuleNode, "array"},
		{"select '{shop.orders,NULL, \"shop.orders\" }'::regclass[], '{}'::regclass[]", "", ""},
		{"select array['shop.orders', NULL]::regclass[]", "", ""},

		// (c) a computed value cast to a reg* type is looked up at run time.
		{"select 'shop.secrets'::text::regclass", RuleRelation, "shop.secrets"},
		{"select 'shop.orders'::text::regclass", "", ""},
		{"select relname::regclass from pg_class", RuleRelation, "run time"},
		{"select (relname)::regclass from pg_class", RuleRelation, "run time"},
		{"select ('pg_' || 'authid')::regclass", RuleRelation, "run time"},
		{"select proname::regproc from pg_proc", RuleFunction, "run time"},
		{"select 'int4'::regtype::regclass", RuleRelation, "run time"},
		{"select array[relname]::regclass[] from pg_class", RuleRelation, "run time"},
		{"select c.oid::pg_catalog.regclass, conrelid::regclass, p.oid::regprocedure, 1259::regclass, '1259'::regclass from pg_class c, pg_constraint, pg_proc p", "", ""},
		{"select aggtransfn::regprocedure, c.oid::int8::regclass, c.oid::regclass::regclass from pg_aggregate, pg_class c", "", ""},
	}
	for _, c := range cases {
		v := e.Decide(id, c.sql)
		if c.rule == "" {
			if !v.Allowed {
				t.Errorf("%q: denied %s: %s; want allowed", c.sql, v.Rule, v.Reason)
			}
			continue
		}
		if v.Allowed || v.Rule != c.rule || v.SQLState != SQLStateDenied || !strings.Contains(v.Reason, c.names) {
			t.Errorf("%q: got allowed=%v %s %s: %s; want %s naming %q", c.sql, v.Allowed, v.SQLState, v.Rule, v.Reason, c.rule, c.names)
		}
	}
}

func TestParseArrayLiteral(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // elements joined by |, or "!" when unreadable
	}{
		{"{a,b}", "a|b"},
		{" { a , b c , \"d,\\\"e\" } ", `a|b c|d,"e`},
		{"{NULL,null,\"NULL\"}", "NULL"},
		{"{{a},{b}}", "a|b"},
		{"{}", ""},
		{"[1:2]={a,b}", "!"},
		{"{a\"b\"}", "!"},
		{"{a\\b}", "!"},
		{"{a,}", "!"},
		{"{a} x", "!"},
		{"{a", "!"},
		{"{\"a}", "!"},
	} {
		elems, ok := parseArrayLiteral(c.in)
		got := strings.Join(elems, "|")
		if !ok {
			got = "!"
		}
		if got != c.want {
			t.Errorf("parseArrayLiteral(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

package policy

import "testing"

// A string literal that PostgreSQL types like the reg* value beside it is
// a name lookup and is judged as the name; the same literal where it
// becomes an oid or text is not a name.
func TestRegSiblingLiterals(t *testing.T) {
	e := newTestEngine(t)
	for _, tc := range []struct {
		sql  string
		rule string // "" allowed
	}{
		{"select coalesce(0::regclass, 'pg_class')", ""},
		{"select coalesce(0::regclass, 'pg_authid')", RuleRelation},
		{"select coalesce('pg_authid', 0::regclass)", RuleRelation},
		{"select greatest(0::regclass, 'pg_authid')", RuleRelation},
		{"select least(c.oid::regclass, 'pg_authid') from pg_class c", RuleRelation},
		{"select case when true then 0::regclass else 'pg_authid' end", RuleRelation},
		{"select case when true then 'pg_authid' when false then 0::regclass end", RuleRelation},
		{"select array[0::regclass, 'pg_authid']", RuleRelation},
		{"select array[array[0::regclass], array['pg_authid']]", RuleRelation},
		{"select array[array[0::regclass], '{pg_authid}']", RuleRelation},
		{"select coalesce(array[0::regclass], '{pg_authid}')", RuleRelation},
		{"select 0::regclass = any(array[0::regclass, 'pg_authid'])", RuleRelation},
		{"select array[0::regclass] = '{pg_authid}'", RuleRelation},
		{"select '{pg_authid}' <@ array[0::regclass]", RuleRelation},
		{"select array[0::regclass] || '{pg_authid}'", RuleRelation},
		{"select array_append(array[0::regclass], 'pg_authid')", RuleRelation},
		{"select array_position(array[0::regclass], 'pg_authid')", RuleRelation},
		{"select 0::regclass union select 'pg_authid'", RuleRelation},
		{"select 'pg_authid' union all select 0::regclass", RuleRelation},
		{"select 0::regclass, 1 intersect select 'pg_authid', 2", RuleRelation},
		{"select 1, 0::regclass except select 2, 'pg_class' union select 3, 'pg_authid'", RuleRelation},
		{"values (0::regclass), ('pg_authid')", RuleRelation},
		{"select * from (values (0::regclass), ('pg_authid')) v(x)", RuleRelation},
		{"with c as (select 0::regclass union all select 'pg_authid') select * from c", RuleRelation},
		{"select coalesce(to_regclass('pg_class'), 'pg_authid')", RuleRelation},
		{"select coalesce(aggfnoid, 'pg_sleep') from pg_aggregate", RuleFunction},
		{"select coalesce(aggfnoid, 'now') from pg_aggregate", ""},
		{"select coalesce(0::regproc, 'pg_read_file')", RuleFunction},
		{"select coalesce(typinput, 'pg_sleep') from pg_type", RuleFunction},
		{"select coalesce(pg_typeof(1), 'pg_authid')", RuleRelation},
		{"select coalesce(0::regtype, 'pg_shadow')", RuleRelation},
		{"select coalesce(0::regtype, 'int4')", ""},
		{"select coalesce(0::regclass, $1)", RuleRelation},
		{"select coalesce(0::regclass, '16384')", ""},
		{"select array[0::regclass, 'pg_class', null]", ""},
		// not name lookups: the literal becomes an oid, or the value text
		{"select 1 from pg_class c where c.oid::regclass = 'pg_class'", ""},
		{"select 0::regclass in ('pg_class')", ""},
		{"select coalesce(0::regclass::text, 'anything')", ""},
		{"select case when c.reloftype = 0 then '' else c.reloftype::regtype::text end from pg_class c", ""},
		{"select coalesce(relname, 'x') from pg_class", ""},
		{"values (1), ('2')", ""},
	} {
		v := e.Decide(Identity{}, tc.sql)
		switch {
		case tc.rule == "" && !v.Allowed:
			t.Errorf("%s: denied (%s), want allowed", tc.sql, v.Reason)
		case tc.rule != "" && (v.Allowed || v.Rule != tc.rule):
			t.Errorf("%s: allowed=%v rule %q (%s), want %s", tc.sql, v.Allowed, v.Rule, v.Reason, tc.rule)
		}
	}
}

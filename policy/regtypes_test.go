package policy

import "testing"

// A type name in a string names a relation's row type when a relation
// has that name: it is judged as the relation; pg_catalog's other types
// and SQL's keyword spellings pass.
func TestRowTypeNames(t *testing.T) {
	e := newTestEngine(t)
	for _, tc := range []struct {
		sql  string
		rule string // "" allowed
	}{
		{"select 'int4'::regtype", ""},
		{"select 'text[]'::regtype", ""},
		{"select '_int4'::regtype", ""},
		{"select 'character varying(10)'::regtype", ""},
		{"select 'double precision'::regtype", ""},
		{"select 'timestamp(3) with time zone'::regtype", ""},
		{"select 'numeric(10, 2)[]'::regtype", ""},
		{"select 'pg_catalog.int8'::regtype", ""},
		{"select '23'::regtype", ""},
		{"select 'pg_class'::regtype", ""},
		{"select to_regtype('int4')", ""},
		{"select has_type_privilege('int4', 'usage')", ""},
		{"select format_type('int4'::regtype, null)", ""},
		{"select typname from pg_type where oid = 'int4'::regtype", ""},
		{"select a.atttypid::regtype from pg_attribute a", ""},
		{"select 'pg_authid'::regtype", RuleRelation},
		{"select 'pg_catalog.pg_authid'::regtype", RuleRelation},
		{"select 'pg_authid[]'::regtype", RuleRelation},
		{"select '_pg_authid'::regtype", RuleRelation},
		{`select '"pg_authid"'::regtype`, RuleRelation},
		{"select '{pg_authid}'::regtype[]", RuleRelation},
		{"select 'pg_authid'::regtype::oid", RuleRelation},
		{"select format_type('pg_authid'::regtype, null)", RuleRelation},
		{"select to_regtype('pg_authid')", RuleRelation},
		{"select to_regtype('pg_shadow[]')", RuleRelation},
		{"select regtypein('pg_authid')", RuleRelation},
		{"select regtypeout('pg_authid')", RuleRelation},
		{"select has_type_privilege('pg_authid', 'usage')", RuleRelation},
		{"select has_type_privilege(current_user, 'pg_authid', 'usage')", RuleRelation},
		{"select to_regtype(relname) from pg_class", RuleRelation},
		{"select relname::regtype from pg_class", RuleRelation},
		{"select 'int4) x'::regtype", RuleNode},
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

package policy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmoat/pgmoat/introspect"
)

// paramTypesSchema has a DBA's types a Parse may name by OID: an enum
// (psycopg sends its OID), a harmless domain, and domains whose CHECK
// runs a volatile function, directly or behind an operator.
const paramTypesSchema = `
CREATE TYPE mood AS ENUM ('sad', 'ok');
CREATE DOMAIN fine_dom AS int CHECK (VALUE > 0);
CREATE FUNCTION evil_check(int) RETURNS bool VOLATILE LANGUAGE sql AS 'SELECT true';
CREATE DOMAIN evil_dom AS int CHECK (evil_check(VALUE));
CREATE DOMAIN evil_outer AS evil_dom;
CREATE FUNCTION evil_cmp(int, int) RETURNS bool VOLATILE LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR ### (LEFTARG = int, RIGHTARG = int, FUNCTION = evil_cmp);
CREATE DOMAIN op_dom AS int CHECK (VALUE ### 0);
CREATE TABLE items (id int, note text);
`

// TestParameterTypesAreJudged: each non-zero parameter type OID of a
// Parse is judged as the cast $n::type would be, on the introspected
// catalog as the binary judges: built-in types and the DBA's enums pass,
// a domain whose CHECK calls a volatile function and the reg* types
// whose input looks a computed name up are denied as the cast is, and an
// OID neither built in nor in the catalog is parse.parameter_type.
func TestParameterTypesAreJudged(t *testing.T) {
	c, db, ctx := realPG(t, 2*time.Minute)
	conn, err := pgx.Connect(ctx, c.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, paramTypesSchema); err != nil {
		t.Fatal(err)
	}
	snap, err := introspect.Load(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEngine(t)
	e.SetFunctions(oracleCatalog{snap})
	oidOf := func(typ string) uint32 {
		var oid uint32
		if err := conn.QueryRow(ctx, "SELECT $1::regtype::oid", typ).Scan(&oid); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		return oid
	}
	cases := []struct {
		typ  string
		rule string // "" when allowed
	}{
		{"int4", ""}, {"text", ""}, {"unknown", ""}, {"bigint[]", ""}, {"timestamptz", ""},
		{"numeric", ""}, {"jsonb", ""}, {"uuid", ""}, {"bool", ""}, {"bytea", ""}, {"oid", ""},
		{"mood", ""}, {"mood[]", ""}, {"fine_dom", ""}, {"items", ""},
		{"information_schema.sql_identifier", ""},
		{"evil_dom", RuleVolatile}, {"evil_outer", RuleVolatile}, {"evil_dom[]", RuleVolatile},
		{"op_dom", RuleVolatile},
		{"regclass", RuleRelation}, {"regclass[]", RuleRelation}, {"regproc", RuleFunction},
		{"regprocedure", RuleFunction}, {"regtype", RuleRelation},
		{"pg_catalog.pg_authid", RuleRelation}, {"pg_catalog.pg_proc", RuleNode},
		{"pg_catalog.pg_stat_activity", RuleRelation},
	}
	for _, tc := range cases {
		oid := oidOf(tc.typ)
		v := e.DecideParameterTypes(Identity{}, []uint32{0, oid})
		if tc.rule == "" {
			if !v.Allowed {
				t.Errorf("%s (OID %d): denied by %s: %s", tc.typ, oid, v.Rule, v.Reason)
			}
			continue
		}
		if v.Allowed || v.Rule != tc.rule || v.SQLState != SQLStateDenied ||
			!strings.HasPrefix(v.Err().Error(), "pgmoat: "+tc.rule+": parameter $2: ") {
			t.Errorf("%s (OID %d): allowed=%v %s %q, want denied by %s", tc.typ, oid, v.Allowed, v.Rule, v.Err(), tc.rule)
		}
		// The same as the engine says of the cast written out.
		if cast := e.Decide(Identity{}, "SELECT $1::"+tc.typ); cast.Allowed || cast.Rule != tc.rule {
			t.Errorf("SELECT $1::%s: allowed=%v by %s, the parameter type is denied by %s", tc.typ, cast.Allowed, cast.Rule, tc.rule)
		}
	}
	for _, oid := range []uint32{999999, 16383, 1} {
		v := e.DecideParameterTypes(Identity{}, []uint32{oid})
		if v.Allowed || v.Rule != RuleParamType || v.SQLState != SQLStateDenied {
			t.Errorf("OID %d: allowed=%v %s %s, want %s", oid, v.Allowed, v.Rule, v.Reason, RuleParamType)
		}
	}
	if v := e.DecideParameterTypes(Identity{}, []uint32{0, 0}); !v.Allowed {
		t.Errorf("unspecified types: denied by %s", v.Rule)
	}
	// Offline, built-in OIDs are named from the generated table; a user
	// type's OID cannot be named and is denied.
	off := newTestEngine(t)
	if v := off.DecideParameterTypes(Identity{}, []uint32{oidOf("int4"), oidOf("text"), oidOf("_int8")}); !v.Allowed {
		t.Errorf("offline built-ins: denied by %s: %s", v.Rule, v.Reason)
	}
	if v := off.DecideParameterTypes(Identity{}, []uint32{oidOf("mood")}); v.Allowed || v.Rule != RuleParamType {
		t.Errorf("offline enum: allowed=%v %s, want %s", v.Allowed, v.Rule, RuleParamType)
	}
}

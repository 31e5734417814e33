package policy

import (
	"context"
	"strings"
	"testing"

	"github.com/pgmoat/pgmoat/introspect"
)

// heldKindsSchema is the attacker's field for the attacks on name
// resolution by kind that held: names PostgreSQL truncates, folds or
// finds in an earlier schema, sub-partitions, CTEs named like a
// sequence, a DBA's views over a sequence and a partition.
var heldKindsSchema = `
CREATE SCHEMA other;
CREATE SEQUENCE s;
CREATE SEQUENCE "Seq";
CREATE SEQUENCE ` + long63 + `;
CREATE SEQUENCE ` + long62 + `;
CREATE TABLE dup (id int);
CREATE SEQUENCE other.dup;
CREATE SEQUENCE public.pg_class;
CREATE TABLE pp (id int, uid int) PARTITION BY RANGE (id);
CREATE TABLE pp1 PARTITION OF pp FOR VALUES FROM (0) TO (100) PARTITION BY RANGE (id);
CREATE TABLE pp11 PARTITION OF pp1 FOR VALUES FROM (0) TO (50);
CREATE VIEW seq_view AS SELECT last_value FROM s;
CREATE MATERIALIZED VIEW part_mv AS SELECT * FROM pp1;
CREATE TYPE pair AS (a int, b int);
SELECT nextval('s');
`

// long63 is a sequence name of NAMEDATALEN-1 bytes; long62 one byte
// shorter, so that a two-byte character right after it does not fit.
var (
	long63 = strings.Repeat("q", 63)
	long62 = strings.Repeat("m", 62)
)

// TestRedteamKindsHeld: attacks on name resolution by kind, and on
// parameter types, that the engine withstood. Each case is what the
// engine says; where the attack turns on what PostgreSQL resolves, the
// server is asked too (serverReads: the statement, run directly, reads
// the sequence, so the denial is the one that matters).
func TestRedteamKindsHeld(t *testing.T) {
	admin, snap, _ := redteamDB(t, heldKindsSchema)
	ctx := context.Background()
	profiles := map[string]Profile{
		DefaultProfile: {AllowSchemas: []string{"public", "other"}, SearchPath: []string{"public", "other"}},
		"other_first":  {AllowSchemas: []string{"public", "other"}, SearchPath: []string{"other", "public"}},
		"catalog_last": {AllowSchemas: []string{"public"}, SearchPath: []string{"public", "pg_catalog"}},
	}
	e, err := New(Options{Functions: oracleCatalog{snap}, Profiles: profiles})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, profile, sql string
		rule               string // "" when allowed
		serverReads        bool   // the server, on this path, reads a sequence
	}{
		// Truncation: PostgreSQL cuts identifiers to 63 bytes on a
		// character boundary, and so does the engine's parser.
		{"68-byte name cut to a 63-byte sequence", "", "SELECT * FROM " + long63 + "xxxxx", RuleSequence, true},
		{"quoted long name cut the same", "", `SELECT * FROM "` + long63 + `yy"`, RuleSequence, true},
		{"two-byte character past byte 62 dropped whole", "", "SELECT * FROM " + long62 + "é", RuleSequence, true},
		{"two-byte character past byte 62, then more", "", "SELECT * FROM " + long62 + "éé", RuleSequence, true},
		// Case folding.
		{"unquoted folds to s", "", "SELECT * FROM S", RuleSequence, true},
		{"quoted mixed case is exact", "", `SELECT * FROM "Seq"`, RuleSequence, true},
		{"unquoted Seq folds to seq, which does not exist", "", "SELECT * FROM Seq", RuleRelationUnknown, false},
		{"Unicode escape of a mixed-case name", "", `SELECT * FROM U&"\0053eq"`, RuleSequence, true},
		// Search path order.
		{"table in an earlier schema than a sequence", "", "SELECT * FROM dup", "", false},
		{"sequence in an earlier schema than a table", "other_first", "SELECT * FROM dup", RuleSequence, true},
		{"pg_catalog placed last: public's sequence first", "catalog_last", "SELECT * FROM pg_class", RuleSequence, true},
		{"pg_catalog first by default", "", "SELECT relname FROM pg_class", "", false},
		{"a dotted quoted name is one name", "", `SELECT * FROM "public.s"`, RuleRelationUnknown, false},
		// Schemas no client reaches.
		{"pg_temp", "", "SELECT * FROM pg_temp.s", RuleRelation, false},
		{"a backend's temporary schema", "", "SELECT * FROM pg_temp_3.s", RuleRelation, false},
		{"pg_toast", "", "SELECT * FROM pg_toast.pg_toast_1260", RuleRelation, false},
		{"pg_catalog's rules still apply", "", "SELECT * FROM pg_catalog.pg_authid", RuleRelation, false},
		{"pg_sequences", "", "SELECT last_value FROM pg_sequences", RuleRelation, false},
		// CTE scopes.
		{"a CTE's own body sees the relation", "", "WITH s AS (SELECT * FROM s) SELECT * FROM s", RuleSequence, true},
		{"a later CTE does not shadow an earlier one's body", "", "WITH a AS (SELECT * FROM s), s AS (SELECT 1) SELECT * FROM a", RuleSequence, true},
		{"a subquery's CTE ends with the subquery", "", "SELECT * FROM (WITH s AS (SELECT 1) SELECT * FROM s) a, s", RuleSequence, true},
		{"a parenthesized arm's CTE ends with the arm", "", "(WITH s AS (SELECT 1 AS v) SELECT v FROM s) UNION ALL SELECT last_value FROM s", RuleSequence, true},
		{"a CTE named like the sequence", "", "WITH s AS (SELECT 1 AS last_value) SELECT last_value FROM s", "", false},
		// Partitions at depth.
		{"a sub-partition", "", "SELECT * FROM pp11", RulePartition, false},
		{"a partitioned partition", "", "SELECT * FROM ONLY pp1", RulePartition, false},
		{"a sub-partition sampled", "", "SELECT * FROM pp11 TABLESAMPLE bernoulli (100)", RulePartition, false},
		{"a sub-partition in LATERAL", "", "SELECT * FROM pp, LATERAL (SELECT * FROM pp11 WHERE pp11.id = pp.id) l", RulePartition, false},
		// Reads that are not reads of rows.
		{"the sequence's row type", "", "SELECT NULL::s", "", false},
		{"a whole-row value of the type", "", "SELECT '(1,1,t)'::s", "", false},
		{"a composite type as a relation", "", "SELECT * FROM pair", RuleRelationKind, false},
		// A DBA's choice: views are read as the DBA wrote them.
		{"a view over a sequence", "", "SELECT * FROM seq_view", "", true},
		{"a materialized view over a partition", "", "SELECT * FROM part_mv", "", false},
	}
	for _, tc := range cases {
		v := e.Decide(Identity{Profile: tc.profile}, tc.sql)
		if tc.rule == "" {
			if !v.Allowed {
				t.Errorf("%s: %s: denied by %s: %s", tc.name, tc.sql, v.Rule, v.Reason)
			}
		} else {
			wantDenied(t, tc.name+": "+tc.sql, v, tc.rule)
		}
		if !tc.serverReads {
			continue
		}
		// The server on the same path reads a sequence: its
		// last_value column answers.
		p := profiles[DefaultProfile]
		if tc.profile != "" {
			p = profiles[tc.profile]
		}
		sql := strings.Replace(tc.sql, "SELECT *", "SELECT last_value", 1)
		if _, err := admin.Exec(ctx, "SET search_path = "+strings.Join(quotedAll(p.SearchPath), ", ")); err != nil {
			t.Fatal(err)
		}
		var last int64
		if err := admin.QueryRow(ctx, sql).Scan(&last); err != nil {
			t.Errorf("%s: the server does not read a sequence: %v", tc.name, err)
		}
	}

	// A name created since the catalog was read is denied until the
	// next read, which then judges it by its kind; a table dropped and
	// re-created as a sequence is judged by the kind the last read saw.
	if _, err := admin.Exec(ctx, "CREATE SEQUENCE fresh_s; CREATE TABLE fresh_t (id int); DROP TABLE dup; CREATE SEQUENCE dup"); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{"SELECT * FROM fresh_s", "SELECT * FROM fresh_t"} {
		wantDenied(t, "before the reload: "+sql, e.Decide(Identity{}, sql), RuleRelationUnknown)
	}
	fresh, err := introspect.Load(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	e.SetFunctions(oracleCatalog{fresh})
	wantDenied(t, "after the reload: fresh_s", e.Decide(Identity{}, "SELECT * FROM fresh_s"), RuleSequence)
	wantDenied(t, "after the reload: dup, now a sequence", e.Decide(Identity{}, "SELECT * FROM dup"), RuleSequence)
	if v := e.Decide(Identity{}, "SELECT * FROM fresh_t"); !v.Allowed {
		t.Errorf("after the reload: fresh_t denied by %s: %s", v.Rule, v.Reason)
	}
}

func quotedAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = QuoteIdent(n)
	}
	return out
}

// TestRedteamParameterTypesHeld: parameter type OIDs that reach a
// volatile CHECK through arrays, domains over domains over arrays,
// composite and range types are denied; pseudo-types, OID 0 and the
// reg* types whose lookups read only readable catalogs pass as their
// casts do; a verdict does not outlive a catalog read that changed the
// type behind the same OID.
func TestRedteamParameterTypesHeld(t *testing.T) {
	ctx := context.Background()
	t.Run("volatile chains", func(t *testing.T) {
		admin, snap, _ := redteamDB(t, `
CREATE FUNCTION evil_check(int) RETURNS bool VOLATILE LANGUAGE sql AS 'SELECT true';
CREATE DOMAIN evil_dom AS int CHECK (evil_check(VALUE));
CREATE DOMAIN evil_arr AS int[] CHECK (evil_check(VALUE[1]));
CREATE DOMAIN evil_arr2 AS evil_arr;
CREATE TYPE evil_comp AS (a evil_dom);
CREATE TABLE evil_tab (a evil_dom);
CREATE TYPE evil_range AS RANGE (subtype = evil_dom);
CREATE SCHEMA hidden;
CREATE DOMAIN hidden.hd AS int CHECK (evil_check(VALUE));`)
		e, err := New(Options{Functions: oracleCatalog{snap}, Profiles: map[string]Profile{DefaultProfile: {AllowSchemas: []string{"public"}}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, typ := range []string{"evil_dom[]", "evil_arr", "evil_arr2", "evil_arr2[]", "evil_comp", "evil_comp[]", "evil_tab",
			"evil_range", "evil_multirange", "evil_range[]", "hidden.hd"} {
			var oid uint32
			if err := admin.QueryRow(ctx, "SELECT $1::regtype::oid", typ).Scan(&oid); err != nil {
				t.Fatalf("%s: %v", typ, err)
			}
			wantDenied(t, typ, e.DecideParameterTypes(Identity{}, []uint32{oid}), RuleVolatile)
		}
	})
	t.Run("clean", func(t *testing.T) {
		admin, snap, _ := redteamDB(t, `CREATE DOMAIN d AS int CHECK (VALUE > 0);
CREATE SCHEMA hidden; CREATE TYPE hidden.mood AS ENUM ('a');`)
		e, err := New(Options{Functions: oracleCatalog{snap}, Profiles: map[string]Profile{DefaultProfile: {AllowSchemas: []string{"public"}}}})
		if err != nil {
			t.Fatal(err)
		}
		oid := func(typ string) uint32 {
			var o uint32
			if err := admin.QueryRow(ctx, "SELECT $1::regtype::oid", typ).Scan(&o); err != nil {
				t.Fatalf("%s: %v", typ, err)
			}
			return o
		}
		for _, tc := range []struct{ typ, rule string }{
			// Pseudo-types: their input functions are pg_catalog's and
			// refuse a value or copy the text.
			{"cstring", ""}, {"internal", ""}, {"anyelement", ""}, {"record", ""}, {"void", ""},
			{"trigger", ""}, {"language_handler", ""}, {"event_trigger", ""}, {"pg_ddl_command", ""},
			{"_record", ""}, {"_cstring", ""}, {"anyarray", ""}, {"unknown", ""},
			// reg* arrays are judged as their casts.
			{"regclass[]", RuleRelation}, {"regtype[]", RuleRelation}, {"regproc[]", RuleFunction},
			{"regprocedure[]", RuleFunction}, {"regrole[]", ""}, {"regnamespace[]", ""}, {"regoper[]", ""},
			// A type of a schema the profile does not read: a value of an
			// enum reads no rows, as the cast does.
			{"hidden.mood", ""},
			{"d", ""}, {"d[]", ""},
		} {
			v := e.DecideParameterTypes(Identity{}, []uint32{oid(tc.typ)})
			if cast := e.Decide(Identity{}, "SELECT $1::"+tc.typ); cast.Allowed != v.Allowed || cast.Rule != v.Rule {
				t.Errorf("%s: as a parameter type allowed=%v %s, as a cast allowed=%v %s", tc.typ, v.Allowed, v.Rule, cast.Allowed, cast.Rule)
			}
			if tc.rule == "" {
				if !v.Allowed {
					t.Errorf("%s: denied by %s: %s", tc.typ, v.Rule, v.Reason)
				}
				continue
			}
			wantDenied(t, tc.typ, v, tc.rule)
		}
		// The most parameters a Parse can declare: OID 0 (inferred)
		// and a built-in pass, one unknown OID at the end is found.
		many := make([]uint32, 65535)
		for i := range many {
			many[i] = uint32(i%2) * 23
		}
		if v := e.DecideParameterTypes(Identity{}, many); !v.Allowed {
			t.Errorf("65535 parameters: denied by %s: %s", v.Rule, v.Reason)
		}
		many[len(many)-1] = 4000000000
		if v := e.DecideParameterTypes(Identity{}, many); v.Allowed || v.Rule != RuleParamType || !strings.Contains(v.Reason, "parameter $65535:") {
			t.Errorf("an unknown OID as parameter 65535: allowed=%v %s %s", v.Allowed, v.Rule, v.Reason)
		}
		// The verdict on d is remembered for this catalog only: the
		// same OID is judged again after a read that sees a volatile
		// CHECK added to it.
		d := oid("d")
		if v := e.DecideParameterTypes(Identity{}, []uint32{d}); !v.Allowed {
			t.Fatalf("d: denied by %s", v.Rule)
		}
		if _, err := admin.Exec(ctx, `CREATE FUNCTION later_check(int) RETURNS bool VOLATILE LANGUAGE sql AS 'SELECT true';
ALTER DOMAIN d ADD CHECK (later_check(VALUE))`); err != nil {
			t.Fatal(err)
		}
		fresh, err := introspect.Load(ctx, admin)
		if err != nil {
			t.Fatal(err)
		}
		e.SetFunctions(oracleCatalog{fresh})
		if oid("d") != d {
			t.Fatal("ALTER DOMAIN changed the OID: the case proves nothing")
		}
		wantDenied(t, "d after the reload", e.DecideParameterTypes(Identity{}, []uint32{d}), RuleVolatile)
	})
}

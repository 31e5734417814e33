package policy

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmoat/pgmoat/introspect"
)

// rowTypeObjects: a table the profile allows, one it denies, an enum.
const rowTypeObjects = `
CREATE TABLE public.open_table (a int, b int);
CREATE TABLE public.secret_table (a int, b int);
CREATE TYPE public.mood AS ENUM ('happy', 'sad');
`

// rowTypeSpellings are the type names tried in each position, by what
// they name: a denied relation's row type (or its array type), a catalog
// row type with reg* fields, and types that must stay allowed.
var rowTypeSpellings = map[string][]string{
	"denied": {"secret_table", "public.secret_table", `"secret_table"`, `public."secret_table"`,
		"_secret_table", "pg_authid", "pg_catalog.pg_authid", `"pg_authid"`},
	"regfields": {"pg_aggregate", "pg_catalog.pg_proc", "_pg_type"},
	"allowed": {"open_table", "public.open_table", `"open_table"`, "_open_table", "pg_class",
		"int4", "pg_catalog.int4", "text", "double precision", "mood", "public.mood"},
}

// TestRowTypesOnRealPostgreSQL asks a real server, for every type
// position crossed with every spelling, whether it resolves the denied
// relations' row types: each statement is created as a temporary view
// and the type fields of its stored query searched for the OID of the
// row type or its array type. The verdict must deny exactly the statements in which the server
// resolved a denied row type (relation.denied) or a row type with reg*
// fields (node.kind), and allow every other statement the server
// accepts, offline and with the server's live catalog.
func TestRowTypesOnRealPostgreSQL(t *testing.T) {
	c, db, ctx := realPG(t, 5*time.Minute)
	conn, err := pgconn.Connect(ctx, c.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, rowTypeObjects).ReadAll(); err != nil {
		t.Fatal(err)
	}
	oids := rowTypeOIDs(ctx, t, conn)
	engines := rowTypeRealEngines(ctx, t, c.DSN(db))
	compared := map[string]int{}
	for class, spellings := range rowTypeSpellings {
		for _, pos := range typePositions {
			for _, typ := range spellings {
				sql := fmt.Sprintf(pos, typ)
				resolved, ok := rowTypeResolved(ctx, t, conn, sql, oids)
				if !ok {
					continue // the server refuses it: nothing to compare
				}
				compared[class]++
				want := ""
				switch {
				case resolved["denied"]:
					want = RuleRelation
				case resolved["regfields"]:
					want = RuleNode
				case class != "allowed":
					t.Errorf("%s: the server accepts it without resolving the %s type it names: the oracle is broken", sql, class)
					continue
				}
				for name, e := range engines {
					v := e.Decide(Identity{}, sql)
					switch {
					case want == "" && !v.Allowed:
						t.Errorf("%s: %s: denied (%s: %s), but the server resolves no denied row type in it", name, sql, v.Rule, v.Reason)
					case want != "" && (v.Allowed || v.Rule != want):
						t.Errorf("%s: %s: allowed=%v rule %q (%s), but the server resolves a %s row type: want %s", name, sql, v.Allowed, v.Rule, v.Reason, class, want)
					}
				}
			}
		}
	}
	for class, min := range map[string]int{"denied": 150, "regfields": 50, "allowed": 200} {
		if compared[class] < min {
			t.Errorf("only %d %s statements were accepted by the server and compared (want %d)", compared[class], class, min)
		}
	}
	t.Logf("compared with the server: %v", compared)
}

// rowTypeOIDs are the OIDs of the row types and array types of the
// denied relations and of the catalog row types with reg* fields.
func rowTypeOIDs(ctx context.Context, t *testing.T, conn *pgconn.PgConn) map[string][]string {
	t.Helper()
	res, err := conn.Exec(ctx, `SELECT CASE WHEN c.relname IN ('secret_table', 'pg_authid') THEN 'denied' ELSE 'regfields' END,
		t.oid::text, t.typarray::text
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_type t ON t.oid = c.reltype
		WHERE c.oid IN ('public.secret_table'::regclass, 'pg_catalog.pg_authid'::regclass,
			'pg_catalog.pg_aggregate'::regclass, 'pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_type'::regclass)`).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, row := range res[0].Rows {
		out[string(row[0])] = append(out[string(row[0])], string(row[1]), string(row[2]))
	}
	if len(out["denied"]) != 4 || len(out["regfields"]) != 6 {
		t.Fatalf("row type OIDs: %v", out)
	}
	return out
}

// rowTypeResolved creates sql as a temporary view and reports, by class,
// whether its stored query holds one of the classes' type OIDs. ok is
// false when the server refuses the statement.
func rowTypeResolved(ctx context.Context, t *testing.T, conn *pgconn.PgConn, sql string, oids map[string][]string) (map[string]bool, bool) {
	t.Helper()
	script := "CREATE TEMP VIEW rowtype_v AS SELECT FROM (\n" + sql + "\n) s;\n" +
		"SELECT ev_action::text FROM pg_catalog.pg_rewrite WHERE ev_class = 'pg_temp.rowtype_v'::regclass;\n" +
		"DROP VIEW pg_temp.rowtype_v"
	results, err := conn.Exec(ctx, script).ReadAll()
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return nil, false
		}
		t.Fatalf("%s: %v", sql, err)
	}
	types := treeTypes(string(results[1].Rows[0][0]))
	out := map[string]bool{}
	for class, list := range oids {
		for _, oid := range list {
			if types[oid] {
				out[class] = true
			}
		}
	}
	return out, true
}

// treeTypes are the type OIDs a stored query's node tree holds: the
// values of its fields whose names say type (consttype, resulttype,
// row_typeid, funccoltypes, coltypes, ...), single or in an OID list.
func treeTypes(tree string) map[string]bool {
	out := map[string]bool{}
	for _, m := range typeFieldRE.FindAllStringSubmatch(tree, -1) {
		for _, n := range strings.Fields(strings.Trim(m[1], "()o")) {
			out[n] = true
		}
	}
	return out
}

var typeFieldRE = regexp.MustCompile(`:\w*typ\w* (\(o [0-9 ]*\)|[0-9]+)`)

// rowTypeRealEngines are an offline engine and one on the server's live
// catalog, both on a profile that denies public.secret_table.
func rowTypeRealEngines(ctx context.Context, t *testing.T, dsn string) map[string]*Engine {
	t.Helper()
	pc, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := introspect.Load(ctx, pc)
	_ = pc.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := map[string]Profile{DefaultProfile: {DenyRelations: []string{"public.secret_table"}}}
	off, err := New(Options{Profiles: p})
	if err != nil {
		t.Fatal(err)
	}
	on, err := New(Options{Profiles: p, Functions: oracleCatalog{snap}})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*Engine{"offline": off, "online": on}
}

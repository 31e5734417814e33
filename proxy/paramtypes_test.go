package proxy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmoat/pgmoat/policy"
)

// paramTypesSQL gives the fixture's database a DBA's enum and a domain
// whose CHECK calls a volatile function; the function says when it runs.
const paramTypesSQL = `
CREATE TYPE mood AS ENUM ('sad', 'ok');
CREATE FUNCTION loud_check(int) RETURNS bool VOLATILE LANGUAGE plpgsql AS
  $$BEGIN RAISE NOTICE 'loud_check ran'; RETURN true; END$$;
CREATE DOMAIN loud AS int CHECK (loud_check(VALUE));
`

// wireCatalog is the online catalog as the binary builds it from the
// introspected snapshot, read here with the same catalog facts: the
// public types by OID, the public functions' volatility, and the
// functions a domain's CHECK calls.
type wireCatalog struct {
	policy.FunctionMap
	types  map[uint32]policy.TypeName
	checks map[string][]policy.FunctionName
}

func (c wireCatalog) TypeByOID(oid uint32) (policy.TypeName, bool) {
	t, ok := c.types[oid]
	return t, ok
}

func (c wireCatalog) OperatorFunctions(string, string) []policy.FunctionName { return nil }

func (c wireCatalog) TypeFunctions(schema, typ string) []policy.FunctionName {
	if schema == policy.AnySchema {
		return nil // what every SELECT reaches; not the point here
	}
	return c.checks[schema+"."+typ]
}

func readWireCatalog(t *testing.T, ctx context.Context, admin *pgx.Conn) wireCatalog {
	t.Helper()
	c := wireCatalog{FunctionMap: policy.BuiltinFunctions(), types: map[uint32]policy.TypeName{}, checks: map[string][]policy.FunctionName{}}
	rows, err := admin.Query(ctx, `SELECT t.oid, t.typname FROM pg_type t WHERE t.typnamespace = 'public'::regnamespace`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var oid uint32
		var name string
		if err := rows.Scan(&oid, &name); err != nil {
			t.Fatal(err)
		}
		c.types[oid] = policy.TypeName{Schema: "public", Name: name}
	}
	rows, err = admin.Query(ctx, `SELECT p.proname, p.provolatile::text FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, vol string
		if err := rows.Scan(&name, &vol); err != nil {
			t.Fatal(err)
		}
		c.FunctionMap["public."+name] = policy.Volatility(vol[0])
	}
	rows, err = admin.Query(ctx, `SELECT t.typname, p.proname FROM pg_constraint con
		JOIN pg_type t ON t.oid = con.contypid
		JOIN pg_depend d ON d.classid = 'pg_constraint'::regclass AND d.objid = con.oid AND d.refclassid = 'pg_proc'::regclass
		JOIN pg_proc p ON p.oid = d.refobjid
		WHERE t.typnamespace = 'public'::regnamespace`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var typ, fn string
		if err := rows.Scan(&typ, &fn); err != nil {
			t.Fatal(err)
		}
		c.checks["public."+typ] = append(c.checks["public."+typ], policy.FunctionName{Schema: "public", Name: fn})
	}
	if len(c.checks) == 0 {
		t.Fatal("read no domain CHECK function")
	}
	return c
}

// TestParseParameterTypesAreJudged: the type OIDs of a Parse reach the
// server, which makes each bound value with the type's input function
// and runs a domain's CHECK, whatever the text (here SHOW, which never
// reads its parameter). pgmoat judges them as casts: a domain whose
// CHECK is volatile, a reg* type and an OID nobody knows are refused
// with 42501 naming the rule, and the connection stays usable; built-in
// types sent by pgx and an enum's OID as psycopg sends it still work.
func TestParseParameterTypesAreJudged(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, cluster.DSN(f.db))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, paramTypesSQL); err != nil {
		t.Fatal(err)
	}
	oidOf := func(typ string) uint32 {
		var oid uint32
		if err := admin.QueryRow(ctx, "SELECT $1::regtype::oid", typ).Scan(&oid); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		return oid
	}
	loud, mood := oidOf("loud"), oidOf("mood")

	// What is at stake: the server runs the CHECK at Bind of a SHOW.
	var notices []string
	onNotice := func(_ *pgconn.PgConn, n *pgconn.Notice) { notices = append(notices, n.Message) }
	dcfg, err := pgconn.ParseConfig(cluster.DSN(f.db))
	if err != nil {
		t.Fatal(err)
	}
	dcfg.OnNotice = onNotice
	direct, err := pgconn.ConnectConfig(ctx, dcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close(context.Background())
	if err := direct.ExecParams(ctx, "SHOW server_version", [][]byte{[]byte("1")}, []uint32{loud}, nil, nil).Read().Err; err != nil {
		t.Fatal(err)
	}
	if len(notices) != 1 {
		t.Fatalf("on the server the domain's CHECK ran %d times: the case proves nothing", len(notices))
	}

	f.server.engine.SetFunctions(readWireCatalog(t, ctx, admin))

	notices = nil
	cfg, err := pgconn.ParseConfig(f.dsn("alice"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.OnNotice = onNotice
	c, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	refused := []struct {
		name string
		sql  string
		oids []uint32
		rule string
	}{
		{"a domain whose CHECK is volatile, on SHOW", "SHOW server_version", []uint32{loud}, policy.RuleVolatile},
		{"the same as a second parameter", "SELECT $1::int", []uint32{23, loud}, policy.RuleVolatile},
		{"regclass", "SELECT $1", []uint32{oidOf("regclass")}, policy.RuleRelation},
		{"regproc", "SELECT $1", []uint32{oidOf("regproc")}, policy.RuleFunction},
		{"an OID nobody knows", "SELECT $1", []uint32{4000000000}, policy.RuleParamType},
	}
	for _, tc := range refused {
		for _, name := range []string{"", "named"} {
			_, err := c.Prepare(ctx, name, tc.sql, tc.oids)
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != "42501" || !strings.HasPrefix(pe.Message, "pgmoat: "+tc.rule+": ") {
				t.Errorf("%s (statement %q): %v, want 42501 pgmoat: %s", tc.name, name, err, tc.rule)
			}
			if err := c.Exec(ctx, "SELECT 1").Close(); err != nil {
				t.Fatalf("after %s: the connection is not usable: %v", tc.name, err)
			}
		}
	}
	if len(notices) != 0 {
		t.Errorf("the CHECK ran through pgmoat: %v", notices)
	}

	// An enum's OID in a raw Parse, as psycopg 3 sends it.
	res := c.ExecParams(ctx, "SELECT $1 = 'ok', $2::text", [][]byte{[]byte("ok"), []byte("x")}, []uint32{mood, 0}, nil, nil).Read()
	if res.Err != nil || len(res.Rows) != 1 || string(res.Rows[0][0]) != "t" {
		t.Fatalf("enum parameter: %v %q", res.Err, res.Rows)
	}

	// pgx in exec mode sends the OIDs of its Go values' types.
	conn := f.connect(t, "alice", pgx.QueryExecModeExec)
	var (
		n    int32
		s    string
		ts   time.Time
		arr  []int64
		flag bool
	)
	now := time.Now().UTC().Truncate(time.Second)
	if err := conn.QueryRow(ctx, "SELECT $1::int4 + 1, $2::text, $3::timestamptz, $4::int8[], $5::bool",
		int32(41), "hi", now, []int64{1, 2}, true).Scan(&n, &s, &ts, &arr, &flag); err != nil {
		t.Fatal(err)
	}
	if n != 42 || s != "hi" || !ts.Equal(now) || len(arr) != 2 || !flag {
		t.Fatalf("pgx with explicit OIDs: %d %q %v %v %v", n, s, ts, arr, flag)
	}
}

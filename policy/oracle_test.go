package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
	"github.com/pgmoat/pgmoat/introspect"
)

// The differential oracle: PostgreSQL itself says what a statement calls
// and reads. Every statement the engine allows is created as a temporary
// view (as a superuser, in a scratch database), and pg_depend lists what
// the view's stored query refers to after the server's own name
// resolution: functions (however the text spelled the call), operators,
// types and relations. A function or relation the server resolved that the
// verdict did not report, and that the engine would not allow when named
// directly, is a failing test whatever the syntax that reached it.

// oracleObjects are user objects an attacker would reach for: volatile
// functions callable by field selection, an operator, a domain whose
// CHECK calls a volatile function, and a cast with a volatile function.
const oracleObjects = `
CREATE FUNCTION public.evil(int) RETURNS int VOLATILE LANGUAGE sql AS 'SELECT $1';
CREATE FUNCTION public.evil(text) RETURNS text VOLATILE LANGUAGE sql AS 'SELECT $1';
CREATE FUNCTION public.evil(orders) RETURNS int VOLATILE LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION public.benign(int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT $1';
CREATE FUNCTION public.benign(orders) RETURNS numeric STABLE LANGUAGE sql AS 'SELECT $1.total';
CREATE FUNCTION public.evil_eq(int, text) RETURNS bool VOLATILE LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR public.### (LEFTARG = int, RIGHTARG = text, FUNCTION = public.evil_eq);
CREATE FUNCTION public.fine_eq(int, int) RETURNS bool IMMUTABLE LANGUAGE sql AS 'SELECT $1 = $2';
CREATE OPERATOR public.=#= (LEFTARG = int, RIGHTARG = int, FUNCTION = public.fine_eq);
CREATE DOMAIN public.fine_dom AS int CHECK (VALUE > 0);
CREATE TYPE public.pair AS (a int, b int);
CREATE FUNCTION public.evil_pair(text) RETURNS public.pair VOLATILE LANGUAGE sql AS 'SELECT (1, 2)::public.pair';
CREATE CAST (text AS public.pair) WITH FUNCTION public.evil_pair(text);
CREATE FUNCTION public.json_array(int) RETURNS int VOLATILE LANGUAGE sql AS 'SELECT $1';
CREATE FUNCTION public.json_object() RETURNS int VOLATILE LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION public.evil_acc(int, int) RETURNS int VOLATILE LANGUAGE sql AS 'SELECT $1';
CREATE AGGREGATE public.json_arrayagg(int) (SFUNC = public.evil_acc, STYPE = int, INITCOND = '0');
`

// oracle resolves statements on a real server.
type oracle struct {
	ctx  context.Context
	conn *pgconn.PgConn
	e    *Engine
	// checked counts statements the server resolved and compared.
	checked int
}

// resolved is what PostgreSQL's stored query for a statement refers to.
type resolved struct {
	functions []FunctionName
	relations []string // schema.name, as Verdict.Relations spells them
}

// depsSQL reads what the view's stored query calls and reads, from the
// query tree itself (pg_depend would not do: PostgreSQL records no
// dependency on pinned built-in objects, so set_config or pg_sleep would
// never show). Every function, aggregate, window function and
// TABLESAMPLE handler id; every operator (standing for its code and
// estimator functions), including the sort and equality operators the
// server chose for ORDER BY, GROUP BY and DISTINCT; every constant and
// coercion result type; and the relations of the range table.
const depsSQL = `WITH a AS (
  SELECT ev_action::text AS t FROM pg_rewrite WHERE ev_class = 'pg_temp.oracle_v'::regclass
), fn AS (
  SELECT m[2]::oid AS oid FROM a, regexp_matches(a.t, ':(funcid|opfuncid|aggfnoid|winfnoid|hashfuncid|negfuncid|tsmhandler) (\d+)', 'g') m
), op AS (
  SELECT m[2]::oid AS oid FROM a, regexp_matches(a.t, ':(opno|sortop|eqop) (\d+)', 'g') m
), ty AS (
  SELECT m[2]::oid AS oid FROM a, regexp_matches(a.t, ':(consttype|resulttype|row_typeid|typeid) (\d+)', 'g') m
), rel AS (
  SELECT m[1]::oid AS oid FROM a, regexp_matches(a.t, ':rtekind 0 :relid (\d+)', 'g') m
)
SELECT 'f', n.nspname, p.proname
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.oid IN (SELECT oid FROM fn
  UNION SELECT unnest(ARRAY[o.oprcode, o.oprrest, o.oprjoin]) FROM pg_operator o WHERE o.oid IN (SELECT oid FROM op))
UNION
SELECT 't', n.nspname, t.typname
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.oid IN (SELECT oid FROM ty)
UNION
SELECT 'r', n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid <> 'pg_temp.oracle_v'::regclass AND c.oid IN (SELECT oid FROM rel)`

// resolve asks the server what sql refers to. ok is false when the server
// refuses the statement (a type error, say): there is nothing to compare.
func (o *oracle) resolve(sql string, types CallCatalog) (resolved, bool, error) {
	body := strings.TrimRight(strings.TrimSpace(sql), "; \n\t")
	script := "CREATE TEMP VIEW oracle_v AS SELECT FROM (\n" + body + "\n) oracle_s;\n" + depsSQL + ";\nDROP VIEW pg_temp.oracle_v"
	results, err := o.conn.Exec(o.ctx, script).ReadAll()
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return resolved{}, false, nil
		}
		return resolved{}, false, err
	}
	var r resolved
	for _, row := range results[1].Rows {
		kind, schema, name := string(row[0]), string(row[1]), string(row[2])
		switch kind {
		case "f":
			r.functions = append(r.functions, FunctionName{Schema: schema, Name: name})
		case "r":
			r.relations = append(r.relations, schema+"."+name)
		case "t":
			r.functions = append(r.functions, types.TypeFunctions(schema, name)...)
		}
	}
	return r, true, nil
}

// check judges sql and, when allowed, compares the verdict with the
// server's resolution of the text that would be sent.
func (o *oracle) check(t *testing.T, types CallCatalog, sql string) {
	t.Helper()
	v := o.e.Decide(Identity{}, sql)
	if !v.Allowed || v.Kind != KindSelect || hasParam(v.SQL(sql)) {
		return
	}
	r, ok, err := o.resolve(v.SQL(sql), types)
	if err != nil {
		t.Fatalf("oracle on %q: %v", sql, err)
	}
	if !ok {
		return
	}
	o.checked++
	for _, f := range r.functions {
		if slices.Contains(v.Functions, f) || slices.Contains(v.Implicit, f) || o.allowedDirectly(f) {
			continue
		}
		t.Errorf("allowed %q, but PostgreSQL calls %s, which the verdict does not report (it reports %v) and which is denied when named", sql, f, v.Functions)
	}
	for _, rel := range r.relations {
		if !slices.Contains(RelationStrings(v.Relations), rel) {
			t.Errorf("allowed %q, but PostgreSQL reads %s, which the verdict does not report (it reports %v)", sql, rel, v.Relations)
		}
	}
}

// allowedDirectly reports whether a pg_catalog function would be allowed
// if the statement named it. Functions outside pg_catalog must be
// reported: the engine has to have seen them.
func (o *oracle) allowedDirectly(f FunctionName) bool {
	if f.Schema != "pg_catalog" {
		return false
	}
	return o.e.Decide(Identity{}, "SELECT "+f.String()+"()").Allowed
}

// hasParam reports a $n parameter outside literals, which a view cannot
// hold; such statements are left to the other tests.
func hasParam(sql string) bool {
	for i := 0; i+1 < len(sql); i++ {
		if sql[i] == '$' && sql[i+1] >= '0' && sql[i+1] <= '9' && (i == 0 || !isIdentByte(sql[i-1])) {
			return true
		}
	}
	return false
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// oracleCatalog adapts an introspected snapshot to the engine, as the
// binary does.
type oracleCatalog struct{ snap *introspect.Snapshot }

func (c oracleCatalog) Volatility(schema, name string) (Volatility, bool) {
	v, ok := c.snap.FunctionVolatility(schema, name)
	return Volatility(v), ok
}

func (c oracleCatalog) HasRelation(schema, name string) bool {
	_, ok := c.snap.Relation(schema, name)
	return ok
}

func (c oracleCatalog) RelationClass(schema, name string) (RelationClass, bool) {
	k, ok := c.snap.Class(schema, name)
	if !ok || k.Kind == "" {
		return RelationClass{}, false
	}
	return RelationClass{Kind: k.Kind[0], Partition: k.Partition, RLSChild: k.RLSChild, RowSecurity: k.RowSecurity}, true
}

// CatalogUser implements UserCatalog.
func (c oracleCatalog) CatalogUser() string { return c.snap.User }

// TypeByOID implements TypeCatalog.
func (c oracleCatalog) TypeByOID(oid uint32) (TypeName, bool) {
	t, ok := c.snap.TypeByOID(oid)
	return TypeName{Schema: t.Schema, Name: t.Name}, ok
}

func (c oracleCatalog) OperatorFunctions(schema, op string) []FunctionName {
	return refsOf(c.snap.OperatorFunctions(schema, op))
}

func (c oracleCatalog) TypeFunctions(schema, typ string) []FunctionName {
	return refsOf(c.snap.TypeFunctions(schema, typ))
}

func refsOf(names []introspect.QualifiedName) []FunctionName {
	out := make([]FunctionName, len(names))
	for i, n := range names {
		out[i] = FunctionName{Schema: n.Schema, Name: n.Name}
	}
	return out
}

// startOracle starts a server with the legit schema and the attacker's
// objects, and an engine that judges on its live catalog.
func startOracle(t testing.TB) (*oracle, oracleCatalog) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	c, db := sharedDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	conn, err := pgconn.Connect(ctx, c.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, legitSchema+oracleObjects).ReadAll(); err != nil {
		t.Fatalf("schema: %v", err)
	}
	pc, err := pgx.Connect(ctx, c.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := introspect.Load(ctx, pc)
	_ = pc.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEngine(t)
	cat := oracleCatalog{snap}
	e.SetFunctions(cat)
	return &oracle{ctx: ctx, conn: conn, e: e}, cat
}

// oracleSyntaxes are the ways a statement can make the server call a
// function or read a relation; %[1]s is a function, operator or type
// name, %[2]s a value for it.
var oracleSyntaxes = []string{
	"SELECT %[1]s(%[2]s)",
	"SELECT (%[2]s).%[1]s",
	"SELECT (%[2]s).%[1]s IS NULL",
	"SELECT g.%[1]s FROM (SELECT %[2]s AS x) g",
	"SELECT g.%[1]s FROM generate_series(1, 2) g",
	"SELECT o.%[1]s FROM orders o",
	"SELECT public.orders.%[1]s FROM orders",
	"SELECT (o).%[1]s FROM orders o",
	"SELECT * FROM %[1]s(%[2]s) f",
	"SELECT * FROM ROWS FROM (%[1]s(%[2]s)) f",
	"SELECT x FROM orders o, LATERAL (SELECT (o.id).%[1]s) s(x)",
	"SELECT 1 WHERE (%[2]s).%[1]s IS NOT NULL",
	"WITH c AS (SELECT (%[2]s).%[1]s AS v) SELECT * FROM c",
	"SELECT (SELECT (%[2]s).%[1]s)",
	"SELECT count(*) FILTER (WHERE (%[2]s).%[1]s IS NULL) FROM orders",
	"SELECT 1 ORDER BY (%[2]s).%[1]s",
	"SELECT ARRAY[(%[2]s).%[1]s]",
	"SELECT '1'::%[1]s",
	"SELECT CAST(%[2]s AS %[1]s)",
	"SELECT %[1]s '1'",
	"SELECT ARRAY['1']::%[1]s[]",
	"SELECT 1 %[1]s %[2]s",
	"SELECT 1 WHERE 1 %[1]s ANY (ARRAY[%[2]s])",
	"SELECT x FROM (VALUES (1)) v(x) ORDER BY x USING %[1]s",
}

// oracleValues are arguments of several types.
var oracleValues = []string{"1", "'1'::text", "4.0::float8", "42::bigint", "'x'", "o", "(SELECT o FROM orders o LIMIT 1)"}

// oracleCallees are names to call: the attacker's objects, every name on
// the built-in deny lists, and a sample of harmless built-ins.
func oracleCallees() []string {
	names := []string{"evil", "benign", "###", "=#=", "fine_dom", "pair", "json_array",
		"pg_sleep", "set_config", "ts_stat", "pg_advisory_lock", "pg_terminate_backend",
		"pg_stat_get_backend_activity", "pg_read_file", "nextval", "timeofday", "clock_timestamp",
		"random", "upper", "length", "int8", "text", "regclass", "pg_typeof", "abs", "=", "<", "~~"}
	for _, n := range builtinDenyFunctions() {
		if !strings.Contains(n, "*") && !strings.Contains(n, ".") && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

// TestOracleAgreesWithPostgreSQL compares every allowed statement of the
// corpora, and a generated set crossing each call syntax with each callee
// and value, with the server's own resolution.
func TestOracleAgreesWithPostgreSQL(t *testing.T) {
	o, cat := startOracle(t)
	t.Run("legit", func(t *testing.T) {
		for _, sql := range legit {
			o.check(t, cat, sql)
		}
		_, queries := psqlMeta(t)
		for _, sql := range queries {
			o.check(t, cat, sql)
		}
	})
	t.Run("hostile", func(t *testing.T) {
		for _, c := range hostile {
			o.check(t, cat, c.sql)
		}
	})
	t.Run("generated", func(t *testing.T) {
		before := o.checked
		for _, syntax := range oracleSyntaxes {
			for _, callee := range oracleCallees() {
				for _, val := range oracleValues {
					o.check(t, cat, fmt.Sprintf(syntax, callee, val))
				}
			}
		}
		// The generator must reach the server often enough to mean
		// something: a broken fixture would compare nothing.
		if n := o.checked - before; n < 300 {
			t.Fatalf("only %d generated statements were allowed and resolved; the generator or fixture is broken", n)
		}
		t.Logf("%d generated statements allowed and compared with the server", o.checked-before)
	})
	t.Run("attacker objects are denied", func(t *testing.T) {
		for sql, rule := range map[string]string{
			"SELECT (1).evil":                                     RuleVolatile,
			"SELECT o.evil FROM orders o":                         RuleVolatile,
			"SELECT 1 ### 'x'":                                    RuleVolatile,
			"SELECT CAST('x'::text AS pair)":                      RuleVolatile,
			"SELECT ('x'::text).pair":                             RuleVolatile,
			"SELECT o.benign FROM orders o":                       "",
			"SELECT 1 =#= 1":                                      "",
			"SELECT '1'::fine_dom":                                "",
			"SELECT (x).benign, (x)::int8 FROM (SELECT 1 AS x) s": "",
		} {
			v := o.e.Decide(Identity{}, sql)
			if v.Rule != rule {
				t.Errorf("%q: rule %q (%s), want %q", sql, v.Rule, v.Reason, rule)
			}
		}
	})
}

// TestBuiltinImplicitCallsAreAllowed checks the premise that lets the
// online catalog list only functions outside pg_catalog: every function
// pg_catalog's own operators, casts, types, aggregates and operator
// classes call is one the engine would allow by name.
func TestBuiltinImplicitCallsAreAllowed(t *testing.T) {
	o, _ := startOracle(t)
	const q = `SELECT DISTINCT p.proname FROM pg_proc p WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.oid IN (
  SELECT unnest(ARRAY[oprcode, oprrest, oprjoin]::oid[]) FROM pg_operator WHERE oprnamespace = 'pg_catalog'::regnamespace
  UNION SELECT castfunc FROM pg_cast
  UNION SELECT unnest(ARRAY[typinput, typoutput, typreceive, typsend, typmodin, typmodout, typsubscript, typanalyze]::oid[])
    FROM pg_type WHERE typnamespace = 'pg_catalog'::regnamespace
  UNION SELECT unnest(ARRAY[aggtransfn, aggfinalfn, aggcombinefn, aggserialfn, aggdeserialfn, aggmtransfn, aggminvtransfn, aggmfinalfn]::oid[]) FROM pg_aggregate
  UNION SELECT amproc FROM pg_amproc)
ORDER BY 1`
	results, err := o.conn.Exec(o.ctx, q).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	rows := results[0].Rows
	if len(rows) < 500 {
		t.Fatalf("only %d functions behind built-in operators, casts and types; the query is wrong", len(rows))
	}
	for _, row := range rows {
		name := string(row[0])
		if oidInputFunctions[name] {
			// Behind a spelled type they make a value of that type, and
			// the type name is judged (rowtypenode.go); called by name
			// they take any type's OID, so the engine denies the call.
			continue
		}
		if v := o.e.Decide(Identity{}, "SELECT pg_catalog."+quoteIdent(name)+"()"); !v.Allowed {
			t.Errorf("pg_catalog.%s runs behind a built-in operator, cast, type or aggregate but is denied when named: %s", name, v.Reason)
		}
	}
}

// TestImpliedCallsFailClosed: some calls need no name in the text.
// ORDER BY and DISTINCT call a type's default B-tree support function,
// found by type in any schema; generic built-ins such as
// jsonb_populate_record run the input functions and domain CHECKs of a
// row type's columns. A database where such a call runs a volatile
// function gets every SELECT denied, naming it, rather than some allowed.
func TestImpliedCallsFailClosed(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	c := shared.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dbs := map[string]string{} // name in this test -> database of its own
	engineOn := func(db string) *Engine {
		pc, err := pgx.Connect(ctx, c.DSN(dbs[db]))
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close(ctx)
		snap, err := introspect.Load(ctx, pc)
		if err != nil {
			t.Fatal(err)
		}
		e := newTestEngine(t)
		e.SetFunctions(oracleCatalog{snap})
		return e
	}
	setup := func(db, sql string) {
		dbs[db] = pgcluster.NewDatabase(t, c)
		pc, err := pgx.Connect(ctx, c.DSN(dbs[db]))
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close(ctx)
		if _, err := pc.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", db, err)
		}
	}
	setup("sorting", `CREATE SCHEMA sorting;
CREATE TYPE sorting.pair AS (a int, b int);
CREATE FUNCTION sorting.evil_cmp(sorting.pair, sorting.pair) RETURNS int VOLATILE LANGUAGE sql AS 'SELECT 0';
CREATE FUNCTION sorting.pair_lt(sorting.pair, sorting.pair) RETURNS bool IMMUTABLE LANGUAGE sql AS 'SELECT false';
CREATE OPERATOR sorting.< (LEFTARG = sorting.pair, RIGHTARG = sorting.pair, FUNCTION = sorting.pair_lt);
CREATE OPERATOR CLASS sorting.pair_ops DEFAULT FOR TYPE sorting.pair USING btree AS
  OPERATOR 1 sorting.<, FUNCTION 1 sorting.evil_cmp(sorting.pair, sorting.pair)`)
	setup("domains", `CREATE FUNCTION evil_check(int) RETURNS bool VOLATILE LANGUAGE sql AS 'SELECT true';
CREATE DOMAIN evil_dom AS int CHECK (evil_check(VALUE));
CREATE TYPE dpair AS (a evil_dom, b int);
CREATE TABLE dtab (id int, d evil_dom);
CREATE TYPE drange AS RANGE (subtype = evil_dom)`)
	setup("fine", `CREATE FUNCTION fine_check(int) RETURNS bool IMMUTABLE LANGUAGE sql AS 'SELECT $1 > 0';
CREATE DOMAIN fine_dom AS int CHECK (fine_check(VALUE));
CREATE TABLE ftab (id int, d fine_dom)`)

	statements := []string{
		"SELECT 1 ORDER BY 1",
		"SELECT DISTINCT 1",
		"SELECT '(9,1)'::dpair",
		"SELECT '[1,3)'::drange",
		"SELECT jsonb_populate_record(t, '{\"d\": 5}') FROM dtab t",
		"SELECT * FROM jsonb_populate_recordset(NULL::dpair, '[{\"a\": 7}]')",
	}
	for db, wantDenied := range map[string]bool{"sorting": true, "domains": true, "fine": false} {
		e := engineOn(db)
		for _, sql := range statements[:2] {
			v := e.Decide(Identity{}, sql)
			if wantDenied && v.Allowed || !wantDenied && !v.Allowed {
				t.Errorf("%s: %q: allowed %v (%s), want denied %v", db, sql, v.Allowed, v.Reason, wantDenied)
			}
		}
		if db == "domains" {
			for _, sql := range statements[2:] {
				if v := e.Decide(Identity{}, sql); v.Allowed {
					t.Errorf("%s: %q allowed; it runs evil_check", db, sql)
				}
			}
		}
		if v := e.Decide(Identity{}, "SHOW search_path"); !v.Allowed {
			t.Errorf("%s: SHOW is not a SELECT and runs no type functions, yet: %s", db, v.Reason)
		}
	}
	if v := engineOn("domains").Decide(Identity{}, "SELECT 1"); !strings.Contains(v.Reason, "evil_check") {
		t.Errorf("the denial does not name the function: %q", v.Reason)
	}
}

// FuzzOracle feeds mutated statements to the oracle: whatever the engine
// allows must call and read only what its verdict reports. The seeds are
// the generated cross of syntaxes and callees that reach the server.
func FuzzOracle(f *testing.F) {
	o, cat := startOracle(f)
	for i, syntax := range oracleSyntaxes {
		callees := oracleCallees()
		f.Add(fmt.Sprintf(syntax, callees[i%len(callees)], oracleValues[i%len(oracleValues)]))
		f.Add(fmt.Sprintf(syntax, "evil", "1"))
	}
	f.Fuzz(func(t *testing.T, sql string) {
		if len(sql) > 2000 {
			return // the oracle costs a server round trip; long texts add nothing here
		}
		o.check(t, cat, sql)
	})
}

// ServerEncoding implements EncodingCatalog.
func (c oracleCatalog) ServerEncoding() string { return c.snap.Encoding }

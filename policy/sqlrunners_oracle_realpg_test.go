package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmoat/pgmoat/introspect"
)

// The SQL-runner oracle: rather than reading extension sources for
// functions that run SQL text handed to them, every function a DBA could
// have installed is called, as the backend role would call it, with
// arguments that name a marker, and the server says which of them ran it.
// A function the engine allows by name that runs the marker runs SQL the
// engine never judged.

// runnerMarkerNotice is what the marker raises. Notices reach the client
// as the server raises them, ahead of the statement's own error or
// cancellation, so a call is seen even when the statement then fails.
const runnerMarkerNotice = "pgmoat marker ran"

// runnerProbeObjects are the marker and what names it: a view whose
// query calls it (its one column carries the view's name, so a text that
// names the view is a valid column reference too), and the text forms a
// function could run.
const runnerProbeObjects = `
CREATE FUNCTION public.pgmoat_marker() RETURNS boolean VOLATILE LANGUAGE plpgsql
  AS $$ BEGIN RAISE NOTICE '` + runnerMarkerNotice + `'; RETURN true; END $$;
CREATE VIEW public.pgmoat_probe_v AS SELECT public.pgmoat_marker()::text AS pgmoat_probe_v;
CREATE TYPE public.pgmoat_probe_e AS ENUM ('pgmoat_probe_v');
CREATE TABLE public.pgmoat_probe_t (pgmoat_probe_v text);
INSERT INTO public.pgmoat_probe_t VALUES ('pgmoat_probe_v');
ALTER TABLE public.pgmoat_probe_t ENABLE ROW LEVEL SECURITY;
CREATE POLICY pgmoat_probe ON public.pgmoat_probe_t USING (public.pgmoat_marker());
`

// runnerVariant is one set of argument values: text for text
// arguments, a relation for regclass arguments and an object for oid
// arguments.
type runnerVariant struct{ text, rel, oid string }

// runnerVariants are the probes' argument values. Text is a query, an
// expression (a column list or WHERE clause built from arguments), or a
// relation by qualified or bare name (a relation or column name built
// into a query). Relations are the view, and a table whose row-level
// security policy calls the marker (read through the executor, it runs
// it). Objects are those two and the marker itself.
var runnerVariants = []runnerVariant{
	{"SELECT public.pgmoat_marker()", "public.pgmoat_probe_v", "public.pgmoat_probe_v"},
	{"public.pgmoat_marker()", "public.pgmoat_probe_t", "public.pgmoat_marker"},
	{"public.pgmoat_probe_v", "public.pgmoat_probe_v", "public.pgmoat_probe_t"},
	{"pgmoat_probe_v", "public.pgmoat_probe_t", "public.pgmoat_probe_v"},
	{"public.pgmoat_probe_t", "public.pgmoat_probe_t", "public.pgmoat_probe_t"},
}

// runnerControls are denied functions known to run SQL from their
// arguments: the oracle must see each of them run the marker, or its
// probes prove nothing.
var runnerControls = []string{"crosstab", "crosstab2", "connectby", "xpath_table", "query_to_xml", "table_to_xml", "database_to_xml", "ts_stat", "ts_rewrite"}

// runnerFunc is one pg_proc row.
type runnerFunc struct {
	schema, name, kind, aggKind string
	regproc                     string // oid::regprocedure, as the doctor spells it
	retSet, strict              bool
	retType                     string
	variadic                    bool
	directArgs                  int
	args                        []runnerArg
	recordNoOut                 bool
}

// runnerArg is one argument type: its format_type spelling, typtype and
// typcategory.
type runnerArg struct{ typ, typtype, category string }

func (f runnerFunc) qualified() string { return quoteIdent(f.schema) + "." + quoteIdent(f.name) }

func (f runnerFunc) signature() string {
	types := make([]string, len(f.args))
	for i, a := range f.args {
		types[i] = a.typ
	}
	return f.schema + "." + f.name + "(" + strings.Join(types, ",") + ")"
}

const qRunnerFuncs = `
SELECT n.nspname, p.proname, p.prokind, coalesce(a.aggkind, ''), p.proretset, p.proisstrict,
  format_type(p.prorettype, NULL), p.provariadic <> 0, coalesce(a.aggnumdirectargs, 0),
  p.prorettype = 'record'::regtype AND p.proallargtypes IS NULL,
  coalesce((SELECT string_agg(format_type(t.oid, NULL) || '|' || t.typtype::text || '|' || t.typcategory::text, ';' ORDER BY u.i)
    FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY u(o, i) JOIN pg_type t ON t.oid = u.o), ''),
  p.oid::regprocedure::text
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
LEFT JOIN pg_aggregate a ON a.aggfnoid = p.oid
ORDER BY 1, 2, p.oid`

func loadRunnerFuncs(ctx context.Context, t *testing.T, conn *pgconn.PgConn) []runnerFunc {
	t.Helper()
	res, err := conn.Exec(ctx, qRunnerFuncs).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []runnerFunc
	for _, r := range res[0].Rows {
		f := runnerFunc{schema: string(r[0]), name: string(r[1]), kind: string(r[2]), aggKind: string(r[3]),
			retSet: string(r[4]) == "t", strict: string(r[5]) == "t", retType: string(r[6]),
			variadic: string(r[7]) == "t", recordNoOut: string(r[9]) == "t"}
		_, _ = fmt.Sscan(string(r[8]), &f.directArgs)
		f.regproc = string(r[11])
		if s := string(r[10]); s != "" {
			for _, a := range strings.Split(s, ";") {
				p := strings.SplitN(a, "|", 3)
				f.args = append(f.args, runnerArg{typ: p[0], typtype: p[1], category: p[2]})
			}
		}
		out = append(out, f)
	}
	return out
}

// uncallable are types no SQL statement can pass or receive as a value.
var uncallable = map[string]bool{"internal": true, "trigger": true, "event_trigger": true,
	"language_handler": true, "fdw_handler": true, "index_am_handler": true, "tsm_handler": true,
	"table_am_handler": true}

// callable reports whether a statement can call f at all.
func (f runnerFunc) callable() bool {
	if f.kind == "p" || uncallable[f.retType] {
		return false
	}
	for _, a := range f.args {
		if uncallable[a.typ] {
			return false
		}
	}
	return true
}

// prober builds the probes' argument values.
type prober struct {
	oids map[string]uint32 // the variants' objects
	// literals are, by type, a literal its input function accepts, found
	// by trying runnerLiterals on the server; textual types accept the
	// probe text itself.
	literals map[string]string
	textual  map[string]bool
}

// runnerLiterals are tried, in order, as the value of a type the probes
// have no rule for.
var runnerLiterals = []string{"1", "0", "", "{}", "{1}", "[1,2)", "{[1,2)}", "(1,1)", "((0,0),(1,1))", "<(0,0),1>",
	"a", "a & b", "t", "x", `\x00`, "127.0.0.1", "08:00:2b:01:02:03", "08:00:2b:01:02:03:04:05", "00:00", "1/1",
	"978-0-393-04002-9", "0-393-04002-X", "036000291452", "979-0-2600-0043-8", "1144-875X", "(1,2,3)", "1 2",
	"a=>b", "a.b", "a*", "1 & 2", "[2000-01-01,2000-01-02)", "00000000-0000-0000-0000-000000000000", "2000-01-01", "1 second", "<a/>"}

// learnLiterals finds, for every type an argument takes that the rules
// of value do not cover, a literal the server accepts.
func (pr *prober) learnLiterals(ctx context.Context, conn *pgconn.PgConn, funcs []runnerFunc) {
	pr.literals, pr.textual = map[string]string{}, map[string]bool{}
	seen := map[string]bool{}
	for _, f := range funcs {
		for _, a := range f.args {
			if seen[a.typ] || a.typtype == "p" {
				continue
			}
			seen[a.typ] = true
			if _, nulled := pr.value(a, runnerVariants[0]); !nulled {
				continue
			}
			if _, err := conn.Exec(ctx, "SELECT "+quoteLiteral(runnerVariants[0].text)+"::"+a.typ).ReadAll(); err == nil {
				pr.textual[a.typ] = true
				continue
			}
			for _, lit := range runnerLiterals {
				if _, err := conn.Exec(ctx, "SELECT "+quoteLiteral(lit)+"::"+a.typ).ReadAll(); err == nil {
					pr.literals[a.typ] = quoteLiteral(lit) + "::" + a.typ
					break
				}
			}
		}
	}
}

// value is the value a probe of variant pv passes for a; nulled says
// the oracle had nothing better than NULL.
func (pr *prober) value(a runnerArg, pv runnerVariant) (v string, nulled bool) {
	lit := quoteLiteral(pv.text)
	if pr.textual[a.typ] {
		return lit + "::" + a.typ, false
	}
	if l, ok := pr.literals[a.typ]; ok {
		return l, false
	}
	switch a.typ {
	case "regclass":
		return quoteLiteral(pv.rel) + "::regclass", false
	case "regproc":
		return "'public.pgmoat_marker'::regproc", false
	case "regprocedure":
		return "'public.pgmoat_marker()'::regprocedure", false
	case "oid":
		return fmt.Sprintf("%d::oid", pr.oids[pv.oid]), false
	case "regnamespace":
		return "'public'::regnamespace", false
	case "regconfig", "regdictionary":
		return "'simple'::" + a.typ, false
	case "regtype":
		return "'text'::regtype", false
	case "cstring", "\"any\"", "anyelement", "anynonarray", "anycompatible", "anycompatiblenonarray", "unknown":
		return lit + "::text", false
	case "anyarray", "anycompatiblearray":
		return "ARRAY[" + lit + "]::text[]", false
	case "record":
		return "ROW(" + lit + "::text)", false
	case "anyenum":
		return "'pgmoat_probe_v'::public.pgmoat_probe_e", false
	case "anyrange", "anycompatiblerange":
		return "'[1,2)'::int4range", false
	case "anymultirange", "anycompatiblemultirange":
		return "'{[1,2)}'::int4multirange", false
	case "json", "jsonb":
		return quoteLiteral(`{"pgmoat_probe_v": `+jsonQuote(pv.text)+`}`) + "::" + a.typ, false
	case "xml":
		return quoteLiteral("<pgmoat_probe_v>"+pv.text+"</pgmoat_probe_v>") + "::xml", false
	case "tsquery", "tsvector":
		return "'pgmoat'::" + a.typ, false
	case "interval":
		return "'1 second'::interval", false
	case "date", "timestamp without time zone", "timestamp with time zone":
		return "'2000-01-01'::" + a.typ, false
	case "text[]", "character varying[]", "name[]", "cstring[]":
		return "ARRAY[" + lit + "]::" + a.typ, false
	}
	switch {
	case a.category == "S":
		return lit + "::" + a.typ, false
	case a.category == "N" && a.typtype == "b":
		return "1::" + a.typ, false
	case a.category == "B":
		return "true", false
	}
	return "NULL::" + a.typ, true
}

func jsonQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// probe is one statement calling one function.
type probe struct {
	f      runnerFunc
	sql    string
	nulled []string // argument types passed as NULL
}

// probesFor builds the statements that call f, once per variant that
// gives some argument another value.
func (pr *prober) probesFor(f runnerFunc) []probe {
	var out []probe
	seen := map[string]bool{}
	for _, pv := range runnerVariants {
		p := probe{f: f}
		vals := make([]string, len(f.args))
		for i, a := range f.args {
			v, nulled := pr.value(a, pv)
			if nulled {
				p.nulled = append(p.nulled, a.typ)
			}
			vals[i] = v
			if f.variadic && i == len(f.args)-1 && a.category == "A" {
				vals[i] = "VARIADIC " + v
			}
		}
		for _, sql := range callStatements(f, vals) {
			if !seen[sql] {
				seen[sql] = true
				p.sql = sql
				out = append(out, p)
			}
		}
	}
	return out
}

// callStatements call f with vals in the form its kind needs. A
// function returning record takes its columns from the statement and may
// check them before it runs anything, so it is called once per column
// list of up to five text and integer columns.
func callStatements(f runnerFunc, vals []string) []string {
	call := f.qualified() + "(" + strings.Join(vals, ", ") + ")"
	if f.recordNoOut {
		var out []string
		for _, cols := range columnLists(5) {
			out = append(out, "SELECT * FROM "+call+" AS t("+cols+")")
		}
		return out
	}
	return []string{callStatement(f, call, vals)}
}

// columnLists are the column definition lists of 1 to n columns, each
// text or integer.
func columnLists(n int) []string {
	var out []string
	var grow func(prefix []string)
	grow = func(prefix []string) {
		if len(prefix) > 0 {
			out = append(out, strings.Join(prefix, ", "))
		}
		if len(prefix) == n {
			return
		}
		for _, ty := range []string{"text", "int"} {
			grow(append(slices.Clone(prefix), fmt.Sprintf("c%d %s", len(prefix), ty)))
		}
	}
	grow(nil)
	return out
}

// callStatement calls f, spelled call with vals, in the form its kind
// needs.
func callStatement(f runnerFunc, call string, vals []string) string {
	switch {
	case f.kind == "w":
		return "SELECT " + call + " OVER ()"
	case f.kind == "a" && (f.aggKind == "o" || f.aggKind == "h"):
		n := min(f.directArgs, len(vals))
		order := vals[n:]
		if len(order) == 0 {
			order = []string{"1"}
		}
		return "SELECT " + f.qualified() + "(" + strings.Join(vals[:n], ", ") + ") WITHIN GROUP (ORDER BY " + strings.Join(order, ", ") + ")"
	}
	return "SELECT " + call
}

// runnerSession is the backend role's connection the probes run on, and
// the notices it collected.
type runnerSession struct {
	ctx     context.Context
	cfg     *pgconn.Config
	conn    *pgconn.PgConn
	marked  bool // the current statement ran the marker
	notices int  // marker notices seen
}

func (s *runnerSession) connect() error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := pgconn.ConnectConfig(s.ctx, s.cfg)
		if err == nil {
			s.conn = conn
			return nil
		}
		// After a backend crash the server refuses connections until
		// its recovery is over.
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-s.ctx.Done():
			return s.ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// run executes sql and reports whether it ran the marker, and whether
// the connection was lost (a crashed backend).
func (s *runnerSession) run(sql string) (marked, lost bool, err error) {
	s.marked = false
	_, err = s.conn.Exec(s.ctx, sql).ReadAll()
	var pe *pgconn.PgError
	if err != nil && !errors.As(err, &pe) {
		s.conn.Close(context.Background())
		if cerr := s.connect(); cerr != nil {
			return s.marked, true, cerr
		}
		return s.marked, true, nil
	}
	return s.marked, false, nil
}

// installContrib creates every extension the installation offers and
// returns those that could not be created, with why.
func installContrib(ctx context.Context, t *testing.T, admin *pgconn.PgConn) (installed int, failed []string) {
	t.Helper()
	for _, name := range column(ctx, t, admin, `SELECT name FROM pg_available_extensions WHERE installed_version IS NULL ORDER BY 1`) {
		if _, err := admin.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS "+quoteIdent(name)+" CASCADE").ReadAll(); err != nil {
			failed = append(failed, name+": "+err.Error())
			continue
		}
		installed++
	}
	return installed, failed
}

// TestNoAllowedFunctionRunsSQLText installs every contrib extension,
// calls every function in pg_proc that the engine (on the introspected
// catalog, with the online readonly profile) allows by name, as a plain
// role in read-only transactions, with arguments naming the marker, and
// fails naming each allowed function that ran the marker.
func TestNoAllowedFunctionRunsSQLText(t *testing.T) {
	c, db, ctx := realPG(t, 3*time.Minute)
	admin, err := pgconn.Connect(ctx, c.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	installed, failed := installContrib(ctx, t, admin)
	t.Logf("%d contrib extensions installed; not created: %v", installed, failed)
	if installed < 30 {
		t.Fatalf("only %d extensions installed; the fixture is broken", installed)
	}
	role := "runner_probe_" + strings.TrimPrefix(db, "t_")
	if _, err := admin.Exec(ctx, runnerProbeObjects+
		"CREATE ROLE "+role+" LOGIN PASSWORD 'probe';"+
		"GRANT SELECT ON public.pgmoat_probe_v, public.pgmoat_probe_t TO "+role+";"+
		"ALTER DATABASE "+quoteIdent(db)+" SET track_functions = 'pl'").ReadAll(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_, _ = admin.Exec(context.Background(), "DROP OWNED BY "+role+"; DROP ROLE "+role).ReadAll()
	}()
	pr := &prober{oids: map[string]uint32{}}
	for _, name := range []string{"public.pgmoat_probe_v", "public.pgmoat_probe_t"} {
		var oid uint32
		_, _ = fmt.Sscan(column(ctx, t, admin, "SELECT "+quoteLiteral(name)+"::regclass::oid")[0], &oid)
		pr.oids[name] = oid
	}
	var oid uint32
	_, _ = fmt.Sscan(column(ctx, t, admin, "SELECT 'public.pgmoat_marker'::regproc::oid")[0], &oid)
	pr.oids["public.pgmoat_marker"] = oid

	e := runnerEngine(ctx, t, c.DSNFor(role, "probe", db))
	funcs := loadRunnerFuncs(ctx, t, admin)
	pr.learnLiterals(ctx, admin, funcs)

	cfg, err := pgconn.ParseConfig(c.DSNFor(role, "probe", db))
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["default_transaction_read_only"] = "on"
	cfg.RuntimeParams["statement_timeout"] = "2s"
	cfg.RuntimeParams["search_path"] = "public"
	s := &runnerSession{ctx: ctx, cfg: cfg}
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		if n.Message == runnerMarkerNotice {
			s.marked = true
			s.notices++
		}
	}
	if err := s.connect(); err != nil {
		t.Fatal(err)
	}
	defer func() { s.conn.Close(context.Background()) }()

	var (
		runners  = map[string]bool{}   // allowed functions that ran the marker
		ranSQL   = map[string]string{} // every function that ran it: signature → regprocedure
		unprobed = map[string][]string{}
		crashed  []string // statements that ended the backend
		allowed  int
		stmts    int
	)
	for _, f := range funcs {
		if !f.callable() || f.schema == "public" && strings.HasPrefix(f.name, "pgmoat_") {
			continue
		}
		// Denied functions are called too: what runs SQL must be on the
		// doctor's list whatever the engine says.
		byName := e.Decide(Identity{}, "SELECT "+f.qualified()+"()").Allowed
		if byName {
			allowed++
		}
		ran := false
		for _, p := range pr.probesFor(f) {
			stmts++
			marked, lost, err := s.run(p.sql)
			if err != nil {
				t.Fatalf("reconnect after %s: %v", p.sql, err)
			}
			if lost {
				crashed = append(crashed, p.sql)
			}
			ran = ran || marked
			if len(p.nulled) > 0 && f.strict && byName {
				unprobed[f.signature()] = p.nulled
			}
		}
		if ran {
			ranSQL[f.signature()] = f.regproc
		}
		if ran && byName {
			runners[f.signature()] = true
		}
	}
	t.Logf("%d functions called in %d statements, %d of them allowed by name; these ran the marker: %v", len(funcs), stmts, allowed, sortedKeys(ranSQL))
	// A catalog that makes the engine refuse every SELECT (a volatile
	// function in an operator class, a type's I/O, an implicit cast)
	// would leave nothing allowed to look at, and the test would pass
	// for nothing: most of pg_proc is allowed by name.
	if allowed < len(funcs)/2 {
		t.Errorf("only %d of %d functions allowed by name: the fixture's catalog makes the engine refuse what it should probe", allowed, len(funcs))
	}
	if len(crashed) > 0 {
		t.Errorf("allowed calls that ended the backend: %v", crashed)
	}
	for _, name := range runnerControls {
		if !slices.ContainsFunc(sortedKeys(ranSQL), func(sig string) bool { return strings.Contains(sig, "."+name+"(") }) {
			t.Errorf("control %s never ran the marker: the probes are broken", name)
		}
	}
	logUnprobed(t, unprobed)
	if len(runners) > 0 {
		t.Errorf("allowed by name, yet they ran SQL from their arguments:\n  %s", strings.Join(sortedKeys(runners), "\n  "))
	}
	checkDoctorLists(ctx, t, c.DSNFor(role, "probe", db), ranSQL)
	checkMarkerCount(ctx, t, s, admin)
}

// checkDoctorLists fails for each function that ran the marker which the
// doctor's check of the backend role does not tell the DBA to revoke.
func checkDoctorLists(ctx context.Context, t *testing.T, dsn string, ranSQL map[string]string) {
	t.Helper()
	pc, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(context.Background())
	report, err := introspect.CheckRole(ctx, pc, introspect.SafetyOptions{RLSSetting: "request.user_id"})
	if err != nil {
		t.Fatal(err)
	}
	var listed string
	for _, f := range report.Findings {
		if f.Check == "functions.sql_text" {
			listed = f.Message
		}
	}
	for _, sig := range sortedKeys(ranSQL) {
		if !strings.Contains(listed, "REVOKE EXECUTE ON FUNCTION "+ranSQL[sig]+" FROM") {
			t.Errorf("%s ran SQL from its arguments, but the doctor does not list it as a SQL runner to revoke", sig)
		}
	}
}

// runnerEngine builds the engine as the proxy does: the catalog
// introspected as the backend role, and the readonly profile reading the
// schemas that role may use.
func runnerEngine(ctx context.Context, t *testing.T, dsn string) *Engine {
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
	p := ReadonlyProfile()
	p.AllowSchemas = sortedKeys(snap.UsableSchemas())
	e, err := New(Options{Profiles: map[string]Profile{DefaultProfile: p}, Functions: oracleCatalog{snap}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// logUnprobed lists the strict functions called with a NULL argument:
// the server never ran them, so the oracle says nothing about them.
func logUnprobed(t *testing.T, unprobed map[string][]string) {
	byType := map[string]int{}
	for _, types := range unprobed {
		for _, ty := range types {
			byType[ty]++
		}
	}
	t.Logf("%d strict allowed functions took a NULL argument and were not probed; by type: %v", len(unprobed), byType)
	t.Logf("not probed:\n  %s", strings.Join(sortedKeys(unprobed), "\n  "))
}

// checkMarkerCount compares the notices with the server's own count of
// marker calls, flushed from the probe backend and read from another
// session: a call whose notice was lost would hide a runner.
func checkMarkerCount(ctx context.Context, t *testing.T, s *runnerSession, admin *pgconn.PgConn) {
	t.Helper()
	if _, err := s.conn.Exec(ctx, "SELECT pg_stat_force_next_flush()").ReadAll(); err != nil {
		t.Fatalf("flush statistics: %v", err)
	}
	column(ctx, t, admin, "SELECT pg_stat_clear_snapshot()")
	got := column(ctx, t, admin, `SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions WHERE funcid = 'public.pgmoat_marker'::regproc`)
	var calls int
	_, _ = fmt.Sscan(got[0], &calls)
	if calls != s.notices {
		t.Errorf("the server counted %d marker calls, the notices %d", calls, s.notices)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

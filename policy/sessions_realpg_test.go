package policy

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pgmoat/pgmoat/integration/pgcluster"
)

// showsSessions matches the pg_catalog views and functions whose names
// suggest they show other sessions, session state or server internals.
// Every match must be denied by the engine or reviewed (reviewedAllowed,
// statusFunctions), so that an object a later PostgreSQL adds fails
// TestSessionViewsReviewed until someone decides it.
var showsSessions = regexp.MustCompile(`^(pg|inet|txid)_(.*_)?(activity|backend|session|sessions|lock|locks|cursor|cursors|prepared|listening|channels|progress|ssl|gssapi|memory|shmem|pid|pids|snapshot|config|file|hba|ident|setting|settings|replication|wal|receiver|sender|senders|subscription|origin|control|xact|recovery|archiver|postmaster|conf|client|server|temp|statement|statements)(_|$)|^pg_stat_`)

func TestSessionViewsReviewed(t *testing.T) {
	c, db, ctx := realPG(t, 2*time.Minute)
	conn, err := pgconn.Connect(ctx, c.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	allowed := reviewedNames()
	e := newTestEngine(t)
	views := column(ctx, t, conn, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'pg_catalog' AND c.relkind IN ('v', 'm') ORDER BY 1`)
	funcs := column(ctx, t, conn, `SELECT DISTINCT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE n.nspname = 'pg_catalog'
		AND NOT EXISTS (SELECT 1 FROM pg_type ty WHERE p.oid IN (ty.typinput, ty.typoutput, ty.typreceive, ty.typsend))
		ORDER BY 1`)
	used := map[string]bool{}
	matched := 0
	check := func(name, sql string) {
		if !showsSessions.MatchString(name) {
			return
		}
		matched++
		v := e.Decide(Identity{}, sql)
		if pattern, ok := allowed.match(name); ok {
			used[pattern] = true
			if !v.Allowed {
				t.Errorf("%s is on the reviewed allowed list but the engine denies it: %s", name, v.Reason)
			}
			return
		}
		if v.Allowed {
			t.Errorf("%s is allowed but not reviewed: deny it in lists.go or add it to reviewedAllowed with the reason", name)
		}
	}
	for _, v := range views {
		check(v, "SELECT * FROM pg_catalog."+quoteIdent(v))
	}
	for _, f := range funcs {
		check(f, "SELECT pg_catalog."+quoteIdent(f)+"()")
	}
	if matched < 150 {
		t.Errorf("the pattern matched only %d objects; is it still reading the catalog?", matched)
	}
	for _, name := range append(views, funcs...) {
		if pattern, ok := allowed.match(name); ok {
			used[pattern] = true
		}
	}
	for pattern := range allowed {
		if !used[pattern] {
			t.Errorf("reviewed entry %s matches nothing in PostgreSQL's catalog", pattern)
		}
	}
}

// TestExtensionSessionViewsDenied installs pg_stat_statements in public
// and, in a second database, in another schema, and checks that each of
// its views and functions is denied there by the any-schema entries,
// qualified or found on the search path, even for a profile that can
// read that schema. It also shows what the denial protects: a statement
// prepared on a backend is readable with its literal by the next user of
// that backend.
func TestExtensionSessionViewsDenied(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	c := shared.Get(t) // pg_stat_statements is preloaded
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	first := pgcluster.NewDatabase(t, c)
	for _, db := range []struct{ name, schema string }{{first, "public"}, {pgcluster.NewDatabase(t, c), "monitoring"}} {
		conn, err := pgconn.Connect(ctx, c.DSN(db.name))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+db.schema+"; CREATE EXTENSION pg_stat_statements SCHEMA "+db.schema).ReadAll(); err != nil {
			t.Fatal(err)
		}
		rels := column(ctx, t, conn, `SELECT c.relname FROM pg_class c JOIN pg_depend d ON d.objid = c.oid AND d.classid = 'pg_class'::regclass AND d.deptype = 'e'
			JOIN pg_extension x ON x.oid = d.refobjid WHERE x.extname = 'pg_stat_statements' AND c.relkind = 'v'`)
		fns := column(ctx, t, conn, `SELECT p.proname FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
			JOIN pg_extension x ON x.oid = d.refobjid WHERE x.extname = 'pg_stat_statements'`)
		if len(rels) < 2 || len(fns) < 3 {
			t.Fatalf("%s: extension objects %v %v", db.name, rels, fns)
		}
		// An online catalog as introspection reports this database.
		cat := relCatalog{withFunctions(BuiltinFunctions(), nil), map[string]bool{}}
		for _, r := range rels {
			cat.rels[db.schema+"."+r] = true
		}
		for _, f := range fns {
			cat.FunctionMap[db.schema+"."+f] = Volatile
		}
		p := Profile{AllowSchemas: []string{db.schema}, SearchPath: []string{db.schema}, AllowFunctions: fns}
		e, err := New(Options{Functions: cat, Profiles: map[string]Profile{"p": p}})
		if err != nil {
			t.Fatal(err)
		}
		judge := func(sql, rule string) {
			v := e.Decide(Identity{Profile: "p"}, sql)
			if v.Allowed || v.Rule != rule {
				t.Errorf("%s: %q: allowed=%v %s (%s); want %s", db.name, sql, v.Allowed, v.Rule, v.Reason, rule)
			}
		}
		for _, r := range rels {
			judge("SELECT * FROM "+r, RuleRelation)
			judge("SELECT * FROM "+db.schema+"."+r, RuleRelation)
			judge("SELECT '"+db.schema+"."+r+"'::regclass", RuleRelation)
		}
		for _, f := range fns {
			judge("SELECT * FROM "+f+"()", RuleFunction)
			judge("SELECT * FROM "+db.schema+"."+f+"()", RuleFunction)
		}
		// The extension's views run on this server: the denial is what
		// stands between a client and every session's statements.
		if rows := column(ctx, t, conn, "SELECT query FROM "+db.schema+".pg_stat_statements LIMIT 1"); len(rows) == 0 {
			t.Errorf("%s: pg_stat_statements shows no statement", db.name)
		}
	}

	conn, err := pgconn.Connect(ctx, c.DSN(first))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Prepare(ctx, "s1", "SELECT 'secret-literal-of-alice'::text", nil); err != nil {
		t.Fatal(err)
	}
	const peek = "SELECT statement FROM pg_prepared_statements"
	got := column(ctx, t, conn, peek)
	if len(got) != 1 || !strings.Contains(got[0], "secret-literal-of-alice") {
		t.Fatalf("pg_prepared_statements on the same backend showed %q", got)
	}
	if v := newTestEngine(t).Decide(Identity{}, peek); v.Allowed || v.Rule != RuleRelation {
		t.Errorf("%q: %+v", peek, v)
	}
}

// reviewedSet maps each reviewed name or "prefix*" to its reason.
type reviewedSet map[string]string

func reviewedNames() reviewedSet {
	s := reviewedSet{}
	for _, r := range append(reviewedAllowed(), statusFunctions()...) {
		s[r.name] = r.why
	}
	return s
}

func (s reviewedSet) match(name string) (string, bool) {
	if _, ok := s[name]; ok {
		return name, true
	}
	for p := range s {
		if prefix, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(name, prefix) {
			return p, true
		}
	}
	return "", false
}

func column(ctx context.Context, t *testing.T, conn *pgconn.PgConn, sql string) []string {
	t.Helper()
	res, err := conn.Exec(ctx, sql).ReadAll()
	if err != nil || len(res) != 1 {
		t.Fatalf("%s: %v", sql, err)
	}
	var out []string
	for _, row := range res[0].Rows {
		out = append(out, string(row[0]))
	}
	return out
}

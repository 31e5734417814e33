package policy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmoat/pgmoat/introspect"
)

// redteamDB gives a fresh database holding schema, its live catalog, an
// admin connection (the role the catalog was read as) and the DSN of the
// database for another role.
func redteamDB(t *testing.T, schema string) (*pgx.Conn, *introspect.Snapshot, func(user, password string) string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	c, db := sharedDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	admin, err := pgx.Connect(ctx, c.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	if _, err := admin.Exec(ctx, schema); err != nil {
		t.Fatal(err)
	}
	snap, err := introspect.Load(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	return admin, snap, func(user, password string) string { return c.DSNFor(user, password, db) }
}

// wantDenied fails unless v is a denial by rule, as the wire shows it.
func wantDenied(t *testing.T, what string, v Verdict, rule string) {
	t.Helper()
	if v.Allowed || v.Rule != rule || v.SQLState != SQLStateDenied || !strings.HasPrefix(v.Err().Error(), "pgmoat: "+rule+":") {
		t.Errorf("%s: allowed=%v rule %q (%s), want denied by %s", what, v.Allowed, v.Rule, v.Reason, rule)
	}
}

// userSchemaSchema has a schema named like the role the catalog is read
// as, holding a sequence and a table under the names of public's tables,
// and a volatile function under the name of a stable one.
const userSchemaSchema = `
DO $$ BEGIN EXECUTE format('CREATE SCHEMA %I', current_user); END $$;
CREATE TABLE public.secret (v text);
INSERT INTO public.secret VALUES ('public');
CREATE TABLE public.orders (id int);
CREATE FUNCTION public.f() RETURNS int STABLE LANGUAGE sql AS 'SELECT 1';
DO $$ BEGIN
  EXECUTE format('CREATE TABLE %I.secret (v text)', current_user);
  EXECUTE format('INSERT INTO %I.secret VALUES (''hidden'')', current_user);
  EXECUTE format('CREATE SEQUENCE %I.orders', current_user);
  EXECUTE format('CREATE FUNCTION %I.f() RETURNS int VOLATILE LANGUAGE sql AS ''SELECT 2''', current_user);
END $$;
`

// TestRedteamUserSchemaInSearchPath: PostgreSQL replaces a search path's
// "$user" entry, quoted as pgmoat sets it or not, by the schema named
// like the current role. A profile whose path starts with "$user" (as
// PostgreSQL's default does) must resolve names there first, as the
// server does: otherwise "orders" is judged as public's table while the
// server reads the role's sequence, and "secret" as public's while the
// server reads a schema the profile does not allow.
func TestRedteamUserSchemaInSearchPath(t *testing.T) {
	admin, snap, _ := redteamDB(t, userSchemaSchema)
	ctx := context.Background()
	// What the server does with the search path pgmoat sets.
	if _, err := admin.Exec(ctx, `SET search_path = "$user", "public"`); err != nil {
		t.Fatal(err)
	}
	var v string
	if err := admin.QueryRow(ctx, "SELECT v FROM secret").Scan(&v); err != nil || v != "hidden" {
		t.Fatalf("the server's secret under \"$user\": %q, %v", v, err)
	}
	path := []string{"$user", "public"}
	e, err := New(Options{Functions: oracleCatalog{snap}, Profiles: map[string]Profile{
		DefaultProfile: {AllowSchemas: []string{"public", snap.User}, SearchPath: path},
		"narrow":       {AllowSchemas: []string{"public"}, SearchPath: path}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ profile, sql, rule string }{
		{DefaultProfile, "SELECT * FROM orders", RuleSequence},
		{DefaultProfile, "SELECT f()", RuleVolatile},
		{"narrow", "SELECT v FROM secret", RuleRelation},
		{"narrow", "SELECT * FROM orders", RuleRelation},
	} {
		wantDenied(t, tc.profile+": "+tc.sql, e.Decide(Identity{Profile: tc.profile}, tc.sql), tc.rule)
	}
	for _, sql := range []string{"SELECT * FROM public.orders", "SELECT v FROM public.secret", "SELECT public.f()"} {
		if v := e.Decide(Identity{}, sql); !v.Allowed {
			t.Errorf("%s: denied by %s: %s", sql, v.Rule, v.Reason)
		}
	}
}

// inheritSchema has a plain inheritance hierarchy whose parent has
// row-level security, and one whose parent has none.
const inheritSchema = `
CREATE TABLE parent (id int, uid int);
ALTER TABLE parent ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON parent USING (uid = current_setting('request.user_id')::int);
CREATE TABLE child () INHERITS (parent);
CREATE TABLE grandchild () INHERITS (child);
INSERT INTO child VALUES (1, 1), (2, 2);
CREATE TABLE base (id int);
CREATE TABLE derived () INHERITS (base);
CREATE ROLE inherit_reader LOGIN PASSWORD 'inherit';
GRANT pg_read_all_data TO inherit_reader;
`

// TestRedteamInheritanceChildren: a child of a plain INHERITS hierarchy
// read by its own name skips the parent's row-level security, exactly
// as a partition does (PostgreSQL applies a table's policies only when
// the query names that table), so it is denied as relation.partition
// when some ancestor has row-level security.
func TestRedteamInheritanceChildren(t *testing.T) {
	admin, snap, dsnFor := redteamDB(t, inheritSchema)
	ctx := context.Background()
	defer func() {
		_, _ = admin.Exec(context.Background(), "DROP OWNED BY inherit_reader; DROP ROLE inherit_reader")
	}()
	// What is at stake: under the parent's policy user 1 sees one row;
	// through the child, both.
	rc, err := pgx.Connect(ctx, dsnFor("inherit_reader", "inherit"))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close(ctx)
	var viaParent, viaChild int
	if _, err := rc.Exec(ctx, "SET request.user_id = '1'"); err != nil {
		t.Fatal(err)
	}
	if err := rc.QueryRow(ctx, "SELECT (SELECT count(*) FROM parent), (SELECT count(*) FROM child)").
		Scan(&viaParent, &viaChild); err != nil || viaParent != 1 || viaChild != 2 {
		t.Fatalf("rows through the parent %d, through the child %d: %v", viaParent, viaChild, err)
	}
	e, err := New(Options{Functions: oracleCatalog{snap}})
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		"SELECT * FROM child", "SELECT * FROM ONLY child", "SELECT * FROM public.grandchild",
		"SELECT count(*) FROM child TABLESAMPLE system (100)",
		"SELECT * FROM parent p WHERE EXISTS (SELECT 1 FROM child c WHERE c.id = p.id)",
	} {
		wantDenied(t, sql, e.Decide(Identity{}, sql), RulePartition)
	}
	for _, sql := range []string{"SELECT * FROM parent", "SELECT * FROM ONLY parent", "SELECT * FROM derived", "SELECT * FROM base"} {
		if v := e.Decide(Identity{}, sql); !v.Allowed {
			t.Errorf("%s: denied by %s: %s", sql, v.Rule, v.Reason)
		}
	}
}

// TestRedteamDomainCheckCallsCatalogFunctions: a domain's CHECK that
// calls a pg_catalog function runs it at Bind for a parameter of the
// domain's type (and for every cast to it), whatever the text. pg_depend
// records no dependency on pinned pg_catalog functions, so the catalog
// must read them from the stored CHECK expression: a CHECK calling
// set_config switches the row-level security identity, one calling
// clock_timestamp is volatile.
func TestRedteamDomainCheckCallsCatalogFunctions(t *testing.T) {
	ctx := context.Background()
	t.Run("set_config", func(t *testing.T) {
		admin, snap, _ := redteamDB(t, `CREATE DOMAIN who AS text CHECK (set_config('request.user_id', VALUE, false) IS NOT NULL);`)
		var oid uint32
		if err := admin.QueryRow(ctx, "SELECT 'who'::regtype::oid").Scan(&oid); err != nil {
			t.Fatal(err)
		}
		// What is at stake: a Parse of a text that uses no parameter,
		// declaring one of type who, sets the identity at Bind.
		pc := admin.PgConn()
		if _, err := pc.Prepare(ctx, "p", "SELECT 1", []uint32{oid}); err != nil {
			t.Fatal(err)
		}
		if r := pc.ExecPrepared(ctx, "p", [][]byte{[]byte("42")}, nil, nil).Read(); r.Err != nil {
			t.Fatal(r.Err)
		}
		var who string
		if err := admin.QueryRow(ctx, "SHOW request.user_id").Scan(&who); err != nil || who != "42" {
			t.Fatalf("request.user_id after the Bind: %q, %v", who, err)
		}
		e, err := New(Options{Functions: oracleCatalog{snap}})
		if err != nil {
			t.Fatal(err)
		}
		wantDenied(t, "parameter of type who", e.DecideParameterTypes(Identity{}, []uint32{oid}), RuleFunction)
		wantDenied(t, "SELECT '42'::who", e.Decide(Identity{}, "SELECT '42'::who"), RuleFunction)
	})
	t.Run("clock_timestamp", func(t *testing.T) {
		_, snap, _ := redteamDB(t, `CREATE DOMAIN past AS timestamptz CHECK (VALUE <= clock_timestamp());
CREATE DOMAIN past_op AS timestamptz CHECK (VALUE OPERATOR(pg_catalog.<=) clock_timestamp());
CREATE DOMAIN short AS text CHECK (length(VALUE) < 10 AND VALUE ~ '^[a-z]*$');`)
		e, err := New(Options{Functions: oracleCatalog{snap}})
		if err != nil {
			t.Fatal(err)
		}
		fns := map[string]bool{}
		for _, f := range snap.TypeFunctions("public", "short") {
			fns[f.String()] = true
		}
		if !fns["pg_catalog.length"] || !fns["pg_catalog.textregexeq"] {
			t.Errorf("functions behind short's CHECK: %v, want pg_catalog.length and textregexeq", fns)
		}
		wantDenied(t, "SELECT $1::past", e.Decide(Identity{}, "SELECT $1::past"), RuleVolatile)
		wantDenied(t, "SELECT $1::past_op", e.Decide(Identity{}, "SELECT $1::past_op"), RuleVolatile)
	})
}

// classesOnly is an online catalog that lists relations but does not
// say which role it was read as.
type classesOnly struct{ FunctionMap }

func (classesOnly) RelationClass(schema, name string) (RelationClass, bool) {
	return RelationClass{Kind: 'r'}, schema == "public" && name == "orders"
}

// TestUserSchemaWithoutKnownRole: when the catalog cannot say which
// role "$user" stands for, a name that could resolve there is denied,
// not resolved past it to a later schema.
func TestUserSchemaWithoutKnownRole(t *testing.T) {
	e, err := New(Options{Functions: classesOnly{BuiltinFunctions()}, Profiles: map[string]Profile{
		DefaultProfile: {SearchPath: []string{"$user", "public"}}}})
	if err != nil {
		t.Fatal(err)
	}
	wantDenied(t, "SELECT * FROM orders", e.Decide(Identity{}, "SELECT * FROM orders"), RuleRelation)
	if v := e.Decide(Identity{}, "SELECT * FROM public.orders"); !v.Allowed {
		t.Errorf("public.orders: denied by %s: %s", v.Rule, v.Reason)
	}
}

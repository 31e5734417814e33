package policy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmoat/pgmoat/introspect"
)

// redteamDB gives a fresh database holding schema, its live catalog and
// an admin connection (the role the catalog was read as).
func redteamDB(t *testing.T, schema string) (*pgx.Conn, *introspect.Snapshot) {
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
	return admin, snap
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
	admin, snap := redteamDB(t, userSchemaSchema)
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

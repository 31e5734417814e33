package policy

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmoat/pgmoat/introspect"
)

// TestStandInAfterUAmpersand: the quoted stand-in for a long name must not
// join a U& written before it into a U&"..." identifier. On the server
// u&ééé... is the operator & between the columns u and ééé...; were the
// parser to read U&"stand-in", the operator, and the function behind it,
// would go unjudged.
func TestStandInAfterUAmpersand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	c, _ := sharedDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := fmt.Sprintf("t_uamp_%d", time.Now().UnixNano())
	admin, err := pgconn.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0", db)).ReadAll()
	admin.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.DropDatabase(context.Background(), db) })
	conn, err := pgx.Connect(ctx, c.DSN(db)+" client_encoding=UTF8")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	long := rep("é", 40)
	for _, q := range []string{
		fmt.Sprintf("CREATE TABLE t (u int, %s bigint); INSERT INTO t VALUES (1, 1)", long),
		"CREATE FUNCTION public.boom(int, bigint) RETURNS int VOLATILE LANGUAGE sql AS 'SELECT 7'",
		"CREATE OPERATOR public.& (leftarg = int, rightarg = bigint, function = public.boom)",
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	snap, err := introspect.Load(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Options{Functions: oracleCatalog{snap}, Profiles: map[string]Profile{
		DefaultProfile: {AllowSchemas: []string{"public"}}}})
	if err != nil {
		t.Fatal(err)
	}
	spaced := e.Decide(Identity{}, "SELECT u & "+long+" FROM t")
	for _, sql := range []string{"SELECT u&" + long + " FROM t", "SELECT U&" + long + " FROM t"} {
		var got int
		if err := conn.QueryRow(ctx, sql).Scan(&got); err != nil || got != 7 {
			t.Fatalf("%s: the server should call boom: %d %v", sql, got, err)
		}
		v := e.Decide(Identity{}, sql)
		if v.Allowed != spaced.Allowed || v.Rule != spaced.Rule {
			t.Errorf("%s: allowed=%v rule=%s %s; with spaces: allowed=%v rule=%s %s", sql, v.Allowed, v.Rule, v.Reason, spaced.Allowed, spaced.Rule, spaced.Reason)
		}
	}
	if spaced.Allowed {
		t.Errorf("the volatile operator function is allowed: %v", spaced.Functions)
	}
}

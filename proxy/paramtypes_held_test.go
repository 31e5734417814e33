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

// TestParseParameterTypesHeld: attacks on the Parse path's parameter
// types that held. A Parse of a text the session answers itself (a
// client SET, DEALLOCATE) or that never reads a parameter (BEGIN,
// COMMIT) still declares types the server would convert at Bind, and
// an empty text is refused before its types matter; each is refused
// with 42501, the CHECK never runs and the connection stays usable. A
// statement prepared while its parameter type was harmless is refused
// at Bind once a catalog read sees a volatile CHECK on the same OID.
func TestParseParameterTypesHeld(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, cluster.DSN(f.db))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, paramTypesSQL+"CREATE DOMAIN later AS int CHECK (VALUE > 0);"); err != nil {
		t.Fatal(err)
	}
	oidOf := func(typ string) uint32 {
		var oid uint32
		if err := admin.QueryRow(ctx, "SELECT $1::regtype::oid", typ).Scan(&oid); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		return oid
	}
	loud, later := oidOf("loud"), oidOf("later")
	f.server.engine.SetFunctions(readWireCatalog(t, ctx, admin))

	var notices []string
	cfg, err := pgconn.ParseConfig(f.dsn("alice"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices = append(notices, n.Message) }
	c, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	refusedAs := func(what string, err error, rule string) {
		t.Helper()
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "42501" || !strings.HasPrefix(pe.Message, "pgmoat: "+rule+": ") {
			t.Errorf("%s: %v, want 42501 pgmoat: %s", what, err, rule)
		}
		if err := c.Exec(ctx, "SELECT 1").Close(); err != nil {
			t.Fatalf("after %s: the connection is not usable: %v", what, err)
		}
	}
	for _, tc := range []struct{ sql, rule string }{
		{"SET application_name = 'x'", policy.RuleVolatile},
		{"SET TIME ZONE 'UTC'", policy.RuleVolatile},
		{"BEGIN", policy.RuleVolatile},
		{"COMMIT", policy.RuleVolatile},
		{"ROLLBACK", policy.RuleVolatile},
		{"DEALLOCATE ALL", policy.RuleVolatile},
		{"SHOW TIME ZONE", policy.RuleVolatile},
		{"EXPLAIN SELECT 1", policy.RuleVolatile},
	} {
		for _, name := range []string{"", "named"} {
			_, err := c.Prepare(ctx, name, tc.sql, []uint32{loud})
			refusedAs(tc.sql+" (statement "+name+")", err, tc.rule)
		}
	}
	// Empty texts: refused as texts, whatever types they declare.
	for _, sql := range []string{"", " ", ";", "-- ping"} {
		_, err := c.Prepare(ctx, "", sql, []uint32{loud})
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "42501" || !strings.HasPrefix(pe.Message, "pgmoat: ") {
			t.Errorf("empty text %q with a parameter type: %v, want a 42501 refusal", sql, err)
		}
		if err := c.Exec(ctx, "SELECT 1").Close(); err != nil {
			t.Fatalf("after empty text %q: the connection is not usable: %v", sql, err)
		}
	}

	// Prepared while later's CHECK was harmless; the CHECK turns
	// volatile on the same OID; the next catalog read refuses the Bind.
	if _, err := c.Prepare(ctx, "p", "SELECT $1::int", []uint32{later}); err != nil {
		t.Fatal(err)
	}
	if r := c.ExecPrepared(ctx, "p", [][]byte{[]byte("1")}, nil, nil).Read(); r.Err != nil {
		t.Fatalf("before the change: %v", r.Err)
	}
	if _, err := admin.Exec(ctx, "ALTER DOMAIN later ADD CHECK (loud_check(VALUE))"); err != nil {
		t.Fatal(err)
	}
	if oidOf("later") != later {
		t.Fatal("ALTER DOMAIN changed the OID: the case proves nothing")
	}
	f.server.engine.SetFunctions(readWireCatalog(t, ctx, admin))
	refusedAs("Bind after the catalog read", c.ExecPrepared(ctx, "p", [][]byte{[]byte("1")}, nil, nil).Read().Err, policy.RuleVolatile)
	if len(notices) != 0 {
		t.Errorf("the CHECK ran through pgmoat: %v", notices)
	}
}

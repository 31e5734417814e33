package introspect_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/pgmoat/pgmoat/introspect"
)

// TestLoadCompilesNothing: Load's catalog queries run without JIT, even
// on a database that compiles every statement it can. The planner
// overestimates the recursive queries, and JIT compilation once took
// seconds of every load. pg_stat_statements counts the functions JIT
// compiled for each statement; a control statement outside Load shows
// that this database does compile.
func TestLoadCompilesNothing(t *testing.T) {
	ctx := context.Background()
	dsn := freshDB(t, "")
	conn := connect(t, dsn)
	var available bool
	if err := conn.QueryRow(ctx, "SELECT pg_jit_available()").Scan(&available); err != nil {
		t.Fatal(err)
	}
	if !available {
		if os.Getenv("CI") != "" {
			t.Fatal("this PostgreSQL has no JIT provider installed; CI's server must have one, or this test proves nothing")
		}
		t.Skip("this PostgreSQL has no JIT provider installed")
	}
	execSQL(t, dsn, `CREATE EXTENSION pg_stat_statements;
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET jit_above_cost = 0', current_database()); END $$;`)
	// A new session takes the database's settings.
	fresh := connect(t, dsn)
	if _, err := fresh.Exec(ctx, "SELECT pg_stat_statements_reset()"); err != nil {
		t.Fatal(err)
	}
	var control int
	if err := fresh.QueryRow(ctx, "SELECT count(*) FROM pg_catalog.pg_class WHERE relpages >= 0").Scan(&control); err != nil {
		t.Fatal(err)
	}
	if _, err := introspect.Load(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	rows, err := fresh.Query(ctx, `SELECT s.query, s.jit_functions FROM pg_stat_statements s
		WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND s.query NOT LIKE '%pg_stat_statements%'
		  AND (s.jit_functions > 0 OR s.query LIKE '%relpages >=%')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	controlCompiled := false
	for rows.Next() {
		var query string
		var fns int64
		if err := rows.Scan(&query, &fns); err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.Contains(query, "relpages >="):
			controlCompiled = fns > 0
		case fns > 0:
			t.Errorf("JIT compiled %d functions for a catalog query of Load:\n%.300s", fns, query)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !controlCompiled {
		t.Fatal("the control statement was not JIT compiled: the test cannot see what Load does")
	}
}

package policy

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestBuiltinTypesCurrent checks builtinTypes, regprocColumns and
// regFieldRowTypes against a real server's catalog: every pg_catalog type
// that is no relation's row type (nor an array of one) is listed, no row
// type is, every regproc column of a pg_catalog relation is in
// regprocColumns, and the pg_catalog row types with a reg* column are
// exactly regFieldRowTypes.
func TestBuiltinTypesCurrent(t *testing.T) {
	c, db, ctx := realPG(t, time.Minute)
	conn, err := pgconn.Connect(ctx, c.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	res, err := conn.Exec(ctx, `SELECT t.typname, t.typrelid <> 0 OR COALESCE(e.typrelid, 0) <> 0
		FROM pg_catalog.pg_type t LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'
		WHERE t.typnamespace = 'pg_catalog'::pg_catalog.regnamespace`).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, row := range res[0].Rows {
		name, rowType := string(row[0]), string(row[1]) == "t"
		n++
		if rowType && builtinTypes[name] {
			t.Errorf("builtinTypes lists %s, a relation's row type", name)
		}
		if !rowType && !builtinTypes[name] {
			t.Errorf("pg_catalog type %s is not in builtinTypes", name)
		}
	}
	if n < 300 {
		t.Errorf("read %d types", n)
	}
	res, err = conn.Exec(ctx, `SELECT DISTINCT a.attname FROM pg_catalog.pg_attribute a
		JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
		WHERE c.relnamespace = 'pg_catalog'::pg_catalog.regnamespace AND c.relkind IN ('r', 'v')
		  AND a.attnum > 0 AND a.atttypid = 'pg_catalog.regproc'::pg_catalog.regtype`).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range res[0].Rows {
		if !regprocColumns[string(row[0])] {
			t.Errorf("regproc column %s is not in regprocColumns", row[0])
		}
	}
	if len(res[0].Rows) < 30 {
		t.Errorf("read %d regproc columns", len(res[0].Rows))
	}
	res, err = conn.Exec(ctx, `SELECT c.relname, bool_or(t.typname LIKE 'reg%' OR e.typname LIKE 'reg%')
		FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
		JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
		LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'
		WHERE c.relnamespace = 'pg_catalog'::pg_catalog.regnamespace AND c.reltype <> 0
		GROUP BY c.relname`).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	n = 0
	for _, row := range res[0].Rows {
		name, reg := string(row[0]), string(row[1]) == "t"
		if reg {
			n++
		}
		if reg != regFieldRowTypes[name] {
			t.Errorf("pg_catalog.%s: a reg* column %v, in regFieldRowTypes %v", name, reg, regFieldRowTypes[name])
		}
	}
	if n < 10 {
		t.Errorf("read %d row types with reg* fields", n)
	}
}

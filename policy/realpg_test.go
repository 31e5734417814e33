package policy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestVerdictsOnRealPostgreSQL sends what the engine allows, rewritten, to
// a real server: the deparsed SQL must run, bounded SELECTs must return at
// most max_rows, and $n parameters must keep their types.
func TestVerdictsOnRealPostgreSQL(t *testing.T) {
	c, db, ctx := realPG(t, 2*time.Minute)
	conn, err := pgconn.Connect(ctx, c.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, legitSchema).ReadAll(); err != nil {
		t.Fatalf("schema: %v", err)
	}
	e := newTestEngine(t)

	t.Run("legit", func(t *testing.T) {
		for _, sql := range legit {
			runAllowed(ctx, t, e, conn, sql)
		}
	})
	t.Run("psql", func(t *testing.T) {
		_, queries := psqlMeta(t)
		for _, sql := range queries {
			runAllowed(ctx, t, e, conn, sql)
		}
	})
	t.Run("bound", func(t *testing.T) {
		for sql, want := range map[string]int{
			"select * from orders":                                  DefaultMaxRows,
			"select * from orders limit 5000":                       DefaultMaxRows,
			"select * from orders limit all":                        DefaultMaxRows,
			"select id from orders union all select id from orders": DefaultMaxRows,
			"select * from orders fetch first 2000 rows only":       DefaultMaxRows,
			"select * from orders limit 7":                          7,
			"values (1), (2)":                                       2,
		} {
			v := e.Decide(Identity{}, sql)
			rows := countRows(ctx, t, conn, v.SQL(sql))
			if rows != want {
				t.Errorf("%q (sent as %q): %d rows, want %d", sql, v.SQL(sql), rows, want)
			}
		}
	})
	t.Run("parameter types", func(t *testing.T) {
		sql := "select id from orders where customer_id = $1 limit $2"
		v := e.Decide(Identity{}, sql)
		sd, err := conn.Prepare(ctx, "", v.SQL(sql), nil)
		if err != nil {
			t.Fatalf("prepare %q: %v", v.SQL(sql), err)
		}
		if len(sd.ParamOIDs) != 2 || sd.ParamOIDs[1] != 20 {
			t.Fatalf("parameter OIDs %v; want LIMIT's parameter to stay bigint (20)", sd.ParamOIDs)
		}
		res := conn.ExecPrepared(ctx, "", [][]byte{[]byte("2"), []byte("100000")}, nil, nil).Read()
		if res.Err != nil || len(res.Rows) > DefaultMaxRows {
			t.Fatalf("rows %d, err %v", len(res.Rows), res.Err)
		}
	})
}

func runAllowed(ctx context.Context, t *testing.T, e *Engine, conn *pgconn.PgConn, sql string) {
	t.Helper()
	v := e.Decide(Identity{}, sql)
	if !v.Allowed {
		t.Errorf("denied %q: %s", sql, v.Reason)
		return
	}
	send := v.SQL(sql)
	if strings.Contains(send, "$1") {
		if _, err := conn.Prepare(ctx, "", send, nil); err != nil {
			t.Errorf("prepare %q (from %q): %v", send, sql, err)
		}
		return
	}
	results, err := conn.Exec(ctx, send).ReadAll()
	if err != nil {
		t.Errorf("run %q (from %q): %v", send, sql, err)
		return
	}
	for _, r := range results {
		if v.Kind == KindSelect && len(r.Rows) > DefaultMaxRows {
			t.Errorf("%q returned %d rows", send, len(r.Rows))
		}
	}
}

func countRows(ctx context.Context, t *testing.T, conn *pgconn.PgConn, sql string) int {
	t.Helper()
	results, err := conn.Exec(ctx, sql).ReadAll()
	if err != nil || len(results) != 1 {
		t.Fatalf("run %q: %v", sql, err)
	}
	return len(results[0].Rows)
}

package mcp_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/policy"
)

// oddNamesSchema is a table whose column names carry what SQL text
// would read as syntax (quotes, a closing parenthesis and OR, a
// semicolon and a comment, $1, a comment end, a line break, mixed case
// and accents), each indexed so that it is a filter and an order key,
// under row-level security: bob's row 3 holds alice's row 1's values.
const oddNamesSchema = `
CREATE TABLE odd (
  id int PRIMARY KEY, owner int NOT NULL,
  "a""b" text, "x) OR (true" int, "c'; DROP TABLE odd; --" text,
  "$1" int, "*/ id" text, "Mixed Case" text, "été" text, "line
break" text);
DO $$ DECLARE c text; BEGIN
  FOREACH c IN ARRAY ARRAY['a"b', 'x) OR (true', 'c''; DROP TABLE odd; --', '$1', '*/ id', 'Mixed Case', 'été', E'line\nbreak'] LOOP
    EXECUTE format('CREATE INDEX ON odd (%I)', c);
  END LOOP;
END $$;
INSERT INTO odd VALUES
  (1, 1, 'q"uote', 10, 'semi;colon', 100, '/*', 'MiXeD', 'àé', E'l\n1'),
  (2, 1, 'plain', 20, 'other', 200, 'x', 'y', 'z', 'w'),
  (3, 2, 'q"uote', 10, 'semi;colon', 100, '/*', 'MiXeD', 'àé', E'l\n1');
ALTER TABLE odd ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON odd USING (owner = current_setting('request.user_id')::int);
CREATE ROLE odd_reader LOGIN PASSWORD 'odd';
GRANT SELECT ON odd TO odd_reader;
`

// pgExec is an mcp.Executor over a real database: each statement runs
// in a read-only transaction of its own with the caller's user id set
// for it, as the proxy's executor runs it.
type pgExec struct {
	mu   sync.Mutex
	conn *pgx.Conn
	sqls []string
}

func (x *pgExec) Query(ctx context.Context, id policy.Identity, _ int, sql string, args ...any) (*mcp.Rows, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.sqls = append(x.sqls, sql)
	tx, err := x.conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "SELECT set_config('request.user_id', $1, true)", id.UserID); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, &mcp.DBError{Message: err.Error()}
	}
	defer rows.Close()
	out := &mcp.Rows{}
	for _, f := range rows.FieldDescriptions() {
		out.Columns = append(out.Columns, f.Name)
	}
	for rows.Next() {
		v, err := rows.Values()
		if err != nil {
			return nil, err
		}
		out.Values = append(out.Values, v)
	}
	return out, rows.Err()
}

// TestRedteamOddColumnNamesDoNotSteerTheSelect: tool calls on a table
// whose column names read as SQL syntax (or as parameter markers) run
// the SELECT the caller asked for, on a real server: each filter
// returns exactly the caller's rows holding the value, each order key
// orders, the columns parameter picks the columns, and a cursor pages
// on through every order key; a value written as SQL matches nothing.
func TestRedteamOddColumnNamesDoNotSteerTheSelect(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	cluster := liveCluster(t)
	db := pgcluster.NewDatabase(t, cluster)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, cluster.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, oddNamesSchema, pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = admin.Exec(context.Background(), "DROP OWNED BY odd_reader; DROP ROLE odd_reader") }()
	snap, err := introspect.Load(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	reader, err := pgx.Connect(ctx, cluster.DSNFor("odd_reader", "odd", db))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close(context.Background())
	live, err := mcp.NewLiveTools(snap, mcp.GenerateOptions{}, slog.New(slog.DiscardHandler), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	engine, err := policy.New(policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	exec := &pgExec{conn: reader}
	id := alice
	srv, err := mcp.NewServer(mcp.ServerOptions{Tools: live, Engine: engine, Executor: exec, Identity: &id})
	if err != nil {
		t.Fatal(err)
	}
	cs := connect(t, srv, nil)
	spec := tool(t, live.Current(), "query_odd")
	call := func(args map[string]any) tablePage {
		t.Helper()
		return pageOf(t, callOn(t, cs, "query_odd", args), "query_odd", args)
	}
	idsOf := func(p tablePage) []int {
		var out []int
		for _, r := range p.Rows {
			out = append(out, int(r["id"].(float64)))
		}
		return out
	}
	row1 := map[string]any{`a"b`: `q"uote`, "x) OR (true": 10, "c'; DROP TABLE odd; --": "semi;colon",
		"$1": 100, "*/ id": "/*", "Mixed Case": "MiXeD", "été": "àé", "line\nbreak": "l\n1"}
	filters := 0
	for _, p := range spec.Params {
		v, ok := row1[p.Column]
		if !ok || p.Kind != mcp.ParamEq {
			continue
		}
		filters++
		if got := idsOf(call(map[string]any{p.Name: v})); !slices.Equal(got, []int{1}) {
			t.Errorf("%s (column %q) = %v: rows %v, want alice's row 1 alone", p.Name, p.Column, v, got)
		}
		if _, text := v.(string); text {
			evil := fmt.Sprint(v) + `' OR 'a'='a`
			if got := idsOf(call(map[string]any{p.Name: evil})); len(got) != 0 {
				t.Errorf("%s = %q: rows %v, want none", p.Name, evil, got)
			}
		}
	}
	if filters != len(row1) {
		t.Fatalf("%d equality filters on the odd columns, want %d: %+v", filters, len(row1), spec.Params)
	}
	orders := 0
	for _, p := range spec.Params {
		if p.Kind != mcp.ParamOrderBy {
			continue
		}
		for _, o := range p.Order {
			if o.Column == "id" || o.Column == "owner" {
				continue
			}
			orders++
			var seen []int
			args := map[string]any{"order_by": o.Value, "limit": 1}
			for range 3 {
				pg := call(args)
				seen = append(seen, idsOf(pg)...)
				if pg.NextCursor == "" {
					break
				}
				args["cursor"] = pg.NextCursor
			}
			slices.Sort(seen)
			if !slices.Equal(seen, []int{1, 2}) {
				t.Errorf("order_by %q paged through rows %v, want alice's 1 and 2 once each", o.Value, seen)
			}
		}
	}
	if orders == 0 {
		t.Fatalf("no order key on the odd columns")
	}
	var names []string
	for _, c := range spec.Columns {
		if c.Name != "id" && c.Name != "owner" {
			names = append(names, c.Name)
		}
	}
	p := call(map[string]any{"columns": names, "limit": 5})
	for _, r := range p.Rows {
		if len(r) != len(names) {
			t.Errorf("columns %q: row %v", names, r)
		}
	}
	for _, sql := range exec.sqls {
		if v := engine.Decide(id, sql); !v.Allowed || v.Kind != policy.KindSelect {
			t.Errorf("generated %q: allowed=%v %s", sql, v.Allowed, v.Reason)
		}
	}
}

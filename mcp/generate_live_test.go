package mcp_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/mcp"
)

func TestDeprecatedCommentGraceThenRemoval(t *testing.T) {
	s := shopLike()
	orders := s.Relations[1]
	status, _ := orders.Column("status")
	status.Comment = "Order status. @deprecated use state instead"
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	opts := mcp.GenerateOptions{DeprecationGrace: time.Hour}
	first, err := mcp.Regenerate(nil, s, opts, t0)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := tool(t, first, "query_orders").Param("status")
	if !ok || p.Deprecation == nil || !p.Deprecation.Until.Equal(t0.Add(time.Hour)) ||
		!strings.Contains(p.Deprecation.Message, "use state instead") || !p.Schema.Deprecated {
		t.Fatalf("status param %+v", p)
	}
	second, _ := mcp.Regenerate(first, s, opts, t0.Add(30*time.Minute))
	p, _ = tool(t, second, "query_orders").Param("status")
	if p == nil || !p.Deprecation.Since.Equal(t0) {
		t.Errorf("grace restarted: %+v", p)
	}
	third, _ := mcp.Regenerate(second, s, opts, t0.Add(2*time.Hour))
	if _, ok := tool(t, third, "query_orders").Param("status"); ok {
		t.Errorf("status still accepted after the grace period")
	}
}

func TestDroppedColumnKeepsParameterForGrace(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	opts := mcp.GenerateOptions{DeprecationGrace: time.Hour}
	before, _ := mcp.Regenerate(nil, shopLike(), opts, t0)

	after := shopLike()
	orders := after.Relations[1]
	orders.Columns = orders.Columns[:2] // status, created_at and note dropped
	orders.Indexes = orders.Indexes[:2]
	introspect.Assemble(after)
	set, _ := mcp.Regenerate(before, after, opts, t0.Add(time.Minute))
	spec := tool(t, set, "query_orders")
	p, ok := spec.Param("status")
	if !ok || p.Deprecation == nil || !p.Deprecation.Removed || !strings.Contains(p.Deprecation.Message, "was removed") {
		t.Fatalf("dropped column's parameter: %+v", p)
	}
	if _, ok := spec.InputSchema.Properties["status"]; !ok {
		t.Errorf("deprecated parameter not accepted by the input schema")
	}
	if strings.Contains(columnList(t, spec.Description), "status") {
		t.Errorf("description still advertises status: %s", spec.Description)
	}
	if last := spec.Params[len(spec.Params)-1]; last.Kind.IsFilter() {
		t.Errorf("carried filters must come before the fixed parameters")
	}
	later, _ := mcp.Regenerate(set, after, opts, t0.Add(2*time.Hour))
	if _, ok := tool(t, later, "query_orders").Param("status"); ok {
		t.Errorf("dropped parameter outlived its grace period")
	}
	hidden := opts
	hidden.Overrides = map[string]mcp.ToolOverride{"customers": {HideColumns: []string{"email"}}}
	set, _ = mcp.Regenerate(before, shopLike(), hidden, t0.Add(time.Minute))
	if _, ok := tool(t, set, "query_customers").Param("email"); ok {
		t.Errorf("a newly hidden column kept its filter")
	}
}

// TestLiveToolsFollowSchemaChanges runs the reload sequence of the issue on
// a live database: add a column, drop a column, add a table, change a
// COMMENT; the tool diff and the swap must reflect each.
func TestLiveToolsFollowSchemaChanges(t *testing.T) {
	t.Parallel() // a database of its own
	cluster := liveCluster(t)
	dsn := cluster.DSN(pgcluster.NewDatabase(t, cluster))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	exec := func(sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Fatal(err)
		}
	}
	snap := func() *introspect.Snapshot {
		s, err := introspect.Load(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	exec(`CREATE TABLE items (id int PRIMARY KEY, sku text NOT NULL, old text);
CREATE INDEX ON items (sku); CREATE INDEX ON items (old);
COMMENT ON TABLE items IS 'Items before.';`)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	t0 := time.Now()
	live, err := mcp.NewLiveTools(snap(), mcp.GenerateOptions{}, logger, t0)
	if err != nil {
		t.Fatal(err)
	}
	before := live.Current()
	exec(`ALTER TABLE items ADD COLUMN added date; CREATE INDEX ON items (added);
ALTER TABLE items DROP COLUMN old;
CREATE TABLE extra (id int PRIMARY KEY);
COMMENT ON TABLE items IS 'Items after.';`)
	d, err := live.Update(snap(), t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(d.Lines(), "\n")
	for _, want := range []string{"tool query_extra added", "tool query_items: parameter added added",
		"tool query_items: parameter old changed", "tool query_items: column added added",
		"tool query_items: column old removed", "tool query_items: description changed"} {
		if !strings.Contains(got, want) {
			t.Errorf("diff lacks %q:\n%s", want, got)
		}
	}
	if !strings.Contains(logs.String(), "tool change: tool query_extra added") {
		t.Errorf("changes not logged:\n%s", logs.String())
	}
	items := tool(t, live.Current(), "query_items")
	if !strings.HasPrefix(items.Description, "Items after.") || items == tool(t, before, "query_items") {
		t.Errorf("not swapped")
	}
	if p, ok := items.Param("old"); !ok || p.Deprecation == nil || !p.Deprecation.Removed {
		t.Errorf("dropped column's filter: %+v", p)
	}
	if !strings.HasPrefix(tool(t, before, "query_items").Description, "Items before.") {
		t.Errorf("the previous set was modified")
	}
}

// columnList is the "Columns: ..." part of a tool description, up to the
// related tools.
func columnList(t *testing.T, desc string) string {
	t.Helper()
	_, cols, ok := strings.Cut(desc, "Columns:")
	if !ok {
		t.Fatalf("no column list in %q", desc)
	}
	cols, _, _ = strings.Cut(cols, " Related:")
	return cols
}

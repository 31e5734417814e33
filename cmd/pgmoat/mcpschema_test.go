package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/proxy"
)

// liveSession is a session whose server follows schema changes.
func (f *shopFixture) liveSession(t *testing.T, cfg *config.Config) *session {
	t.Helper()
	st, err := newMCPStack(context.Background(), cfg, f.engine, f.pool, discardLogger(), &alice, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = st.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return connectStack(t, st)
}

func (s *session) toolNames(t *testing.T) []string {
	t.Helper()
	list, err := s.cs.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range list.Tools {
		names = append(names, tool.Name)
	}
	return names
}

func (s *session) waitChanged(t *testing.T, what string) {
	t.Helper()
	select {
	case <-s.changed:
	case <-time.After(20 * time.Second):
		t.Fatalf("no notifications/tools/list_changed after %s", what)
	}
}

func TestMCPFollowsTheSchema(t *testing.T) {
	t.Parallel()
	f := newShopFixture(t)

	t.Run("a new table shows up and a dropped one goes away", func(t *testing.T) {
		s := f.liveSession(t, f.cfg)
		if slices.Contains(s.toolNames(t), "query_coupons") {
			t.Fatal("query_coupons before the table exists")
		}
		f.superExec(t, `CREATE TABLE coupons (id integer PRIMARY KEY, code text NOT NULL);
COMMENT ON TABLE coupons IS 'Discount codes.';
INSERT INTO coupons SELECT g, 'C' || g FROM generate_series(1, 30) g;
GRANT SELECT ON coupons TO pgmoat_reader;
NOTIFY pgmoat_reload;`)
		s.waitChanged(t, "CREATE TABLE")
		if !slices.Contains(s.toolNames(t), "query_coupons") {
			t.Fatalf("tools/list after CREATE TABLE: %v", s.toolNames(t))
		}
		if r := s.rows(t, "query_coupons", map[string]any{"limit": 50}); r.RowCount != 30 {
			t.Errorf("query_coupons: %d rows", r.RowCount)
		}
		// Dropped without a notification: the failing call itself asks
		// for the reload.
		f.superExec(t, `DROP TABLE coupons`)
		msg := s.toolError(t, "query_coupons", map[string]any{"limit": 50})
		if !strings.Contains(msg, "no longer exists") || strings.Contains(msg, "SELECT") {
			t.Errorf("call after DROP: %s", msg)
		}
		s.waitChanged(t, "DROP TABLE")
		if slices.Contains(s.toolNames(t), "query_coupons") {
			t.Error("query_coupons still listed after the drop")
		}
		s.rows(t, "query_orders", map[string]any{"limit": 1})
	})

	t.Run("the database down is a tool error and the server keeps serving", func(t *testing.T) {
		dead, err := proxy.NewPool(proxy.PoolConfig{DSN: "host=127.0.0.1 port=1 user=x dbname=x connect_timeout=2", AcquireTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer dead.Close()
		st, err := newMCPStack(context.Background(), f.cfg, f.engine, dead, discardLogger(), &alice, nil)
		if err != nil {
			t.Fatal(err)
		}
		s := connectStack(t, st)
		for range 2 {
			msg := s.toolError(t, "query_orders", map[string]any{"limit": 1})
			if !strings.Contains(msg, "unavailable") && !strings.Contains(msg, "busy") {
				t.Errorf("database down: %s", msg)
			}
		}
		if _, err := s.cs.ListTools(t.Context(), nil); err != nil {
			t.Errorf("tools/list with the database down: %v", err)
		}
	})

	t.Run("result cache is per caller and arguments", func(t *testing.T) {
		cfg := *f.cfg
		cfg.MCP.ResultCache = config.ResultCache{TTL: config.Duration(time.Minute)}
		a := f.connect(t, &cfg, alice)
		args := map[string]any{"limit": 3, "columns": []string{"id"}}
		first := a.rows(t, "query_customers", args)
		second := a.rows(t, "query_customers", map[string]any{"columns": []string{"id"}, "limit": 3})
		st := a.stack.Server.Stats()
		if st.ResultHits != 1 || st.ResultMisses != 1 {
			t.Errorf("result cache: %d hits, %d misses", st.ResultHits, st.ResultMisses)
		}
		if !slices.Equal(ids(t, first, "id"), ids(t, second, "id")) {
			t.Error("cached result differs")
		}
		b := f.connect(t, &cfg, bob)
		if slices.Equal(ids(t, b.rows(t, "query_customers", args), "id"), ids(t, first, "id")) {
			t.Error("bob got alice's cached rows")
		}
	})

	t.Run("resources describe the tables", func(t *testing.T) {
		s := f.connect(t, f.cfg, alice)
		list, err := s.cs.ListResources(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		var uris []string
		for _, r := range list.Resources {
			uris = append(uris, r.URI)
		}
		if !slices.Contains(uris, mcp.SchemaURI) || !slices.Contains(uris, "pgmoat://tables/public/orders") {
			t.Fatalf("resources: %v", uris)
		}
		overview, err := s.cs.ReadResource(t.Context(), &sdk.ReadResourceParams{URI: mcp.SchemaURI})
		if err != nil || !strings.Contains(overview.Contents[0].Text, "query_support_tickets") {
			t.Errorf("overview: %v %.300v", err, overview)
		}
		doc, err := s.cs.ReadResource(t.Context(), &sdk.ReadResourceParams{URI: "pgmoat://tables/public/orders"})
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Columns []struct{ Name, Comment string }
			Indexes []struct{ Name string }
			Filters []string
		}
		if err := json.Unmarshal([]byte(doc.Contents[0].Text), &d); err != nil {
			t.Fatal(err)
		}
		if len(d.Columns) != 7 || d.Columns[0].Comment == "" || len(d.Indexes) == 0 || !slices.Contains(d.Filters, "customer_id") {
			t.Errorf("orders resource: %s", doc.Contents[0].Text)
		}
		if _, err := s.cs.ReadResource(t.Context(), &sdk.ReadResourceParams{URI: "pgmoat://tables/public/nope"}); err == nil {
			t.Error("reading a missing table resource succeeded")
		}
	})

	t.Run("prompts help an agent start", func(t *testing.T) {
		cfg := *f.cfg
		cfg.MCP.Prompts = []config.Prompt{{Name: "customer_overview", Description: "Everything about one customer.",
			Text: "Summarize customer {{email}}: their orders and open tickets.", Arguments: []config.PromptArgument{{Name: "email", Required: true}}}}
		s := f.connect(t, &cfg, alice)
		list, err := s.cs.ListPrompts(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range list.Prompts {
			names = append(names, p.Name)
		}
		if !slices.Contains(names, "explore_database") || !slices.Contains(names, "customer_overview") {
			t.Fatalf("prompts: %v", names)
		}
		p, err := s.cs.GetPrompt(t.Context(), &sdk.GetPromptParams{Name: "explore_database"})
		if err != nil {
			t.Fatal(err)
		}
		if txt := p.Messages[0].Content.(*sdk.TextContent).Text; !strings.Contains(txt, "query_orders") || !strings.Contains(txt, "never follow") {
			t.Errorf("explore_database:\n%s", txt)
		}
		p, err = s.cs.GetPrompt(t.Context(), &sdk.GetPromptParams{Name: "customer_overview", Arguments: map[string]string{"email": "a@b.c"}})
		if err != nil || !strings.Contains(p.Messages[0].Content.(*sdk.TextContent).Text, "customer a@b.c") {
			t.Errorf("customer_overview: %v %v", err, p)
		}
	})

	t.Run("discovery mode", func(t *testing.T) {
		cfg := *f.cfg
		cfg.MCP.Tools.Discovery = "always"
		s := f.connect(t, &cfg, alice)
		if names := s.toolNames(t); !slices.Equal(names, []string{"describe_table", "list_tables", "query_table"}) {
			t.Fatalf("tools: %v", names)
		}
		res := s.call(t, "list_tables", map[string]any{"query": "support"})
		if res.IsError || !strings.Contains(text(res), "support_tickets") {
			t.Errorf("list_tables: %s", text(res))
		}
		res = s.call(t, "describe_table", map[string]any{"table": "orders"})
		if res.IsError || !strings.Contains(text(res), "customer_id") {
			t.Errorf("describe_table: %s", text(res))
		}
		rows, pages := s.walk(t, "query_table", map[string]any{"table": "orders", "filters": map[string]any{"status": "cancelled"}, "limit": 40})
		if want := f.superCount(t, "1", "SELECT count(*) FROM orders WHERE status = 'cancelled'"); len(rows) != want || pages < 2 {
			t.Errorf("query_table walk: %d rows in %d pages, want %d", len(rows), pages, want)
		}
		if msg := s.toolError(t, "query_table", map[string]any{"table": "customers", "filters": map[string]any{"city": "Paris"}}); !strings.Contains(msg, "cannot be filtered") {
			t.Errorf("unindexed filter via query_table: %s", msg)
		}
		if msg := s.toolError(t, "query_table", map[string]any{"table": "ordres"}); !strings.Contains(msg, "list_tables") {
			t.Errorf("unknown table: %s", msg)
		}
	})
}

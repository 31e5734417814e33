package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pgmoat/pgmoat/mcp"
)

// TestMCPToolCalls drives the generated tools of the demo database through
// a real SDK client over the in-memory transport: the same server, policy
// engine, pool and row-level security as every other door.
func TestMCPToolCalls(t *testing.T) {
	t.Parallel()
	f := newShopFixture(t)
	a := f.connect(t, f.cfg, alice)
	b := f.connect(t, f.cfg, bob)

	t.Run("every tool is callable", func(t *testing.T) {
		list, err := a.cs.ListTools(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, tool := range list.Tools {
			names = append(names, tool.Name)
			r := a.rows(t, tool.Name, map[string]any{"limit": 5})
			if r.RowCount == 0 {
				t.Errorf("%s returned no rows for alice", tool.Name)
			}
		}
		for _, want := range []string{"query_customers", "query_orders", "query_order_items", "query_products", "query_support_tickets"} {
			if !slices.Contains(names, want) {
				t.Errorf("tools/list lacks %s (has %v)", want, names)
			}
		}
	})

	t.Run("alice and bob see disjoint customers", func(t *testing.T) {
		ra := a.rows(t, "query_customers", map[string]any{"limit": 1000, "columns": []string{"id"}})
		rb := b.rows(t, "query_customers", map[string]any{"limit": 1000, "columns": []string{"id"}})
		ia, ib := ids(t, ra, "id"), ids(t, rb, "id")
		if len(ia) == 0 || len(ib) == 0 {
			t.Fatalf("alice %d, bob %d customers", len(ia), len(ib))
		}
		for _, id := range ia {
			if slices.Contains(ib, id) {
				t.Fatalf("customer %d visible to both", id)
			}
		}
		if want := f.superCount(t, "1", "SELECT count(*) FROM customers"); len(ia) != want {
			t.Errorf("alice got %d customers, RLS lets her see %d", len(ia), want)
		}
		// The same call, one of bob's ids, from alice: nothing.
		if r := a.rows(t, "query_customers", map[string]any{"id": ib[0]}); r.RowCount != 0 {
			t.Errorf("alice read bob's customer %d", ib[0])
		}
	})

	t.Run("limit is enforced whatever limit says", func(t *testing.T) {
		r := a.rows(t, "query_orders", map[string]any{"limit": 3})
		if r.RowCount != 3 || !r.Truncated || r.NextCursor == "" {
			t.Errorf("limit 3: %d rows, truncated %v, cursor %q", r.RowCount, r.Truncated, r.NextCursor)
		}
		r = a.rows(t, "query_orders", map[string]any{"limit": 1000000, "columns": []string{"id"}})
		if r.RowCount != 1000 || !r.Truncated {
			t.Errorf("limit 1e6: %d rows (profile max_rows is 1000), truncated %v", r.RowCount, r.Truncated)
		}
		r = a.rows(t, "query_orders", map[string]any{})
		if r.RowCount != 100 || !r.Truncated {
			t.Errorf("default limit: %d rows, truncated %v", r.RowCount, r.Truncated)
		}
	})

	t.Run("cursor walks a whole table without duplicates or gaps", func(t *testing.T) {
		want := f.superCount(t, "1", "SELECT count(*) FROM orders")
		for _, args := range []map[string]any{
			{"limit": 1000, "columns": []string{"id", "status"}},
			{"limit": 700, "order_by": "created_at desc", "columns": []string{"id"}},
			{"limit": 100, "status": "delivered", "order_by": "created_at asc"},
		} {
			rows, pages := a.walk(t, "query_orders", args)
			seen := map[float64]bool{}
			for _, row := range rows {
				id := row["id"].(float64)
				if seen[id] {
					t.Fatalf("%v: order %v twice", args, id)
				}
				seen[id] = true
			}
			expect := want
			if args["status"] != nil {
				expect = f.superCount(t, "1", "SELECT count(*) FROM orders WHERE status = 'delivered'")
			}
			if len(rows) != expect {
				t.Errorf("%v: walked %d rows in %d pages, alice has %d", args, len(rows), pages, expect)
			}
			if pages < 2 {
				t.Errorf("%v: one page only; the walk proved nothing", args)
			}
		}
		// Products ordered by a numeric, non-unique column: the primary
		// key breaks ties.
		rows, _ := a.walk(t, "query_products", map[string]any{"limit": 37, "order_by": "price asc", "columns": []string{"id", "price"}})
		if len(rows) != f.superCount(t, "1", "SELECT count(*) FROM products") {
			t.Errorf("products walk: %d rows", len(rows))
		}
	})

	t.Run("bob cannot continue alice's cursor", func(t *testing.T) {
		r := a.rows(t, "query_orders", map[string]any{"limit": 2})
		msg := b.toolError(t, "query_orders", map[string]any{"limit": 2, "cursor": r.NextCursor})
		if !strings.Contains(msg, "cursor is not valid") {
			t.Errorf("message: %s", msg)
		}
		msg = a.toolError(t, "query_orders", map[string]any{"limit": 2, "status": "paid", "cursor": r.NextCursor})
		if !strings.Contains(msg, "cursor is not valid") {
			t.Errorf("cursor reused with other filters: %s", msg)
		}
		forged := r.NextCursor[:len(r.NextCursor)-3] + "AAA"
		a.toolError(t, "query_orders", map[string]any{"limit": 2, "cursor": forged})
		a.toolError(t, "query_orders", map[string]any{"cursor": "eyJ2IjoxfQ.AAAA"})
	})

	t.Run("injection strings in every string parameter match nothing", func(t *testing.T) {
		evil := []string{
			`' OR '1'='1`, `1; DROP TABLE orders; --`, `%' OR 1=1 --`, `\'; SELECT pg_sleep(5); --`,
			`x") OR true; --`, `' UNION SELECT usename, passwd FROM pg_shadow --`, "%", "_", `\`,
		}
		list, err := a.cs.ListTools(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		tried := 0
		for _, tool := range list.Tools {
			props := tool.InputSchema.(map[string]any)["properties"].(map[string]any)
			for name, ps := range props {
				p := ps.(map[string]any)
				if name == "cursor" || name == "order_by" || name == "columns" {
					continue
				}
				for _, v := range evil {
					var arg any = v
					if p["type"] == "array" {
						arg = []string{v}
					} else if p["type"] != "string" {
						continue
					}
					tried++
					res := a.call(t, tool.Name, map[string]any{name: arg})
					if res.IsError {
						msg := text(res)
						if strings.Contains(msg, "SELECT") || strings.Contains(msg, "FROM") || strings.Contains(msg, "$1") {
							t.Errorf("%s %s=%q: error leaks SQL: %s", tool.Name, name, v, msg)
						}
						continue
					}
					if r := decodeResult(t, res); r.RowCount != 0 {
						t.Errorf("%s %s=%q returned %d rows", tool.Name, name, v, r.RowCount)
					}
				}
			}
		}
		if tried < 50 {
			t.Errorf("only %d injection calls: the schema walk found too few string parameters", tried)
		}
	})

	t.Run("an unindexed column is refused with the filters that exist", func(t *testing.T) {
		for _, col := range []string{"city", "city_in", "tier"} {
			msg := a.toolError(t, "query_customers", map[string]any{col: "Berlin"})
			if !strings.Contains(msg, "cannot be filtered") || !strings.Contains(msg, "country") {
				t.Errorf("%s: %s", col, msg)
			}
		}
		msg := a.toolError(t, "query_customers", map[string]any{"colour": "red"})
		if !strings.Contains(msg, "no parameter") || !strings.Contains(msg, "email") {
			t.Errorf("unknown parameter: %s", msg)
		}
	})

	t.Run("bad input gets a clear tool error and the server keeps serving", func(t *testing.T) {
		huge := make([]int, 1001)
		for i := range huge {
			huge[i] = i
		}
		cases := []struct {
			args map[string]any
			want string
		}{
			{map[string]any{"id": "seven"}, "must be an integer"},
			{map[string]any{"id": 1.5}, "must be an integer"},
			{map[string]any{"id": 99999999999}, "out of range"},
			{map[string]any{"id": nil}, "leave the parameter out"},
			{map[string]any{"id_in": huge}, "at most 1000"},
			{map[string]any{"id_in": []any{}}, "at least one"},
			{map[string]any{"email": strings.Repeat("x", 1<<20)}, "limited to"},
			{map[string]any{"created_at_gte": "yesterday"}, "2024-05-31T14:30:00Z"},
			{map[string]any{"limit": 0}, "at least 1"},
			{map[string]any{"limit": "ten"}, "integer"},
			{map[string]any{"order_by": "city asc"}, "order_by must be a column"},
			{map[string]any{"columns": []string{"password"}}, "not a column"},
			{map[string]any{"full_name_search": ""}, "must not be empty"},
		}
		for _, c := range cases {
			msg := a.toolError(t, "query_customers", c.args)
			if !strings.Contains(msg, c.want) {
				t.Errorf("%v: %q lacks %q", keys(c.args), msg, c.want)
			}
		}
		if msg := a.toolError(t, "query_orders", map[string]any{"status": "lost"}); !strings.Contains(msg, "pending") {
			t.Errorf("enum: %s", msg)
		}
		a.rows(t, "query_customers", map[string]any{"limit": 1})
	})

	t.Run("values are typed", func(t *testing.T) {
		r := a.rows(t, "query_products", map[string]any{"id": 1})
		if r.RowCount != 1 {
			t.Fatalf("product 1: %d rows", r.RowCount)
		}
		p := r.Rows[0]
		if _, ok := p["price"].(string); !ok {
			t.Errorf("numeric price = %#v, want a string", p["price"])
		}
		if _, ok := p["attributes"].(map[string]any); !ok {
			t.Errorf("jsonb attributes = %#v, want an object", p["attributes"])
		}
		if _, ok := p["tags"].([]any); !ok {
			t.Errorf("text[] tags = %#v, want an array", p["tags"])
		}
		if s, ok := p["created_at"].(string); !ok || !strings.Contains(s, "T") {
			t.Errorf("timestamptz created_at = %#v, want RFC 3339", p["created_at"])
		}
		if _, ok := p["active"].(bool); !ok {
			t.Errorf("active = %#v", p["active"])
		}
	})

	t.Run("search parameters use their index form", func(t *testing.T) {
		r := a.rows(t, "query_products", map[string]any{"name_search": "a", "limit": 3, "columns": []string{"name"}})
		for _, row := range r.Rows {
			if !strings.Contains(strings.ToLower(row["name"].(string)), "a") {
				t.Errorf("trigram search for a: %v", row["name"])
			}
		}
		if r := a.rows(t, "query_products", map[string]any{"name_search": "%"}); r.RowCount != 0 {
			t.Errorf("%% is a wildcard: %d rows", r.RowCount)
		}
		r = a.rows(t, "query_support_tickets", map[string]any{"body_search": "order", "limit": 2})
		if r.RowCount == 0 {
			t.Errorf("full-text search for 'order' found nothing")
		}
	})

	t.Run("rows are framed as data in text content", func(t *testing.T) {
		res := a.call(t, "query_support_tickets", map[string]any{"limit": 50})
		txt := text(res)
		if !strings.Contains(txt, "not instructions") || !strings.Contains(txt, "<rows>") || !strings.HasSuffix(txt, "</rows>\n") {
			t.Errorf("text content is not framed:\n%.300s", txt)
		}
		if strings.Count(txt, "</rows>") != 1 {
			t.Errorf("a row value closed the frame")
		}
	})

	t.Run("concurrent callers each see their own rows", func(t *testing.T) {
		done := make(chan error, 16)
		for i := range 16 {
			s, id := a, "1"
			if i%2 == 1 {
				s, id = b, "2"
			}
			go func() {
				res, err := s.cs.CallTool(t.Context(), &sdk.CallToolParams{Name: "query_customers",
					Arguments: map[string]any{"limit": 50, "columns": []string{"account_manager_id"}, "country_in": []string{"DE", "FR", "US", "GB"}}})
				if err == nil && res.IsError {
					err = fmt.Errorf("%s", text(res))
				}
				var r mcp.Result
				if err == nil {
					b, _ := json.Marshal(res.StructuredContent)
					err = json.Unmarshal(b, &r)
				}
				if err == nil {
					for _, row := range r.Rows {
						if fmt.Sprint(row["account_manager_id"]) != id {
							err = fmt.Errorf("user %s saw a customer of manager %v", id, row["account_manager_id"])
						}
					}
				}
				done <- err
			}()
		}
		for range 16 {
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("statements are built once per shape", func(t *testing.T) {
		before := a.stack.Server.Stats()
		for i := range 20 {
			a.rows(t, "query_orders", map[string]any{"customer_id": i + 1, "limit": 5})
		}
		after := a.stack.Server.Stats()
		if hits := after.ShapeHits - before.ShapeHits; hits < 19 {
			t.Errorf("%d shape cache hits in 20 calls of one shape", hits)
		}
		t.Logf("shape cache: %d hits, %d misses (ratio %.2f)", after.ShapeHits, after.ShapeMisses, after.ShapeHitRatio())
	})
}

func keys(m map[string]any) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return fmt.Sprint(ks)
}

package mcp_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/policy"
)

// synthetic builds a schema of n tables like a real application's: every
// table has a primary key, a few indexed columns and a foreign key to one
// of the first ten "hub" tables; most tables and columns carry COMMENTs,
// every seventh table has none, and sizes span from a few rows (every
// fifth table) to millions.
func synthetic(n int) *introspect.Snapshot {
	status := enumType("state", "new", "active", "closed")
	var rels []*introspect.Relation
	for i := range n {
		name := fmt.Sprintf("entity_%03d", i)
		r := withPK(table("public", name,
			col("id", pgType("int8"), true), col("name", pgType("text"), true), col("state", status, true),
			col("amount", pgType("numeric"), false), col("created_at", pgType("timestamptz"), true),
			col("parent_id", pgType("int8"), false), col("note", pgType("text"), false)), "id")
		r.Indexes = append(r.Indexes, index(name+"_name", "btree", "name"), index(name+"_created", "btree", "created_at"),
			index(name+"_parent", "btree", "parent_id"))
		if i%7 != 3 {
			r.Comment = fmt.Sprintf("One row per entity of kind %d, as the application records it. Use it to look up an entity by name or by its parent.", i)
			for _, c := range r.Columns {
				c.Comment = fmt.Sprintf("The %s of the entity, as entered.", c.Name)
			}
		}
		r.EstimatedRows = int64(1000 * (i%13 + 1) * (i%13 + 1))
		if i%5 == 4 {
			r.EstimatedRows = 12
		}
		hub := fmt.Sprintf("entity_%03d", i%10)
		if hub != name {
			r.ForeignKeys = []introspect.ForeignKey{{Name: name + "_parent_fkey", From: r.QualifiedName(), FromColumns: []string{"parent_id"},
				To: introspect.QualifiedName{Schema: "public", Name: hub}, ToColumns: []string{"id"}}}
		}
		rels = append(rels, r)
	}
	return snapshot(rels...)
}

func listedCost(set *mcp.ToolSet) int {
	total := 0
	for _, t := range set.Listed() {
		total += t.TokenCost()
	}
	return total
}

// TestTokenBudgetOn200Tables: on a schema far too big to list, tools/list
// stays within the default budget, carries the discovery tools and the
// most useful table tools, and every table stays reachable.
func TestTokenBudgetOn200Tables(t *testing.T) {
	set := generate(t, synthetic(200), mcp.GenerateOptions{})
	var js bytes.Buffer
	if err := set.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	golden(t, "synthetic200.json", js.Bytes())
	checkTokenFile(t, "synthetic200", set) // TestGoldenTokenCounts holds its real count to the budget
	if cost := listedCost(set); cost > mcp.DefaultTokenBudget {
		t.Fatalf("tools/list costs about %d tokens, budget %d", cost, mcp.DefaultTokenBudget)
	}
	if !set.Discovery {
		t.Fatal("200 tables listed without discovery tools")
	}
	var listed, unlisted []string
	for _, tt := range set.Tables {
		if tt.Unlisted {
			unlisted = append(unlisted, tt.Key)
		} else {
			listed = append(listed, tt.Key)
		}
	}
	if len(listed) < 10 || len(unlisted) == 0 {
		t.Fatalf("listed %d, unlisted %d", len(listed), len(unlisted))
	}
	names := toolNames(set.Listed())
	if !slices.Equal(names[:3], []string{"list_tables", "describe_table", "query_table"}) {
		t.Errorf("listed %v", names)
	}
	// The hubs (documented, referenced by 19 tables each) come first; an
	// undocumented table of a dozen rows never beats a documented one.
	for i := range 10 {
		if i%7 != 3 && slices.Contains(unlisted, fmt.Sprintf("entity_%03d", i)) {
			t.Errorf("hub entity_%03d is not listed", i)
		}
	}
	if slices.Contains(listed, "entity_024") { // undocumented (24%7 == 3), 12 rows (24%5 == 4)
		t.Errorf("an undocumented table of 12 rows is listed: %v", listed)
	}
	for _, key := range unlisted {
		if _, ok := set.Table(key); !ok {
			t.Fatalf("unlisted %s not reachable through query_table", key)
		}
		if d, ok := set.DescribeTable(key); !ok || len(d.Parameters) == 0 {
			t.Fatalf("describe_table %s: %+v", key, d)
		}
	}
	// A listed tool refers to an unlisted related table through
	// query_table, to a listed one by its tool name.
	hub, _ := set.Tool("query_entity_000")
	if !strings.Contains(hub.Description, "query_table table=") || !strings.Contains(hub.Description, "query_entity_010 by parent_id") &&
		slices.Contains(listed, "entity_010") {
		t.Errorf("related hints of a listed hub:\n%s", hub.Description)
	}
	hits, _ := set.SearchTables("entity_150", 5)
	if len(hits) == 0 || hits[0].Table != "entity_150" || hits[0].Tool != "" {
		t.Errorf("list_tables does not find an unlisted table: %+v", hits)
	}
	if hits, _ := set.SearchTables("entity_000", 1); len(hits) != 1 || hits[0].Tool != "query_entity_000" {
		t.Errorf("list_tables does not name a listed table's tool: %+v", hits)
	}
}

// TestTokenBudgetIsConfigurable: a smaller budget lists fewer tools and is
// kept; a budget that fits everything lists every table tool and no
// discovery tool; discovery_threshold still caps the count.
func TestTokenBudgetIsConfigurable(t *testing.T) {
	snap := synthetic(200)
	small := generate(t, snap, mcp.GenerateOptions{TokenBudget: 3000})
	big := generate(t, snap, mcp.GenerateOptions{})
	if c := listedCost(small); c > 3000 || len(small.Listed()) >= len(big.Listed()) {
		t.Errorf("budget 3000: %d tokens, %d tools (default: %d tools)", c, len(small.Listed()), len(big.Listed()))
	}
	all := generate(t, snap, mcp.GenerateOptions{TokenBudget: 1 << 30})
	if all.Discovery || len(all.Listed()) != 200 {
		t.Errorf("a budget that fits all: discovery %v, %d listed", all.Discovery, len(all.Listed()))
	}
	capped := generate(t, snap, mcp.GenerateOptions{TokenBudget: 1 << 30, DiscoveryThreshold: 5})
	if !capped.Discovery || len(capped.Listed()) != 3+5 {
		t.Errorf("discovery_threshold 5: %v", toolNames(capped.Listed()))
	}
	// The listed tables of a smaller budget are the most useful prefix of
	// a larger one's.
	for _, tt := range small.Tables {
		if b, _ := big.Tool(tt.Name); !tt.Unlisted && b.Unlisted {
			t.Errorf("%s listed under budget 3000 but not under 10000", tt.Name)
		}
	}
	if _, err := mcp.Generate(snap, mcp.GenerateOptions{TokenBudget: -1}); err == nil {
		t.Error("a negative token_budget was accepted")
	}
}

// TestShopFitsWholeUnderTheDefaultBudget: a small schema lists every table
// tool and no discovery tool, as before the budget.
func TestShopFitsWholeUnderTheDefaultBudget(t *testing.T) {
	set := generate(t, shopLike(), mcp.GenerateOptions{})
	if set.Discovery || len(set.Listed()) != 2 {
		t.Errorf("listed %v", toolNames(set.Listed()))
	}
}

// TestReloadAcrossTheBudgetLineNotifies: when a reload moves a table tool
// across the budget line, a connected client gets
// notifications/tools/list_changed and then lists the new set.
func TestReloadAcrossTheBudgetLineNotifies(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	opts := mcp.GenerateOptions{TokenBudget: 4000}
	before := synthetic(60)
	live, err := mcp.NewLiveTools(before, opts, slog.New(slog.DiscardHandler), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	engine, err := policy.New(policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := mcp.NewServer(mcp.ServerOptions{Tools: live, Engine: engine, Executor: noExecutor{}})
	if err != nil {
		t.Fatal(err)
	}
	changed := make(chan struct{}, 16)
	client := sdk.NewClient(&sdk.Implementation{Name: "test"}, &sdk.ClientOptions{
		ToolListChangedHandler: func(context.Context, *sdk.ToolListChangedRequest) { changed <- struct{}{} },
	})
	ct, st := sdk.NewInMemoryTransports()
	ss, err := srv.SDK().Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	sess, err := client.Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	first := listToolNames(ctx, t, sess)
	// entity_058 is documented but neither big nor referenced; made the
	// biggest and most referenced table of the schema, it must cross into
	// the list.
	if slices.Contains(first, "query_entity_058") {
		t.Fatalf("entity_058 already listed: %v", first)
	}
	after := synthetic(60)
	promoted, _ := after.Relation("public", "entity_058")
	promoted.EstimatedRows = 1e9
	for _, r := range after.Relations[20:40] {
		r.ForeignKeys = append(r.ForeignKeys, introspect.ForeignKey{Name: r.Name + "_x", From: r.QualifiedName(),
			FromColumns: []string{"parent_id"}, To: promoted.QualifiedName(), ToColumns: []string{"id"}})
	}
	if err := srv.SchemaChanged(introspect.Assemble(after)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-ctx.Done():
		t.Fatal("no notifications/tools/list_changed after the reload")
	}
	second := listToolNames(ctx, t, sess)
	if !slices.Contains(second, "query_entity_058") {
		t.Errorf("entity_058 not listed after the reload: %v", second)
	}
}

func listToolNames(ctx context.Context, t *testing.T, sess *sdk.ClientSession) []string {
	t.Helper()
	res, err := sess.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tt := range res.Tools {
		names = append(names, tt.Name)
	}
	return names
}

func toolNames(ts []*mcp.ToolSpec) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

// noExecutor fails every statement: these tests never run one.
type noExecutor struct{}

func (noExecutor) Query(context.Context, policy.Identity, int, string, ...any) (*mcp.Rows, error) {
	return nil, fmt.Errorf("no executor in this test")
}

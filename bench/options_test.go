package main

import (
	"slices"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestParseOptions(t *testing.T) {
	o, err := parseOptions(nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.duration != 2*time.Second || o.rounds != 3 || !slices.Equal(o.clients, []int{1, 16, 64, 256}) ||
		!slices.Equal(o.scenarios, allScenarios) || o.idleClients != 10000 || o.pool != 20 {
		t.Errorf("defaults = %+v", o)
	}
	for _, tc := range []struct {
		name string
		args []string
		ok   bool
	}{
		{"subset", []string{"-only", "throughput,policy", "-clients", "16, 64", "-duration", "5s"}, true},
		{"unknown scenario", []string{"-only", "speed"}, false},
		{"unknown target", []string{"-targets", "odyssey"}, false},
		{"bad clients", []string{"-clients", "16,x"}, false},
		{"zero clients", []string{"-clients", "0"}, false},
		{"empty list", []string{"-modes", ","}, false},
		{"too short", []string{"-duration", "100ms"}, false},
		{"stray argument", []string{"now"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parseOptions(tc.args); (err == nil) != tc.ok {
				t.Errorf("parseOptions(%v) error = %v, want ok %v", tc.args, err, tc.ok)
			}
		})
	}
}

func TestPlannedSteps(t *testing.T) {
	o, _ := parseOptions([]string{"-only", "throughput", "-clients", "16,64", "-rounds", "2"})
	// 3 modes × 2 clients × 3 targets × 2 rounds, less PgBouncer's prepared
	// cells (2 clients × 2 rounds), plus its capability probe.
	// With strace, one traced run per pooler and cell (PgBouncer's
	// prepared cells excepted).
	want := 36 - 4 + 1
	if straceBin() != "" {
		want += 3*2*2 - 2
	}
	if got := plannedSteps(o); got != want {
		t.Errorf("plannedSteps = %d, want %d", got, want)
	}
}

// TestMCPTargets: -mcp-targets picks servers by key, and the npm peers
// are installed only when one of them is picked.
func TestMCPTargets(t *testing.T) {
	o, err := parseOptions([]string{"-only", "mcp", "-mcp-targets", "pgmoat-http", "-mcp-sessions", "8", "-rounds", "1"})
	if err != nil {
		t.Fatal(err)
	}
	if !o.wantsMCP(mPgmoatHTTP) || o.wantsMCP(mPgmoatStdio) || o.wantsMCP(mDBHub) || o.wantsPeers() {
		t.Errorf("pgmoat-http alone: %v", o.mcpTargets)
	}
	if got := plannedSteps(o); got != 1 {
		t.Errorf("plannedSteps = %d, want 1", got)
	}
	o, _ = parseOptions(nil)
	for _, name := range mcpTargetNames {
		if !o.wantsMCP(name) {
			t.Errorf("default leaves %s out", name)
		}
	}
	if _, err := parseOptions([]string{"-mcp-targets", "toolbox"}); err == nil {
		t.Error("an unknown MCP target is accepted")
	}
}

// TestLookupGroups: customers are grouped in order until a group holds
// enough orders for a full page, and the peers' SQL asks for the same
// customers, order and page as pgmoat's tool call.
func TestLookupGroups(t *testing.T) {
	counts := []customerOrders{{1, 40}, {2, 25}, {3, 70}, {4, 5}, {5, 30}, {6, 30}, {7, 1}}
	got := groupCustomers(counts, 60)
	want := [][]int32{{1, 2}, {3}, {4, 5, 6}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("groups %v, want %v", got, want)
	}
	sql := peerLookupSQL([]int32{4, 5, 6})
	if wantSQL := "SELECT id, status, total_amount, created_at FROM orders WHERE customer_id IN (4, 5, 6) ORDER BY created_at DESC, id DESC LIMIT 50"; sql != wantSQL {
		t.Errorf("peer SQL %q", sql)
	}
	args := pgmoatLookup([]int32{4, 5, 6}).Arguments.(map[string]any)
	if !slices.Equal(args["customer_id_in"].([]int32), []int32{4, 5, 6}) || args["limit"] != lookupPage || args["order_by"] != "created_at desc" {
		t.Errorf("pgmoat arguments %v", args)
	}
}

// TestPageRows: the rows of an answer are counted in the structured
// content (pgmoat) or in a text block's JSON (the peers' formats).
func TestPageRows(t *testing.T) {
	rows := `[{"id":1},{"id":2},{"id":3}]`
	for _, tc := range []struct {
		name string
		res  *sdk.CallToolResult
		want int
	}{
		{"structured", &sdk.CallToolResult{StructuredContent: map[string]any{"rows": []any{map[string]any{"id": 1}, map[string]any{"id": 2}}, "columns": []any{"id"}}}, 2},
		{"text array", &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: rows}}}, 3},
		{"text envelope", &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: `{"success":true,"data":{"rows":` + rows + `,"count":3}}`}}}, 3},
		{"not JSON", &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "3 rows"}}}, -1},
	} {
		if got := pageRows(tc.res); got != tc.want {
			t.Errorf("%s: %d rows, want %d", tc.name, got, tc.want)
		}
	}
}

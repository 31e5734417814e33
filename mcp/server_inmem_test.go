package mcp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/policy"
)

// The MCP server over the SDK's in-memory transports, with the fake
// executor of fakeexec_test.go: everything between a client's tools/call
// and the statement the executor is sent, without a database.

var (
	alice = policy.Identity{UserID: "1", Profile: policy.DefaultProfile}
	bob   = policy.Identity{UserID: "2", Profile: policy.DefaultProfile}
)

// fakeClock is the server's clock, moved by the test.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// harness is one server over a fake executor and one client session.
type harness struct {
	srv     *mcp.Server
	exec    *fakeExec
	clock   *fakeClock
	cs      *sdk.ClientSession
	changed chan struct{} // a tools list_changed notification arrived

	mu      sync.Mutex
	records []mcp.CallRecord
	stale   int
}

// newHarness serves shopLike's tools as alice (unless an option says
// otherwise) with the default policy.
func newHarness(t *testing.T, exec *fakeExec, options ...func(*mcp.ServerOptions)) *harness {
	t.Helper()
	h := &harness{exec: exec, clock: &fakeClock{now: time.Date(2024, 5, 31, 12, 0, 0, 0, time.UTC)}, changed: make(chan struct{}, 16)}
	live, err := mcp.NewLiveTools(shopLike(), mcp.GenerateOptions{}, slog.New(slog.DiscardHandler), h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	engine, err := policy.New(policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	id := alice
	opts := mcp.ServerOptions{Tools: live, Engine: engine, Executor: exec, Identity: &id, Now: h.clock.Now,
		OnCall: func(r mcp.CallRecord) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.records = append(h.records, r)
		},
		OnStale: func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.stale++
		},
	}
	for _, o := range options {
		o(&opts)
	}
	h.srv, err = mcp.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	h.cs = connect(t, h.srv, h.changed)
	return h
}

// connect opens a client session to srv over in-memory transports;
// changed, when not nil, hears of every tools list_changed notification.
func connect(t *testing.T, srv *mcp.Server, changed chan struct{}) *sdk.ClientSession {
	t.Helper()
	ct, st := sdk.NewInMemoryTransports()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, st) }()
	client := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, &sdk.ClientOptions{
		ToolListChangedHandler: func(context.Context, *sdk.ToolListChangedRequest) {
			if changed != nil {
				changed <- struct{}{}
			}
		},
	})
	cs, err := client.Connect(ctx, ct, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.Close()
		cancel()
		<-done
	})
	return cs
}

func asAlice(o *mcp.ServerOptions) { id := alice; o.Identity = &id }
func asBob(o *mcp.ServerOptions)   { id := bob; o.Identity = &id }

// withKey signs cursors with key, as instances behind one balancer do.
func withKey(key string) func(*mcp.ServerOptions) {
	return func(o *mcp.ServerOptions) { o.CursorKey = []byte(key) }
}

func withBudget(n int) func(*mcp.ServerOptions) {
	return func(o *mcp.ServerOptions) { o.MaxResultBytes = n }
}

// withProfile replaces the built-in readonly profile.
func withProfile(t *testing.T, p policy.Profile) func(*mcp.ServerOptions) {
	return func(o *mcp.ServerOptions) {
		p.Name = policy.DefaultProfile
		engine, err := policy.New(policy.Options{Profiles: map[string]policy.Profile{policy.DefaultProfile: p}})
		if err != nil {
			t.Fatal(err)
		}
		o.Engine = engine
	}
}

// call calls a tool: a protocol error fails the test, a tool error not.
func (h *harness) call(t *testing.T, tool string, args any) *sdk.CallToolResult {
	t.Helper()
	return callOn(t, h.cs, tool, args)
}

func callOn(t *testing.T, cs *sdk.ClientSession, tool string, args any) *sdk.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s(%v): protocol error: %v", tool, args, err)
	}
	return res
}

// tablePage is a table tool's structured result as a client decodes it.
type tablePage struct {
	Rows       []map[string]any `json:"rows"`
	RowCount   int              `json:"row_count"`
	Truncated  bool             `json:"truncated"`
	NextCursor string           `json:"next_cursor"`
	text       string
}

// page calls a tool that must succeed and decodes its result.
func (h *harness) page(t *testing.T, tool string, args any) tablePage {
	t.Helper()
	return pageOf(t, h.call(t, tool, args), tool, args)
}

func pageOf(t *testing.T, res *sdk.CallToolResult, tool string, args any) tablePage {
	t.Helper()
	if res.IsError {
		t.Fatalf("%s(%v): tool error: %s", tool, args, resultText(res))
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	var p tablePage
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("structured content %s: %v", b, err)
	}
	if p.Rows == nil || p.RowCount != len(p.Rows) {
		t.Fatalf("structured content %s: row_count must count rows, rows must be an array", b)
	}
	p.text = resultText(res)
	return p
}

// toolError calls a tool that must fail as a tool result.
func (h *harness) toolError(t *testing.T, tool string, args any) string {
	t.Helper()
	return toolErrorOf(t, h.call(t, tool, args), tool, args)
}

func toolErrorOf(t *testing.T, res *sdk.CallToolResult, tool string, args any) string {
	t.Helper()
	if !res.IsError {
		t.Fatalf("%s(%v) succeeded; want a tool error", tool, args)
	}
	msg := resultText(res)
	if strings.Contains(msg, "SELECT") || strings.Contains(msg, "$1") {
		t.Errorf("a tool error shows SQL: %s", msg)
	}
	return msg
}

func resultText(res *sdk.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

func (h *harness) lastRecord(t *testing.T) mcp.CallRecord {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.records) == 0 {
		t.Fatal("no call record")
	}
	return h.records[len(h.records)-1]
}

func (h *harness) staleCalls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stale
}

// swap tells the server of a new schema and waits for the client to hear
// that the tool list changed.
func (h *harness) swap(t *testing.T, snap *introspect.Snapshot) {
	t.Helper()
	if err := h.srv.SchemaChanged(snap); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.changed:
	case <-time.After(time.Minute):
		t.Fatal("no tools list_changed notification after a schema change")
	}
}

func (h *harness) toolNames(t *testing.T) map[string]bool {
	t.Helper()
	res, err := h.cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, tool := range res.Tools {
		names[tool.Name] = true
	}
	return names
}

// customers are n rows of public.customers with ids from 101.
func customers(n int) []map[string]any {
	rows := make([]map[string]any, n)
	for i := range rows {
		id := 101 + i
		rows[i] = map[string]any{"id": int32(id), "email": fmt.Sprintf("c%d@example.com", id), "full_name": fmt.Sprintf("Customer %d", id)}
	}
	return rows
}

// afterPosition is a page function for customers ordered by id: the rows
// after the one whose id travels as a bind value, as the keyset
// condition of a cursor selects them.
func afterPosition(c fakeCall, rows []map[string]any) []map[string]any {
	for i := len(rows) - 1; i >= 0; i-- {
		if c.hasArg(fmt.Sprint(rows[i]["id"])) {
			return rows[i+1:]
		}
	}
	return rows
}

func ids(t *testing.T, p tablePage) []int {
	t.Helper()
	var out []int
	for _, r := range p.Rows {
		n, ok := r["id"].(float64)
		if !ok {
			t.Fatalf("id = %#v", r["id"])
		}
		out = append(out, int(n))
	}
	return out
}

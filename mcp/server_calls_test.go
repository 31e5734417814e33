package mcp_test

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/policy"
)

func TestServerCallRunsOneParameterizedStatementAsTheCaller(t *testing.T) {
	t.Parallel()
	h := newHarness(t, &fakeExec{rows: customers(3)})
	if names := h.toolNames(t); !names["query_customers"] || !names["query_orders"] {
		t.Fatalf("tools/list: %v", names)
	}
	const evil = `x'); DROP TABLE customers; --`
	p := h.page(t, "query_customers", map[string]any{"email": evil})
	if got := ids(t, p); !slices.Equal(got, []int{101, 102, 103}) || p.Truncated || p.NextCursor != "" {
		t.Fatalf("page %v truncated %v cursor %q", got, p.Truncated, p.NextCursor)
	}
	c := h.exec.last()
	if c.ID != alice {
		t.Errorf("ran as %+v, want %+v", c.ID, alice)
	}
	if strings.Contains(c.SQL, "DROP") || !c.hasArg(evil) {
		t.Errorf("the value must travel as a parameter, not in %q (args %v)", c.SQL, c.Args)
	}
	if c.MaxBytes != 2*mcp.DefaultMaxResultBytes {
		t.Errorf("executor budget %d, want twice the default result budget", c.MaxBytes)
	}
	if !strings.Contains(p.text, "<rows>") || !strings.Contains(p.text, "c101@example.com") {
		t.Errorf("text result: %s", p.text)
	}
	if r := h.lastRecord(t); r.Tool != "query_customers" || r.UserID != "1" || r.Rows != 3 || r.SQL != c.SQL || r.IsError {
		t.Errorf("call record %+v", r)
	}
}

func TestServerTextWithoutDataFrame(t *testing.T) {
	t.Parallel()
	h := newHarness(t, &fakeExec{rows: customers(1)}, func(o *mcp.ServerOptions) { o.DataWrapper = mcp.DataWrapperNone })
	p := h.page(t, "query_customers", nil)
	if strings.Contains(p.text, "<rows>") || !strings.Contains(p.text, "c101@example.com") {
		t.Errorf("text result: %s", p.text)
	}
}

func TestServerShapeCache(t *testing.T) {
	t.Parallel()
	h := newHarness(t, &fakeExec{rows: customers(1)})
	h.page(t, "query_customers", map[string]any{"id": 101})
	first := h.exec.last().SQL
	if h.lastRecord(t).ShapeCacheHit {
		t.Error("the first call of a shape was a cache hit")
	}
	h.page(t, "query_customers", map[string]any{"id": 102})
	if h.exec.last().SQL != first || !h.lastRecord(t).ShapeCacheHit {
		t.Errorf("same shape, other value: statement %q (was %q), hit %v", h.exec.last().SQL, first, h.lastRecord(t).ShapeCacheHit)
	}
	h.page(t, "query_customers", map[string]any{"id": 101, "columns": []string{"email"}})
	if h.exec.last().SQL == first || h.lastRecord(t).ShapeCacheHit {
		t.Error("other columns must be another shape")
	}
	if s := h.srv.Stats(); s.ShapeHits != 1 || s.ShapeMisses != 2 || s.Calls != 3 || s.Errors != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestServerResultCache(t *testing.T) {
	t.Parallel()
	exec := &fakeExec{rows: customers(2)}
	h := newHarness(t, exec, func(o *mcp.ServerOptions) {
		o.ResultCacheTTL = 30 * time.Second
		o.ResultCacheTTLs = map[string]time.Duration{"query_orders": 0}
	})
	args := map[string]any{"id_gte": 101, "limit": 10}
	h.page(t, "query_customers", args)
	p := h.page(t, "query_customers", map[string]any{"limit": 10, "id_gte": 101})
	if exec.nCalls() != 1 || !h.lastRecord(t).ResultCacheHit || len(p.Rows) != 2 {
		t.Fatalf("the same arguments in another order ran %d statements; hit %v", exec.nCalls(), h.lastRecord(t).ResultCacheHit)
	}
	if h.lastRecord(t).SQL != "" {
		t.Error("a cached answer names a statement it did not send")
	}
	h.page(t, "query_customers", map[string]any{"id_gte": 102})
	if exec.nCalls() != 2 {
		t.Error("other arguments were answered from the cache")
	}
	h.clock.advance(31 * time.Second)
	h.page(t, "query_customers", args)
	if exec.nCalls() != 3 {
		t.Error("an expired entry was served")
	}
	h.page(t, "query_orders", nil)
	h.page(t, "query_orders", nil)
	if exec.nCalls() != 5 {
		t.Error("a tool whose TTL is 0 was cached")
	}

	exec.mu.Lock()
	exec.fail, exec.failOnce = &mcp.DBError{SQLState: "57014"}, true
	exec.mu.Unlock()
	h.toolError(t, "query_customers", map[string]any{"id": 105})
	h.page(t, "query_customers", map[string]any{"id": 105})
	if exec.nCalls() != 7 {
		t.Error("a failed call was cached")
	}
	s := h.srv.Stats()
	if s.ResultHits != 1 || s.ResultMisses != 5 {
		t.Errorf("stats %+v", s)
	}

	// A schema change drops every cached answer.
	h.swap(t, withoutCustomerEmail())
	h.page(t, "query_customers", map[string]any{"id": 105})
	if exec.nCalls() != 8 {
		t.Error("an answer of the old schema was served after a schema change")
	}
}

func TestServerCursors(t *testing.T) {
	t.Parallel()
	exec := &fakeExec{rows: customers(5), page: afterPosition}
	h := newHarness(t, exec, withKey("shared-key"))
	var got []int
	args := map[string]any{"limit": 2}
	var cursors []string
	for pages := 1; ; pages++ {
		p := h.page(t, "query_customers", args)
		got = append(got, ids(t, p)...)
		if !p.Truncated {
			if p.NextCursor != "" {
				t.Fatal("the last page has a cursor")
			}
			break
		}
		if p.NextCursor == "" || !strings.Contains(p.text, p.NextCursor) {
			t.Fatalf("page %d is truncated without a cursor in both forms: %s", pages, p.text)
		}
		if pages > 5 {
			t.Fatal("the walk does not end")
		}
		cursors = append(cursors, p.NextCursor)
		args = map[string]any{"limit": 2, "cursor": p.NextCursor}
	}
	if !slices.Equal(got, []int{101, 102, 103, 104, 105}) {
		t.Fatalf("walked %v", got)
	}
	first := cursors[0]
	if c := exec.calls[1]; !c.hasArg("102") {
		t.Errorf("the second page's statement does not carry the position 102: %v", c.Args)
	}
	// A page size is not part of the query a cursor continues.
	if p := h.page(t, "query_customers", map[string]any{"limit": 3, "cursor": first}); !slices.Equal(ids(t, p), []int{103, 104, 105}) {
		t.Errorf("another limit: %v", ids(t, p))
	}

	body, sig, _ := strings.Cut(first, ".")
	payload, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		t.Fatal(err)
	}
	forged := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), "102", "104", 1))) + "." + sig
	flipped := body + "." + flipFirst(sig)
	other := newHarness(t, exec, withKey("shared-key"), asBob)
	restarted := newHarness(t, exec, withKey("another-key"))
	for _, tc := range []struct {
		name string
		h    *harness
		args map[string]any
	}{
		{"forged position", h, map[string]any{"cursor": forged}},
		{"altered signature", h, map[string]any{"cursor": flipped}},
		{"no signature", h, map[string]any{"cursor": body}},
		{"not base64", h, map[string]any{"cursor": "!!.??"}},
		{"other filters", h, map[string]any{"cursor": first, "id_gte": 101}},
		{"other order", h, map[string]any{"cursor": first, "order_by": "id desc"}},
		{"other caller", other, map[string]any{"cursor": first}},
		{"other signing key (a restart without cursor_secret)", restarted, map[string]any{"cursor": first}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := exec.nCalls()
			msg := tc.h.toolError(t, "query_customers", tc.args)
			if !strings.HasPrefix(msg, "cursor is not valid for this call") || !strings.Contains(msg, "without cursor") {
				t.Errorf("message %q", msg)
			}
			if exec.nCalls() != before {
				t.Error("a refused cursor reached the executor")
			}
		})
	}
	// The same key and caller on another instance continue the walk.
	twin := newHarness(t, exec, withKey("shared-key"), asAlice)
	if p := twin.page(t, "query_customers", map[string]any{"limit": 2, "cursor": first}); !slices.Equal(ids(t, p), []int{103, 104}) {
		t.Errorf("another instance with the same key: %v", ids(t, p))
	}
}

// withoutCustomerEmail is shopLike after DROP COLUMN customers.email.
func withoutCustomerEmail() *introspect.Snapshot {
	snap := shopLike()
	var rels []*introspect.Relation
	for _, r := range snap.Relations {
		r := *r
		if r.Name == "customers" {
			r.Columns = slices.DeleteFunc(slices.Clone(r.Columns), func(c *introspect.Column) bool { return c.Name == "email" })
			r.Indexes = slices.DeleteFunc(slices.Clone(r.Indexes), func(ix *introspect.Index) bool { return ix.Name == "customers_email_key" })
		}
		rels = append(rels, &r)
	}
	return snapshot(rels...)
}

func TestServerFollowsASchemaSwap(t *testing.T) {
	t.Parallel()
	exec := &fakeExec{rows: customers(2)}
	h := newHarness(t, exec)
	h.page(t, "query_customers", nil)
	if !slices.Contains(selectList(exec.last().SQL), "email") {
		t.Fatalf("select list %v", selectList(exec.last().SQL))
	}

	// A dropped column: it leaves the select list and its filters say so.
	h.swap(t, withoutCustomerEmail())
	h.page(t, "query_customers", nil)
	if slices.Contains(selectList(exec.last().SQL), "email") || h.lastRecord(t).ShapeCacheHit {
		t.Errorf("after the swap: select list %v, shape cache hit %v", selectList(exec.last().SQL), h.lastRecord(t).ShapeCacheHit)
	}
	if msg := h.toolError(t, "query_customers", map[string]any{"email": "c101@example.com"}); !strings.Contains(msg, "no longer exists") || !strings.Contains(msg, "Call again without it") {
		t.Errorf("a dropped column's filter: %q", msg)
	}

	// A dropped table: its tool goes.
	snap := shopLike()
	h.swap(t, snapshot(snap.Relations[0]))
	if names := h.toolNames(t); names["query_orders"] || !names["query_customers"] {
		t.Errorf("tools/list after DROP TABLE orders: %v", names)
	}
	before := exec.nCalls()
	res, err := h.cs.CallTool(t.Context(), &sdk.CallToolParams{Name: "query_orders"})
	if err == nil && !res.IsError {
		t.Error("a dropped table's tool still answers")
	}
	if exec.nCalls() != before {
		t.Error("a dropped table's tool reached the executor")
	}
	if s := h.srv.Stats(); s.Reloads != 2 {
		t.Errorf("reloads %d, want 2", s.Reloads)
	}
}

// A call in flight when the schema changes finishes on the tools it
// started with; the next one is planned on the new ones.
func TestServerCallInFlightAcrossASwap(t *testing.T) {
	t.Parallel()
	exec := &fakeExec{rows: customers(1), block: make(chan struct{}), started: make(chan struct{}, 1)}
	h := newHarness(t, exec)
	done := make(chan *sdk.CallToolResult, 1)
	go func() {
		res, _ := h.cs.CallTool(t.Context(), &sdk.CallToolParams{Name: "query_customers"})
		done <- res
	}()
	<-exec.started
	h.swap(t, withoutCustomerEmail())
	close(exec.block)
	if p := pageOf(t, <-done, "query_customers", nil); len(p.Rows) != 1 || p.Rows[0]["email"] != "c101@example.com" {
		t.Errorf("the call in flight: %+v", p.Rows)
	}
	h.page(t, "query_customers", nil)
	if slices.Contains(selectList(exec.last().SQL), "email") {
		t.Error("the call after the swap was planned on the old tools")
	}
}

func TestServerNoticesAStaleSchema(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		exec *fakeExec
		want string
	}{
		{"undefined table", &fakeExec{fail: &mcp.DBError{SQLState: "42P01"}}, "refers to a table or column that no longer exists"},
		{"undefined column", &fakeExec{fail: &mcp.DBError{SQLState: "42703"}}, "refers to a table or column that no longer exists"},
		{"a column fewer than asked", &fakeExec{rows: customers(1), drop: 1}, "a column of public.customers no longer exists; the schema changed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, tc.exec)
			if msg := h.toolError(t, "query_customers", nil); !strings.Contains(msg, tc.want) || !strings.Contains(msg, "list the tools again") {
				t.Errorf("message %q", msg)
			}
			if h.staleCalls() != 1 {
				t.Errorf("OnStale called %d times, want 1", h.staleCalls())
			}
		})
	}
	h := newHarness(t, &fakeExec{fail: &mcp.DBError{SQLState: "57014"}})
	h.toolError(t, "query_customers", nil)
	if h.staleCalls() != 0 {
		t.Error("a timeout was taken for a stale schema")
	}
}

// A profile that may not read a table neither lists nor runs its tool.
func TestServerHidesAndRefusesWhatThePolicyDenies(t *testing.T) {
	t.Parallel()
	exec := &fakeExec{rows: customers(1)}
	h := newHarness(t, exec, withProfile(t, policy.Profile{DenyRelations: []string{"public.orders"}}))
	if names := h.toolNames(t); names["query_orders"] || !names["query_customers"] {
		t.Errorf("tools/list: %v", names)
	}
	msg := h.toolError(t, "query_orders", nil)
	if !strings.HasPrefix(msg, "pgmoat: ") || h.lastRecord(t).DenialRule == "" || !strings.HasPrefix(msg, "pgmoat: "+h.lastRecord(t).DenialRule+":") {
		t.Errorf("message %q, rule %q", msg, h.lastRecord(t).DenialRule)
	}
	if exec.nCalls() != 0 {
		t.Error("a denied statement reached the executor")
	}
}

func TestServerWithoutIdentityRefusesCalls(t *testing.T) {
	t.Parallel()
	exec := &fakeExec{rows: customers(1)}
	h := newHarness(t, exec, func(o *mcp.ServerOptions) { o.Identity = nil })
	if msg := h.toolError(t, "query_customers", nil); !strings.Contains(msg, "carries no identity") {
		t.Errorf("message %q", msg)
	}
	if exec.nCalls() != 0 {
		t.Error("a call without identity reached the executor")
	}
}

// flipFirst changes the first character of a base64 text.
func flipFirst(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

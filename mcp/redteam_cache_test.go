package mcp_test

import (
	"testing"
	"time"

	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/policy"
)

// TestResultCacheFollowsTheRules: an answer cached under one set of
// profiles is not served once they are swapped (a RELOAD that changed
// only the profiles, schema unchanged): the result cache is consulted
// before any policy check, so the call must reach the executor, which
// judges it under the new rules. Under the same rules it is served.
func TestResultCacheFollowsTheRules(t *testing.T) {
	t.Parallel()
	engine, err := policy.New(policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	exec := &fakeExec{rows: customers(2)}
	h := newHarness(t, exec, func(o *mcp.ServerOptions) {
		o.Engine = engine
		o.ResultCacheTTL = 30 * time.Second
	})
	args := map[string]any{"limit": 10}
	h.page(t, "query_customers", args)
	h.page(t, "query_customers", args)
	if exec.nCalls() != 1 || !h.lastRecord(t).ResultCacheHit {
		t.Fatalf("the same call under the same rules ran %d statements", exec.nCalls())
	}
	if err := engine.SetProfiles(map[string]policy.Profile{policy.DefaultProfile: {MaxRows: 1}}); err != nil {
		t.Fatal(err)
	}
	h.page(t, "query_customers", args)
	if exec.nCalls() != 2 || h.lastRecord(t).ResultCacheHit {
		t.Errorf("after the profiles changed the answer came from the cache (%d statements run)", exec.nCalls())
	}
}

// TestPolicyChangedRelistsTools: a reload that changes only the profiles
// changes which tools a caller is shown, so PolicyChanged sends
// list_changed, and the list the client then reads leaves out the table
// the new rules deny.
func TestPolicyChangedRelistsTools(t *testing.T) {
	t.Parallel()
	engine, err := policy.New(policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, &fakeExec{rows: customers(1)}, func(o *mcp.ServerOptions) { o.Engine = engine })
	if !h.toolNames(t)["query_customers"] {
		t.Fatal("query_customers is not listed before the change")
	}
	if err := engine.SetProfiles(map[string]policy.Profile{policy.DefaultProfile: {DenyRelations: []string{"public.customers"}}}); err != nil {
		t.Fatal(err)
	}
	h.srv.PolicyChanged()
	select {
	case <-h.changed:
	case <-time.After(time.Minute):
		t.Fatal("no tools list_changed notification after the profiles changed")
	}
	if h.toolNames(t)["query_customers"] {
		t.Error("query_customers is still listed after the profiles denied public.customers")
	}
}

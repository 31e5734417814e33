package main

import (
	"context"
	"testing"

	"github.com/pgmoat/pgmoat/policy"
)

// TestEngineJudgesUserFunctionsOnline: once the MCP side has read the
// catalog, the shared engine knows user-defined functions and their
// volatility instead of refusing them as unknown.
func TestEngineJudgesUserFunctionsOnline(t *testing.T) {
	t.Parallel()
	f := newShopFixture(t)
	f.superExec(t, `CREATE FUNCTION public.with_tax(numeric) RETURNS numeric IMMUTABLE LANGUAGE sql AS 'SELECT $1 * 1.19';
		CREATE FUNCTION public.touch_counter() RETURNS int VOLATILE LANGUAGE sql AS 'SELECT 1'`)
	engine, err := policy.New(f.cfg.PolicyOptions())
	if err != nil {
		t.Fatal(err)
	}
	if v := engine.Decide(alice, "SELECT public.with_tax(total_amount) FROM orders"); v.Rule != policy.RuleUnknownFunc {
		t.Fatalf("offline: %s %s, want %s", v.Rule, v.Reason, policy.RuleUnknownFunc)
	}
	if _, err := newMCPStack(context.Background(), f.cfg, engine, f.pool, discardLogger(), &alice, nil); err != nil {
		t.Fatal(err)
	}
	if v := engine.Decide(alice, "SELECT public.with_tax(total_amount) FROM orders"); !v.Allowed {
		t.Fatalf("online, immutable user function: %s %s", v.Rule, v.Reason)
	}
	if v := engine.Decide(alice, "SELECT public.touch_counter()"); v.Rule != policy.RuleVolatile {
		t.Fatalf("online, volatile user function: %s %s, want %s", v.Rule, v.Reason, policy.RuleVolatile)
	}
	if v := engine.Decide(alice, "SELECT pg_catalog.set_config('request.user_id', '2', false)"); v.Allowed {
		t.Fatal("the deny list must still win online")
	}
}

package policy

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func shopProfile() Profile {
	return Profile{
		MaxRows:             10,
		SearchPath:          []string{"shop", "public"},
		AllowSchemas:        []string{"shop", "public"},
		AllowRelations:      []string{"shop.orders", "public.products"},
		DenyRelations:       []string{"shop.secrets"},
		AllowFunctions:      []string{"clock_timestamp"},
		DenyFunctions:       []string{"lower", "pg_catalog.upper", "my*", "random"},
		AllowMultiStatement: true,
	}
}

func TestProfileRules(t *testing.T) {
	e, err := New(Options{Profiles: map[string]Profile{"shop": shopProfile()}})
	if err != nil {
		t.Fatal(err)
	}
	shop := Identity{UserID: "1", Profile: "shop"}
	cases := []struct {
		sql       string
		rule      string // "" = allowed
		rewritten string
	}{
		{"select * from shop.orders", "", "SELECT * FROM shop.orders LIMIT 10"},
		{"select * from shop.orders limit 3", "", ""},
		{"select * from public.products", "", "SELECT * FROM public.products LIMIT 10"},
		// Offline the engine cannot tell shop.orders from public.orders,
		// so an unqualified name must be readable in every schema.
		{"select * from orders", RuleRelation, ""},
		{"select * from shop.customers", RuleRelation, ""},
		{"select * from customers", RuleRelation, ""}, // shop.customers or public.customers: neither listed
		{"select * from shop.secrets", RuleRelation, ""},
		{"select relname from pg_class", "", "SELECT relname FROM pg_class LIMIT 10"},
		{"select clock_timestamp()", "", "SELECT clock_timestamp() LIMIT 10"},
		{"select random()", RuleFunction, ""}, // a profile's deny list beats the built-in allow list
		{"select pg_table_size('shop.orders')", "", "SELECT pg_table_size('shop.orders') LIMIT 10"},
		{"select gen_random_uuid()", RuleVolatile, ""},
		{"select lower('A')", RuleFunction, ""},
		{"select upper('A')", RuleFunction, ""},
		{"select pg_catalog.lower('A')", RuleFunction, ""},
		{"select myfunc()", RuleFunction, ""},
		{"select 1; select 2", "", "SELECT 1 LIMIT 10; SELECT 2 LIMIT 10"},
		{"select 1; delete from shop.orders", RuleKind, ""},
	}
	for _, c := range cases {
		v := e.Decide(shop, c.sql)
		if c.rule == "" {
			if !v.Allowed || v.Rewritten != c.rewritten {
				t.Errorf("%q: got %+v; want allowed, rewritten %q", c.sql, v, c.rewritten)
			}
			continue
		}
		if v.Allowed || v.Rule != c.rule {
			t.Errorf("%q: got %v %s (%s); want %s", c.sql, v.Allowed, v.Rule, v.Reason, c.rule)
		}
	}
	if p, ok := e.Profile("shop"); !ok || p.MaxRows != 10 || p.StatementTimeout != DefaultStatementTimeout {
		t.Errorf("Profile(shop) = %+v, %v", p, ok)
	}
	if p, ok := e.Profile(""); !ok || p.Name != DefaultProfile || p.MaxRows != DefaultMaxRows {
		t.Errorf("Profile(\"\") = %+v, %v", p, ok)
	}
}

// relCatalog is an online catalog that knows where relations live.
type relCatalog struct {
	FunctionMap
	rels map[string]bool
}

func (c relCatalog) HasRelation(schema, name string) bool { return c.rels[schema+"."+name] }

func TestOnlineRelationResolution(t *testing.T) {
	e, err := New(Options{
		Profiles:  map[string]Profile{"shop": shopProfile()},
		Functions: relCatalog{BuiltinFunctions(), map[string]bool{"shop.orders": true, "public.orders": true, "public.products": true, "shop.secrets": true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	shop := Identity{Profile: "shop"}
	for sql, want := range map[string]string{
		"select * from orders":    "shop.orders", // first on the path
		"select * from products":  "public.products",
		"select * from secrets":   "",
		"select * from pg_class":  "pg_catalog.pg_class",
		"select * from pg_authid": "",
	} {
		v := e.Decide(shop, sql)
		if want == "" {
			if v.Allowed {
				t.Errorf("%q allowed", sql)
			}
			continue
		}
		if !v.Allowed || len(v.Relations) != 1 || v.Relations[0].String() != want {
			t.Errorf("%q: %+v; want %s", sql, v, want)
		}
	}
}

func TestUnknownProfileDenied(t *testing.T) {
	e := newTestEngine(t)
	v := e.Decide(Identity{Profile: "admin"}, "select 1")
	if v.Allowed || v.Rule != RuleProfile || v.SQLState != SQLStateDenied {
		t.Fatalf("got %+v", v)
	}
}

func TestNewRejectsBadProfiles(t *testing.T) {
	for name, p := range map[string]Profile{
		"unqualified allow": {AllowRelations: []string{"orders"}},
		"unqualified deny":  {DenyRelations: []string{"orders"}},
		"negative rows":     {MaxRows: -1},
		"negative slow":     {SlowThreshold: -1},
		"mismatched name":   {Name: "other"},
	} {
		if _, err := New(Options{Profiles: map[string]Profile{"p": p}}); err == nil {
			t.Errorf("%s: New accepted %+v", name, p)
		}
	}
}

func TestOnlineCatalogSwap(t *testing.T) {
	e := newTestEngine(t)
	id := Identity{}
	if v := e.Decide(id, "select report(1)"); v.Rule != RuleUnknownFunc {
		t.Fatalf("before the swap: %+v", v)
	}
	online := BuiltinFunctions()
	online["public.report"] = Stable
	online["public.wipe"] = Volatile
	e.SetFunctions(online)
	if v := e.Decide(id, "select report(1)"); !v.Allowed || v.Functions[0] != (FunctionName{Schema: "public", Name: "report"}) {
		t.Fatalf("after the swap: %+v", v)
	}
	if v := e.Decide(id, "select wipe()"); v.Rule != RuleVolatile {
		t.Fatalf("volatile user function: %+v", v)
	}
	e.SetFunctions(nil)
	if v := e.Decide(id, "select report(1)"); v.Rule != RuleUnknownFunc {
		t.Fatalf("after restoring the built-in table the cached verdict survived: %+v", v)
	}
}

// TestCacheKeyIsExactText shows why verdicts are not shared between texts
// that normalize alike: a literal can decide.
func TestCacheKeyIsExactText(t *testing.T) {
	e := newTestEngine(t)
	pairs := [][2]string{
		{"select 'orders'::regclass", "select 'pg_authid'::regclass"},
		{"select * from orders limit 5", "select * from orders limit 5000"},
		{"select 'random'::regproc", "select 'pg_sleep'::regproc"},
	}
	for _, p := range pairs {
		a, b := e.Decide(Identity{}, p[0]), e.Decide(Identity{}, p[1])
		if fmt.Sprint(a) == fmt.Sprint(b) {
			t.Errorf("%q and %q got the same verdict %+v", p[0], p[1], a)
		}
		if again := e.Decide(Identity{}, p[0]); fmt.Sprint(again) != fmt.Sprint(a) {
			t.Errorf("cached verdict of %q changed: %+v then %+v", p[0], a, again)
		}
	}
}

func TestCacheSeparatesProfiles(t *testing.T) {
	e, err := New(Options{Profiles: map[string]Profile{"small": {MaxRows: 5}}})
	if err != nil {
		t.Fatal(err)
	}
	a := e.Decide(Identity{}, "select * from orders")
	b := e.Decide(Identity{Profile: "small"}, "select * from orders")
	if !strings.Contains(a.Rewritten, "1000") || !strings.Contains(b.Rewritten, "LIMIT 5") {
		t.Fatalf("readonly %q, small %q", a.Rewritten, b.Rewritten)
	}
}

func TestConcurrentDecide(t *testing.T) {
	e, err := New(Options{CacheSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				sql := fmt.Sprintf("select * from orders where id = %d", i%100)
				if v := e.Decide(Identity{}, sql); !v.Allowed {
					t.Errorf("%q denied: %s", sql, v.Reason)
					return
				}
				if v := e.Decide(Identity{}, "select pg_sleep(1)"); v.Allowed {
					t.Error("pg_sleep allowed")
					return
				}
				if i%100 == 0 {
					e.SetFunctions(nil)
				}
			}
		}()
	}
	wg.Wait()
}

func TestCacheStatsCount(t *testing.T) {
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	id := Identity{UserID: "1"}
	e.Decide(id, "SELECT 1")
	e.Decide(id, "SELECT 1")
	e.Decide(id, "SELECT 2")
	if got := e.CacheStats(); got.Hits != 1 || got.Misses != 2 {
		t.Fatalf("CacheStats = %+v, want 1 hit, 2 misses", got)
	}
}

func TestNormalizeScrubsLiterals(t *testing.T) {
	for in, want := range map[string]string{
		"SELECT * FROM t WHERE email = 'alice@example.com' AND id = 42": "SELECT * FROM t WHERE email = $1 AND id = $2",
		"SELECT label FROM items WHERE id = $1":                         "SELECT label FROM items WHERE id = $1",
		"SELECT 'unterminated":                                          "",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

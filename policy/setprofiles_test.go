package policy

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestSetProfiles(t *testing.T) {
	base := map[string]Profile{"shop": {MaxRows: 10, DenyRelations: []string{"public.secrets"}}}
	shop := Identity{UserID: "1", Profile: "shop"}
	cases := []struct {
		name    string
		next    map[string]Profile
		wantErr bool
		// after the call: the verdict rule for sql under id ("" = allowed)
		id       Identity
		sql      string
		wantRule string
		wantRows int // shop's MaxRows afterwards; 0 = profile gone
	}{
		{name: "new deny list applies", next: map[string]Profile{"shop": {MaxRows: 10, DenyRelations: []string{"public.orders"}}},
			id: shop, sql: "select * from public.orders", wantRule: RuleRelation, wantRows: 10},
		{name: "rule lifted", next: map[string]Profile{"shop": {MaxRows: 10}},
			id: shop, sql: "select * from public.secrets", wantRule: "", wantRows: 10},
		{name: "bad profile changes nothing", next: map[string]Profile{"shop": {MaxRows: 99}, "bad": {DenyRelations: []string{"unqualified"}}},
			wantErr: true, id: shop, sql: "select * from public.secrets", wantRule: RuleRelation, wantRows: 10},
		{name: "mismatched name changes nothing", next: map[string]Profile{"shop": {Name: "other"}},
			wantErr: true, id: shop, sql: "select * from public.secrets", wantRule: RuleRelation, wantRows: 10},
		{name: "removed profile denies", next: map[string]Profile{},
			id: shop, sql: "select 1", wantRule: RuleProfile},
		{name: "readonly stays built in", next: map[string]Profile{},
			id: Identity{}, sql: "select pg_sleep(1)", wantRule: RuleFunction},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := New(Options{Profiles: base})
			if err != nil {
				t.Fatal(err)
			}
			// Warm the cache under the old profiles: the swap must not
			// answer from it.
			before := e.Decide(c.id, c.sql)
			if err := CheckProfiles(c.next); (err != nil) != c.wantErr {
				t.Fatalf("CheckProfiles error = %v, want error %v", err, c.wantErr)
			}
			err = e.SetProfiles(c.next)
			if (err != nil) != c.wantErr {
				t.Fatalf("SetProfiles error = %v, want error %v", err, c.wantErr)
			}
			v := e.Decide(c.id, c.sql)
			if v.Rule != c.wantRule || v.Allowed != (c.wantRule == "") {
				t.Fatalf("%q: got rule %q allowed %v (before the swap: %q); want rule %q", c.sql, v.Rule, v.Allowed, before.Rule, c.wantRule)
			}
			p, ok := e.Profile("shop")
			if got := map[bool]int{true: p.MaxRows}[ok]; got != c.wantRows {
				t.Fatalf("shop max_rows = %d (present %v), want %d", got, ok, c.wantRows)
			}
		})
	}
}

// TestSetProfilesDropsCachedVerdicts checks a verdict cached under the old
// profile is not returned for the same text afterwards, even where the
// old verdict was an allow (the dangerous direction).
func TestSetProfilesDropsCachedVerdicts(t *testing.T) {
	e, err := New(Options{Profiles: map[string]Profile{"p": {MaxRows: 5}}})
	if err != nil {
		t.Fatal(err)
	}
	id := Identity{Profile: "p"}
	const sql = "select * from public.orders"
	for range 2 {
		if v := e.Decide(id, sql); !v.Allowed || v.Rewritten != "SELECT * FROM public.orders LIMIT 5" {
			t.Fatalf("before: %+v", v)
		}
	}
	if e.CacheStats().Hits != 1 {
		t.Fatalf("the verdict was not cached: %+v", e.CacheStats())
	}
	if err := e.SetProfiles(map[string]Profile{"p": {MaxRows: 7, StatementTimeout: time.Second, DenyRelations: []string{"public.orders"}}}); err != nil {
		t.Fatal(err)
	}
	if v := e.Decide(id, sql); v.Allowed || v.Rule != RuleRelation || v.SQLState != SQLStateDenied {
		t.Fatalf("the old verdict answered after SetProfiles: %+v", v)
	}
	if p, _ := e.Profile("p"); p.StatementTimeout != time.Second || p.MaxRows != 7 {
		t.Fatalf("Profile after the swap = %+v", p)
	}
	if v := e.Decide(id, "select * from public.products"); v.Rewritten != "SELECT * FROM public.products LIMIT 7" {
		t.Fatalf("new max_rows not applied: %+v", v)
	}
}

// TestSetProfilesConcurrentDecide swaps between two profile sets while
// Decide runs: every verdict must be one of the two sets' answers, never
// a mix, and the race detector must stay quiet.
func TestSetProfilesConcurrentDecide(t *testing.T) {
	open := map[string]Profile{"p": {MaxRows: 10}}
	closed := map[string]Profile{"p": {MaxRows: 20, DenyRelations: []string{"public.orders"}}}
	e, err := New(Options{Profiles: open, CacheSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	id := Identity{Profile: "p"}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				sql := fmt.Sprintf("select * from public.orders where id = %d", (g*7+i)%50)
				v := e.Decide(id, sql)
				allowedOpen := v.Allowed && v.Rewritten == fmt.Sprintf("SELECT * FROM public.orders WHERE id = %d LIMIT 10", (g*7+i)%50)
				deniedClosed := !v.Allowed && v.Rule == RuleRelation
				if !allowedOpen && !deniedClosed {
					t.Errorf("%q: verdict from neither profile set: %+v", sql, v)
					return
				}
				if _, ok := e.Profile("p"); !ok {
					t.Error("profile p missing during a swap")
					return
				}
			}
		}()
	}
	for i := range 200 {
		next := open
		if i%2 == 0 {
			next = closed
		}
		if err := e.SetProfiles(next); err != nil {
			t.Error(err)
			break
		}
		if i%50 == 0 {
			e.SetFunctions(nil)
		}
	}
	close(stop)
	wg.Wait()
	if err := e.SetProfiles(closed); err != nil {
		t.Fatal(err)
	}
	if v := e.Decide(id, "select * from public.orders where id = 1"); v.Allowed {
		t.Fatalf("after the last swap: %+v", v)
	}
}

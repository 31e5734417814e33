package policy

import "testing"

// TestDeallocate decides DEALLOCATE in each spelling: allowed, kind
// deallocate, with the name (or ALL) in the verdict, never shared
// between names; PREPARE and EXECUTE stay refused, and DEALLOCATE in a
// multi-statement text too.
func TestDeallocate(t *testing.T) {
	e := newTestEngine(t)
	id := Identity{UserID: "1"}
	for range 2 { // the second round is answered from the caches
		for _, c := range []struct {
			sql  string
			want Deallocation
		}{
			{"DEALLOCATE a1", Deallocation{Name: "a1"}},
			{"deallocate prepare a2", Deallocation{Name: "a2"}},
			{`DEALLOCATE "Mixed Case"`, Deallocation{Name: "Mixed Case"}},
			{"DEALLOCATE ALL", Deallocation{All: true}},
			{"deallocate all", Deallocation{All: true}},
			{"DEALLOCATE PREPARE ALL;", Deallocation{All: true}},
		} {
			for _, v := range []Verdict{e.DecideQuery(id, c.sql), e.Decide(id, c.sql)} {
				if !v.Allowed || v.Kind != KindDeallocate || v.Deallocate == nil || *v.Deallocate != c.want || v.Setting != nil {
					t.Errorf("%s: got allowed=%v kind=%s deallocate=%+v (%s), want %+v", c.sql, v.Allowed, v.Kind, v.Deallocate, v.Reason, c.want)
				}
			}
		}
	}
	multi, err := New(Options{Profiles: map[string]Profile{"multi": {AllowMultiStatement: true}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{"PREPARE p AS SELECT 1", "EXECUTE p", "DEALLOCATE a; SELECT 1", "SELECT 1; DEALLOCATE ALL"} {
		v := multi.DecideQuery(Identity{UserID: "1", Profile: "multi"}, sql)
		if v.Allowed || v.Rule != RuleKind || v.SQLState != SQLStateDenied || v.Deallocate != nil {
			t.Errorf("%s: got allowed=%v rule=%s state=%s deallocate=%+v, want a statement.kind denial", sql, v.Allowed, v.Rule, v.SQLState, v.Deallocate)
		}
	}
}

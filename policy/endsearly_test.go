package policy

import "testing"

// A text whose COMMIT or ROLLBACK comes before another of its
// statements says so: the door must keep what it set for the first
// transaction in force for the next one.
func TestVerdictEndsEarly(t *testing.T) {
	e, err := New(Options{Profiles: map[string]Profile{"multi": {AllowMultiStatement: true}}})
	if err != nil {
		t.Fatal(err)
	}
	id := Identity{UserID: "1", Profile: "multi"}
	for sql, want := range map[string]bool{
		"BEGIN; SELECT 1; COMMIT; SELECT 2":   true,
		"BEGIN; SELECT 1; ROLLBACK; SELECT 2": true,
		"BEGIN; END; SELECT 2":                true,
		"COMMIT AND CHAIN; SELECT 2":          true,
		"BEGIN; SELECT 1; COMMIT":             false,
		"SELECT 1; SELECT 2":                  false,
		"COMMIT":                              false,
	} {
		for _, v := range []Verdict{e.DecideQuery(id, sql), e.Decide(id, sql)} {
			if !v.Allowed || v.EndsEarly != want {
				t.Errorf("%s: allowed %v (%s), EndsEarly %v, want %v", sql, v.Allowed, v.Reason, v.EndsEarly, want)
			}
		}
	}
}

package policy_test

import (
	"slices"
	"testing"

	"github.com/pgmoat/pgmoat/policy"
)

func TestNormalizeTypedGivesEachPlaceholderItsLiteralsType(t *testing.T) {
	for _, tc := range []struct {
		sql, text string
		oids      []uint32
	}{
		{"SELECT * FROM generate_series(1, 10)", "SELECT * FROM generate_series($1, $2)", []uint32{23, 23}},
		{"SELECT generate_series(-5, 12345678901)", "SELECT generate_series($1, $2)", []uint32{23, 20}},
		{"SELECT 1.5 + 1e3, 99999999999999999999", "SELECT $1 + $2, $3", []uint32{1700, 1700, 1700}},
		{"SELECT id FROM t WHERE name = 'a' AND ok = true AND b = B'101' AND v = NULL", "SELECT id FROM t WHERE name = $1 AND ok = $2 AND b = $3 AND v = $4", []uint32{0, 16, 1560, 0}},
		{"SELECT interval '1 day', 'x'::varchar(10)", "SELECT interval $1, $2::varchar(10)", []uint32{0, 0}},
		// The text's own $1 keeps its place; the literals come after it.
		{"SELECT generate_series($1, 3)", "SELECT generate_series($1, $2)", []uint32{0, 23}},
		{"SELECT id FROM t", "SELECT id FROM t", nil},
		{"SELECT 'x' FROM", "", nil},
	} {
		text, oids := policy.NormalizeTyped(tc.sql)
		if text != tc.text || !slices.Equal(oids, tc.oids) {
			t.Errorf("%s: %q %v, want %q %v", tc.sql, text, oids, tc.text, tc.oids)
		}
	}
}

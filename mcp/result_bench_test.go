package mcp

import (
	"strings"
	"testing"
)

// BenchmarkShapeAndRender is a typical page: 100 rows of six columns,
// shaped, budgeted and rendered as text.
func BenchmarkShapeAndRender(b *testing.B) {
	pl := &plan{selected: []selectedColumn{{name: "id", class: classInteger}, {name: "email", class: classText},
		{name: "full_name", class: classText}, {name: "country", class: classText}, {name: "tier", class: classText},
		{name: "account_manager_id", class: classInteger}}, keys: []int{0}, returned: 6}
	rows := &Rows{Columns: []string{"id", "email", "full_name", "country", "tier", "account_manager_id"}}
	for i := range 100 {
		rows.Values = append(rows.Values, []any{int64(i), "customer" + strings.Repeat("x", i%7) + "@example.com",
			"Ada Lovelace", "GB", "gold", int64(i % 5)})
	}
	b.ReportAllocs()
	for b.Loop() {
		pg, _, _ := shapeRows(pl, rows, 100, false, DefaultMaxResultBytes)
		_ = renderText("query_customers", pg, "tags")
	}
}

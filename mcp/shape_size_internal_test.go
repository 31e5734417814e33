package mcp

import (
	"strings"
	"testing"
)

// TestShapeRowsSizesItsBufferByTheRows: the rows' buffer is sized from
// the first row, so a page of narrow rows does not hold twice its size
// and a page of wide ones is not copied as it grows; a single row gets
// no more than its guess.
func TestShapeRowsSizesItsBufferByTheRows(t *testing.T) {
	pl := &plan{selected: []selectedColumn{{name: "id", class: classInteger}, {name: "code", class: classText},
		{name: "qty", class: classInteger}, {name: "flag", class: classBool}, {name: "tag", class: classText},
		{name: "n", class: classInteger}}, keys: []int{0}, returned: 6}
	for _, c := range []struct {
		name  string
		value func(i int) string
		rows  int
	}{
		{"narrow", func(i int) string { return "ab" + strings.Repeat("c", i%3) }, 50},
		{"wide", func(i int) string { return strings.Repeat("w", 700+i%5) }, 50},
		{"one row", func(int) string { return "x" }, 1},
	} {
		rows := &Rows{Columns: []string{"id", "code", "qty", "flag", "tag", "n"}}
		for i := range c.rows {
			rows.Values = append(rows.Values, []any{int64(i), c.value(i), int64(i * 3), i%2 == 0, c.value(i), int64(7)})
		}
		pg, _, err := shapeRows(pl, rows, 100, false, 1<<20)
		if err != nil || pg.RowCount != c.rows {
			t.Fatalf("%s: %d rows, %v", c.name, pg.RowCount, err)
		}
		if limit := max(len(pg.rows)*3/2, 64*len(pl.selected)+16); cap(pg.rows) > limit {
			t.Errorf("%s: %d bytes of rows in a buffer of %d", c.name, len(pg.rows), cap(pg.rows))
		}
	}
}

package mcp

import (
	"fmt"
	"sort"
	"strings"
)

// oversizedRow is a row that alone is larger than the result budget
// (mcp.max_result_bytes). It is refused rather than sent: a page never
// exceeds the budget, and the model learns which columns to leave out.
type oversizedRow struct {
	budget int
	// big are the returned columns holding the largest values, largest
	// first, with their sizes in bytes; rest are the other returned
	// columns, which the model can still ask for.
	big   []string
	sizes []int
	rest  []string
}

// newOversizedRow names the columns that make row too large: the values
// the executor did not keep (cut), else the largest encoded value.
func newOversizedRow(pl *plan, row []any, cut []CutValue, budget int) *oversizedRow {
	o := &oversizedRow{budget: budget}
	type sized struct {
		name string
		size int
	}
	var vals []sized
	for j, sc := range pl.selected[:pl.returned] {
		size := -1
		for _, c := range cut {
			if c.Column == j {
				size = c.Size
			}
		}
		if size < 0 && len(cut) == 0 {
			size = len(appendValue(nil, row[j], sc))
		}
		vals = append(vals, sized{sc.name, size})
	}
	bySize := append([]sized(nil), vals...)
	sort.SliceStable(bySize, func(a, b int) bool { return bySize[a].size > bySize[b].size })
	isBig := map[string]bool{}
	for i, v := range bySize {
		// Without cut values, the largest one is named, and any other
		// that alone takes more than half the budget.
		if v.size >= 0 && (len(cut) > 0 || i == 0 || 2*v.size > budget) {
			o.big, o.sizes = append(o.big, v.name), append(o.sizes, v.size)
			isBig[v.name] = true
		}
	}
	for _, v := range vals {
		if !isBig[v.name] {
			o.rest = append(o.rest, v.name)
		}
	}
	return o
}

func (o *oversizedRow) Error() string {
	parts := make([]string, len(o.big))
	for i, c := range o.big {
		parts[i] = fmt.Sprintf("%s (%d bytes)", c, o.sizes[i])
	}
	return fmt.Sprintf("a row is larger than the result budget of %d bytes: %s", o.budget, strings.Join(parts, ", "))
}

// advice is the tool error text: what to leave out, and how.
func (o *oversizedRow) advice(spec *ToolSpec) string {
	msg := fmt.Sprintf("%s: the next row is larger than the result size budget of %d bytes, so it was not returned: column %s holds %d bytes",
		spec.Name, o.budget, o.big[0], o.sizes[0])
	for i := 1; i < len(o.big); i++ {
		msg += fmt.Sprintf(", column %s %d bytes", o.big[i], o.sizes[i])
	}
	msg += ". "
	if !hasParam(spec, ParamColumns) || len(o.rest) == 0 {
		return msg + "Those columns cannot be returned through this tool; narrow the filters to other rows."
	}
	quoted := make([]string, len(o.rest))
	for i, c := range o.rest {
		quoted[i] = fmt.Sprintf("%q", c)
	}
	return msg + fmt.Sprintf("Call again with columns leaving out %s, for example columns: [%s].",
		strings.Join(o.big, ", "), strings.Join(quoted, ", "))
}

// hasParam reports whether spec takes a parameter of kind k.
func hasParam(spec *ToolSpec, k ParamKind) bool {
	for _, p := range spec.Params {
		if p.Kind == k {
			return true
		}
	}
	return false
}

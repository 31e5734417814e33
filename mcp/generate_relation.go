package mcp

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pgmoat/pgmoat/introspect"
)

// relationSpec builds the tool of one relation: its table tool, or an
// entity (ent non-nil) restricted to a subset of the table tool's filters.
func (g *generator) relationSpec(r *introspect.Relation, name string, kind ToolKind, ov ToolOverride, ent *Entity) *ToolSpec {
	label := name
	hidden := g.hiddenColumns(r, label, ov.HideColumns, entityHides(ent))
	spec := &ToolSpec{
		Name: name, Kind: kind, Table: r.QualifiedName(), RelKind: r.Kind, Key: keyOf(name),
	}
	if kind == ToolEntity {
		spec.Key = ""
	}
	spec.Columns = g.columns(r, hidden, kind == ToolTable)
	filters := g.filterParams(r, hidden)
	if ent != nil {
		filters = g.pickFilters(label, filters, ent.Filters)
	}
	required := ov.Required
	maxRows, order, summary, prose := ov.MaxRows, ov.DefaultOrder, ov.Summary, ov.Description
	if ent != nil {
		required, maxRows, order, summary, prose = ent.Required, ent.MaxRows, ent.DefaultOrder, ent.Summary, ent.Description
	}
	g.markRequired(label, filters, required)
	spec.MaxRows = g.maxRows(label, maxRows)
	spec.DefaultLimit = min(g.opts.DefaultLimit, spec.MaxRows)
	if pkVisible(r.PrimaryKey, hidden) {
		spec.PrimaryKey = r.PrimaryKey
	}
	choices := orderChoices(r, spec.Columns)
	spec.DefaultOrder = g.defaultOrder(label, order, choices, spec.PrimaryKey)
	spec.Params = append(filters, g.fixedParams(spec, choices)...)
	if summary != nil && !*summary {
		// No column list in the description: the columns parameter names
		// the columns instead.
		if p, ok := spec.Param("columns"); ok {
			p.listValues = true
		}
	}
	spec.InputSchema = inputSchema(spec.Params)
	spec.OutputSchema = outputSchema(spec)
	if prose == "" {
		prose = r.Comment
	}
	if prose == "" && kind == ToolTable {
		g.warn("%s: %s %s has no COMMENT; its description is generated only", label, r.Kind, r.QualifiedName())
	}
	withSummary := summary == nil || *summary
	spec.Description = g.describe(spec, r, prose, withSummary)
	g.redescribe = append(g.redescribe, func() { spec.Description = g.describe(spec, r, prose, withSummary) })
	return spec
}

func entityHides(e *Entity) []string {
	if e == nil {
		return nil
	}
	return e.HideColumns
}

// hiddenColumns are the columns configured as hidden plus those the role
// may not read.
func (g *generator) hiddenColumns(r *introspect.Relation, label string, lists ...[]string) map[string]bool {
	hidden := map[string]bool{}
	for _, list := range lists {
		for _, c := range list {
			if _, ok := r.Column(c); !ok {
				g.warn("%s: hide_columns names %q, which %s does not have", label, c, r.QualifiedName())
			}
			hidden[c] = true
		}
	}
	for _, c := range r.Columns {
		if !c.Selectable {
			hidden[c.Name] = true
		}
	}
	return hidden
}

func (g *generator) columns(r *introspect.Relation, hidden map[string]bool, warn bool) []ColumnSpec {
	var out []ColumnSpec
	for _, c := range r.Columns {
		if hidden[c.Name] {
			continue
		}
		mappable := classify(c.Type) != classUnmapped
		if !mappable && warn {
			g.warn("%s.%s has type %s, which pgmoat cannot map: it is returned as text and cannot be filtered",
				r.QualifiedName(), c.Name, c.DeclaredType)
		}
		out = append(out, ColumnSpec{
			Name: c.Name, DeclaredType: c.DeclaredType, Type: typeName(c.Type), Nullable: !c.NotNull,
			Comment: c.Comment, Schema: resultSchema(c), Mappable: mappable,
		})
	}
	return out
}

func typeName(t *introspect.Type) introspect.QualifiedName {
	t = t.Resolved()
	return introspect.QualifiedName{Schema: t.Schema, Name: t.Name}
}

func pkVisible(pk []string, hidden map[string]bool) bool {
	if len(pk) == 0 {
		return false
	}
	for _, c := range pk {
		if hidden[c] {
			return false
		}
	}
	return true
}

// pickFilters keeps the named filters, in the table tool's order.
func (g *generator) pickFilters(label string, all []*Param, names []string) []*Param {
	var out []*Param
	for _, p := range all {
		if slices.Contains(names, p.Name) {
			out = append(out, p)
		}
	}
	for _, n := range names {
		if !slices.ContainsFunc(all, func(p *Param) bool { return p.Name == n }) {
			g.warn("%s: filter %q is not a filter of the table (filters follow indexes: %s)", label, n, paramNames(all))
		}
	}
	return out
}

func paramNames(ps []*Param) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return listOr(names, "none")
}

func (g *generator) markRequired(label string, filters []*Param, required []string) {
	for _, n := range required {
		i := slices.IndexFunc(filters, func(p *Param) bool { return p.Name == n })
		if i < 0 {
			g.warn("%s: required filter %q does not exist; available: %s", label, n, paramNames(filters))
			continue
		}
		filters[i].Required = true
	}
}

func (g *generator) maxRows(label string, want int) int {
	if want <= 0 {
		return g.opts.MaxRows
	}
	if want > g.opts.MaxRows {
		g.warn("%s: max_rows %d is above the global maximum %d; using %d", label, want, g.opts.MaxRows, g.opts.MaxRows)
		return g.opts.MaxRows
	}
	return want
}

// orderChoices are "<col> asc" and "<col> desc" for every returned column
// that leads a usable btree index.
func orderChoices(r *introspect.Relation, cols []ColumnSpec) []OrderChoice {
	acc := analyzeAccess(r)
	var out []OrderChoice
	for _, c := range cols {
		if !acc.order[c.Name] || !c.Mappable {
			continue
		}
		out = append(out, OrderChoice{Value: c.Name + " asc", Column: c.Name},
			OrderChoice{Value: c.Name + " desc", Column: c.Name, Desc: true})
	}
	return out
}

func (g *generator) defaultOrder(label, want string, choices []OrderChoice, pk []string) []OrderChoice {
	if want != "" {
		w := strings.TrimSpace(want)
		if !strings.HasSuffix(w, " asc") && !strings.HasSuffix(w, " desc") {
			w += " asc"
		}
		for _, c := range choices {
			if c.Value == w {
				return []OrderChoice{c}
			}
		}
		g.warn("%s: default_order %q is not an indexed column order; using the primary key", label, want)
	}
	var out []OrderChoice
	for _, c := range pk {
		out = append(out, OrderChoice{Value: c + " asc", Column: c})
	}
	return out
}

// describeOrder renders an order for descriptions.
func describeOrder(o []OrderChoice) string {
	parts := make([]string, len(o))
	for i, c := range o {
		dir := "ascending"
		if c.Desc {
			dir = "descending"
		}
		parts[i] = fmt.Sprintf("%s %s", c.Column, dir)
	}
	return strings.Join(parts, ", ")
}

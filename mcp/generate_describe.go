package mcp

import (
	"fmt"
	"strings"

	"github.com/pgmoat/pgmoat/introspect"
)

// describe writes a tool description: the prose (the relation's COMMENT,
// kept verbatim, or the configured text) and, unless turned off, a
// generated summary of the signature.
func (g *generator) describe(spec *ToolSpec, r *introspect.Relation, prose string, summary bool) string {
	if prose == "" {
		prose = fmt.Sprintf("Rows of the %s %s.", r.Kind, r.QualifiedName())
	}
	if !summary {
		return prose
	}
	lines := []string{filterSummary(spec.Params), g.limitSummary(spec)}
	if rel := g.relatedSummary(spec, r); rel != "" {
		lines = append(lines, rel)
	}
	return prose + "\n\n" + strings.Join(lines, "\n")
}

func filterSummary(params []*Param) string {
	var eq, ranges, search, required []string
	for _, p := range params {
		if p.Deprecation != nil {
			continue
		}
		switch p.Kind {
		case ParamEq:
			eq = append(eq, p.Name)
		case ParamGte, ParamLte:
			ranges = append(ranges, p.Name)
		case ParamSearch:
			search = append(search, p.Name)
		}
		if p.Required {
			required = append(required, p.Name)
		}
	}
	if len(eq)+len(ranges)+len(search) == 0 {
		return "No filters: no index makes one cheap, so ask for few rows."
	}
	var parts []string
	if len(eq) > 0 {
		parts = append(parts, "exact match on "+strings.Join(eq, ", ")+" (each also as <name>_in for a list)")
	}
	if len(ranges) > 0 {
		parts = append(parts, "ranges "+strings.Join(ranges, ", "))
	}
	if len(search) > 0 {
		parts = append(parts, "text search "+strings.Join(search, ", "))
	}
	s := "Filters: " + strings.Join(parts, "; ") + "."
	if len(required) > 0 {
		s += " Required: " + strings.Join(required, ", ") + "."
	} else {
		s += " All optional."
	}
	return s
}

func (g *generator) limitSummary(spec *ToolSpec) string {
	s := fmt.Sprintf("Returns at most %d rows per call (default %d)", spec.MaxRows, spec.DefaultLimit)
	if len(spec.DefaultOrder) > 0 {
		s += ", ordered by " + describeOrder(spec.DefaultOrder) + " unless order_by says otherwise"
	} else {
		s += ", in no particular order"
	}
	if spec.PrimaryKey != nil {
		s += "; pass next_cursor back as cursor for the next page"
	}
	return s + "."
}

// relatedSummary names the tools that follow foreign keys either way.
func (g *generator) relatedSummary(spec *ToolSpec, r *introspect.Relation) string {
	visible := map[string]bool{}
	for _, c := range spec.Columns {
		visible[c.Name] = true
	}
	var parts []string
	for _, fk := range r.ForeignKeys {
		target, ok := g.refName[fk.To]
		if !ok || !allVisible(fk.FromColumns, visible) {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s → %s", strings.Join(fk.FromColumns, ", "), g.refTo(target)))
	}
	for _, fk := range r.ReferencedBy {
		source, ok := g.refName[fk.From]
		if !ok {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s (its %s points here)", g.refTo(source), strings.Join(fk.FromColumns, ", ")))
	}
	if len(parts) == 0 {
		return ""
	}
	return "Related: " + strings.Join(parts, "; ") + "."
}

func (g *generator) refTo(name string) string {
	if g.set.Discovery {
		return "query_table table=" + name
	}
	return "use " + name
}

func allVisible(cols []string, visible map[string]bool) bool {
	for _, c := range cols {
		if !visible[c] {
			return false
		}
	}
	return true
}

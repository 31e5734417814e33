package mcp

import (
	"fmt"
	"strings"

	"github.com/pgmoat/pgmoat/introspect"
)

// describe writes a tool description: the prose (the relation's COMMENT,
// kept verbatim, or the configured text) and, unless turned off, the
// returned columns with their COMMENTs and the related tools. It says nothing the
// schemas say: filters, limits, the default order and the cursor are in
// the input schema, the column types in the output schema.
func (g *generator) describe(spec *ToolSpec, r *introspect.Relation, prose string, summary bool) string {
	if prose == "" {
		prose = fmt.Sprintf("Rows of the %s %s.", r.Kind, r.QualifiedName())
	}
	parts := []string{prose}
	if summary && !hasFilter(spec.Params) {
		parts = append(parts, "No filters: no index makes one cheap, so ask for few rows.")
	}
	if !summary {
		return prose // the columns parameter then lists the column names
	}
	if cols := columnNotes(spec.Columns); cols != "" {
		parts = append(parts, cols)
	}
	// One line: an escaped newline costs a token or two in the JSON of
	// every tools/list, and each part starts with its own label anyway.
	spec.descBase, spec.related = strings.Join(parts, " "), g.relatedSummary(spec, r)
	return spec.renderFor(nil)
}

// relatedHint is one entry of a description's related tools: the tool
// it points to, so that a profile not shown that tool is not told of it.
type relatedHint struct{ tool, text string }

// describeFor is the tool's description as a caller who is shown the
// tools in visible reads it: the related tools it is not shown are left
// out (nil: all of them). A description written without the generated
// summary is returned as it is.
func (t *ToolSpec) describeFor(visible map[string]bool) string {
	if t.descBase == "" || !t.hidesRelated(visible) {
		return t.Description
	}
	return t.renderFor(visible)
}

// renderFor writes the description with the related tools in visible
// (nil: all).
func (t *ToolSpec) renderFor(visible map[string]bool) string {
	var parts []string
	for _, h := range t.related {
		if visible == nil || visible[h.tool] {
			parts = append(parts, h.text)
		}
	}
	if len(parts) == 0 {
		return t.descBase
	}
	return t.descBase + " Related: " + strings.Join(parts, "; ") + "."
}

// hidesRelated reports whether visible lacks one of the related tools
// (nil: lacks none).
func (t *ToolSpec) hidesRelated(visible map[string]bool) bool {
	for _, h := range t.related {
		if visible != nil && !visible[h.tool] {
			return true
		}
	}
	return false
}

func hasFilter(params []*Param) bool {
	for _, p := range params {
		if p.Kind.IsFilter() && p.Deprecation == nil {
			return true
		}
	}
	return false
}

// columnNotes names every returned column with its COMMENT, if it has
// one: the one place a column's meaning is said, and the list the columns
// parameter picks from. The entries follow each other on one line; a
// COMMENT that ends a sentence already separates its entry from the next,
// the others get a semicolon.
func columnNotes(cols []ColumnSpec) string {
	if len(cols) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("Columns:")
	for i, c := range cols {
		if i > 0 && !endsSentence(strings.TrimSpace(cols[i-1].Comment)) {
			b.WriteString(";")
		}
		b.WriteString(" " + c.Name)
		if comment := strings.TrimSpace(c.Comment); comment != "" {
			b.WriteString(": " + comment)
		}
	}
	if !endsSentence(strings.TrimSpace(cols[len(cols)-1].Comment)) {
		b.WriteString(".")
	}
	return b.String()
}

func endsSentence(s string) bool {
	return strings.HasSuffix(s, ".") || strings.HasSuffix(s, "!") || strings.HasSuffix(s, "?")
}

// relatedSummary names the tools that follow foreign keys either way.
func (g *generator) relatedSummary(spec *ToolSpec, r *introspect.Relation) []relatedHint {
	visible := map[string]bool{}
	for _, c := range spec.Columns {
		visible[c.Name] = true
	}
	var hints []relatedHint
	for _, fk := range r.ForeignKeys {
		target, ok := g.refName[fk.To]
		if !ok || !allVisible(fk.FromColumns, visible) {
			continue
		}
		hints = append(hints, relatedHint{target, fmt.Sprintf("%s → %s", strings.Join(fk.FromColumns, ", "), g.refTo(target))})
	}
	for _, fk := range r.ReferencedBy {
		source, ok := g.refName[fk.From]
		if !ok {
			continue
		}
		hints = append(hints, relatedHint{source, fmt.Sprintf("%s by %s", g.refTo(source), strings.Join(fk.FromColumns, ", "))})
	}
	return hints
}

// refTo names how to reach a related relation: its own tool when listed,
// query_table otherwise.
func (g *generator) refTo(name string) string {
	if g.unlisted[name] {
		return "query_table table=" + keyOf(name)
	}
	return name
}

func allVisible(cols []string, visible map[string]bool) bool {
	for _, c := range cols {
		if !visible[c] {
			return false
		}
	}
	return true
}

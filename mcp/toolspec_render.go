package mcp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// ListedTool is a tool as tools/list carries it.
type ListedTool struct {
	Name         string             `json:"name"`
	Description  string             `json:"description"`
	InputSchema  *Schema            `json:"inputSchema"`
	OutputSchema *Schema            `json:"outputSchema,omitempty"`
	Annotations  *ListedAnnotations `json:"annotations,omitempty"`
}

// ListedAnnotations are the MCP tool hints; every pgmoat tool only reads.
// destructiveHint and idempotentHint are left out: the specification
// gives them meaning only when readOnlyHint is false. openWorldHint
// defaults to true, so its false is said.
type ListedAnnotations struct {
	ReadOnlyHint  bool `json:"readOnlyHint"`
	OpenWorldHint bool `json:"openWorldHint"`
}

// Listing returns the tool as tools/list carries it.
func (t *ToolSpec) Listing() ListedTool {
	return ListedTool{Name: t.Name, Description: t.Description, InputSchema: t.InputSchema, OutputSchema: t.OutputSchema,
		Annotations: &ListedAnnotations{ReadOnlyHint: true}}
}

// ListingJSON is the tool as tools/list carries it, as compact JSON without
// HTML escaping: the text a model's context receives, and what token
// counts are taken of.
func (t *ToolSpec) ListingJSON() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(t.Listing()) // a Listing of plain values always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// TokenCost estimates what the tool costs in a model's context: the
// tokens of its ListingJSON as EstimateTokens counts them.
func (t *ToolSpec) TokenCost() int { return EstimateTokens(t.ListingJSON()) }

// WriteJSON writes the listed tools exactly as tools/list carries them,
// with their token costs alongside.
func (s *ToolSet) WriteJSON(w io.Writer) error {
	type entry struct {
		ListedTool
		TokenCost int `json:"x-pgmoat-token-cost"`
	}
	out := struct {
		Tools      []entry  `json:"tools"`
		TokenTotal int      `json:"x-pgmoat-token-total"`
		Budget     int      `json:"x-pgmoat-token-budget"`
		Discovery  bool     `json:"x-pgmoat-discovery"`
		Warnings   []string `json:"x-pgmoat-warnings,omitempty"`
	}{Tools: []entry{}, Budget: s.TokenBudget, Discovery: s.Discovery, Warnings: s.Warnings}
	for _, t := range s.Listed() {
		out.Tools = append(out.Tools, entry{t.Listing(), t.TokenCost()})
		out.TokenTotal += t.TokenCost()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

// WriteText writes the listed tools for a person to review: name, relation,
// description, parameters with their types, and token costs.
func (s *ToolSet) WriteText(w io.Writer) error {
	var b strings.Builder
	total := 0
	for _, t := range s.Listed() {
		writeToolText(&b, t)
		total += t.TokenCost()
	}
	mode := ""
	if s.Discovery {
		mode = fmt.Sprintf("; %d of %d tables reached through list_tables/describe_table/query_table only", s.unlistedCount(), len(s.Tables))
	}
	fmt.Fprintf(&b, "%d tools, about %d tokens in tools/list (budget %d%s).\n", len(s.Listed()), total, s.TokenBudget, mode)
	if s.Discovery && s.unlistedCount() > 0 {
		var parts []string
		for _, t := range s.Tables {
			if t.Unlisted {
				parts = append(parts, fmt.Sprintf("%s (~%d)", t.Key, t.TokenCost()))
			}
		}
		fmt.Fprintf(&b, "Not listed, by key and the tokens each would cost: %s.\n", strings.Join(parts, ", "))
	}
	if len(s.Warnings) > 0 {
		fmt.Fprintf(&b, "\nWarnings:\n")
		for _, warning := range s.Warnings {
			fmt.Fprintf(&b, "  - %s\n", warning)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeToolText(b *strings.Builder, t *ToolSpec) {
	head := t.Name
	if t.Table.Name != "" {
		head += fmt.Sprintf("  [%s %s]", t.RelKind, t.Table)
	}
	fmt.Fprintf(b, "%s  (~%d tokens)\n", head, t.TokenCost())
	// The description is one line on the wire; a person reads its parts
	// (prose, columns, related tools) better one under the other.
	desc := strings.NewReplacer(" Columns: ", "\nColumns: ", " Related: ", "\nRelated: ").Replace(t.Description)
	for _, line := range strings.Split(desc, "\n") {
		fmt.Fprintf(b, "    %s\n", line)
	}
	b.WriteString("  parameters:\n")
	width := 0
	for _, p := range t.Params {
		width = max(width, len(p.Name))
	}
	for _, p := range t.Params {
		req := ""
		if p.Required {
			req = " (required)"
		}
		fmt.Fprintf(b, "    %-*s  %s%s\n", width, p.Name, paramType(p), req)
	}
	if len(t.Columns) > 0 {
		cols := make([]string, len(t.Columns))
		for i, c := range t.Columns {
			cols[i] = c.Name + " " + c.DeclaredType
		}
		fmt.Fprintf(b, "  returns rows of: %s\n", strings.Join(cols, ", "))
	}
	b.WriteString("\n")
}

// paramType renders a parameter's JSON type with its PostgreSQL origin.
func paramType(p *Param) string {
	s := schemaType(p.Schema)
	switch {
	case p.Kind == ParamOrderBy:
		return "one of: " + enumList(p.Schema.Enum)
	case p.Kind == ParamSearch:
		s += ", " + string(p.Search.Method) + " search"
	case p.DeclaredType != "":
		s += " (" + p.DeclaredType + ")"
	}
	if p.Deprecation != nil {
		s += "  DEPRECATED: " + p.Deprecation.Message
	}
	return s
}

func schemaType(s *Schema) string {
	t := fmt.Sprint(s.Type)
	if s.Format != "" {
		t += " " + s.Format
	}
	if len(s.Enum) > 0 {
		t += " {" + enumList(s.Enum) + "}"
	}
	if s.Items != nil {
		t += " of " + schemaType(s.Items)
	}
	return t
}

func enumList(vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ", ")
}

func (s *ToolSet) unlistedCount() int {
	n := 0
	for _, t := range s.Tables {
		if t.Unlisted {
			n++
		}
	}
	return n
}

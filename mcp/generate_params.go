package mcp

import (
	"fmt"
	"strings"

	"github.com/pgmoat/pgmoat/introspect"
)

// filterParams derives the filter parameters of a relation from its
// indexes, column by column in table order.
func (g *generator) filterParams(r *introspect.Relation, hidden map[string]bool) []*Param {
	acc := analyzeAccess(r)
	// A foreign key holds identifiers of another table: equality and
	// lists of them are how a model follows the reference, a range over
	// them means nothing and costs tokens in every tools/list.
	for _, fk := range r.ForeignKeys {
		for _, col := range fk.FromColumns {
			delete(acc.ranged, col)
		}
	}
	var params []*Param
	var claims []nameClaim
	for _, c := range r.Columns {
		class := classify(c.Type)
		if hidden[c.Name] || class == classUnmapped {
			continue
		}
		for _, p := range columnFilters(c, class, acc) {
			base := normalize(c.Name)
			if base == "" {
				base = fmt.Sprintf("column%d", c.Num)
			}
			want, cut := fit(base+p.Kind.Suffix(), c.Name+"/"+string(p.Kind))
			claims = append(claims, nameClaim{
				want: want, identity: r.QualifiedName().String() + "." + c.Name + "/" + string(p.Kind),
				natural: base == c.Name && p.Kind == ParamEq && !cut,
			})
			params = append(params, p)
		}
	}
	// The fixed parameters never yield to a column-derived name.
	fixed := map[string]bool{"limit": true, "order_by": true, "columns": true, "cursor": true}
	names, warnings, err := assignNames(claims, fixed, "parameter")
	if err != nil {
		// Hash suffixes that still collide: leave the colliding filters out
		// rather than expose an ambiguous signature.
		g.warn("%s: %v; its filters are left out", r.QualifiedName(), err)
		return nil
	}
	g.set.Warnings = append(g.set.Warnings, warnings...)
	for i, p := range params {
		p.Name = names[i]
	}
	return params
}

// columnFilters lists the filters one column gets.
func columnFilters(c *introspect.Column, class typeClass, acc access) []*Param {
	base := Param{Column: c.Name, Type: typeName(c.Type), DeclaredType: c.DeclaredType, Deprecation: markedDeprecated(c)}
	var out []*Param
	add := func(kind ParamKind, schema *Schema, desc string, search *SearchSpec) {
		p := base
		p.Kind, p.Schema, p.Search = kind, schema, search
		p.Description = desc
		if len(out) == 0 {
			// The column's COMMENT once per column: repeating it on every
			// variant costs tokens and tells the model nothing new.
			p.Description = joinSentences(desc, c.Comment)
		}
		if p.Deprecation != nil {
			p.Description = "DEPRECATED: " + p.Deprecation.Message + " " + p.Description
			p.Schema.Deprecated = true
		}
		out = append(out, &p)
	}
	if acc.eq[c.Name] && class.equality() {
		add(ParamEq, valueSchema(c.Type, c.TypMod), fmt.Sprintf("Only rows whose %s equals this value.", c.Name), nil)
		in := &Schema{Type: "array", Items: valueSchema(c.Type, c.TypMod), MinItems: ptr(1), MaxItems: ptr(maxInItems)}
		add(ParamIn, in, fmt.Sprintf("Only rows whose %s is one of these values.", c.Name), nil)
	}
	if acc.ranged[c.Name] && class.ranged() {
		add(ParamGte, valueSchema(c.Type, c.TypMod), fmt.Sprintf("Only rows whose %s is greater than or equal to this value.", c.Name), nil)
		add(ParamLte, valueSchema(c.Type, c.TypMod), fmt.Sprintf("Only rows whose %s is less than or equal to this value.", c.Name), nil)
	}
	if s, ok := acc.search[c.Name]; ok {
		add(ParamSearch, &Schema{Type: "string", MinLength: ptr(1)}, searchHelp(c.Name, s), s)
	}
	return out
}

// maxInItems bounds _in lists: a longer list is a scan in disguise.
const maxInItems = 1000

func searchHelp(col string, s *SearchSpec) string {
	if s.Method == SearchTrigram {
		return fmt.Sprintf("Only rows whose %s contains this text (case-insensitive).", col)
	}
	return fmt.Sprintf("Full-text search in %s: words, \"quoted phrases\", OR, and -excluded words.", col)
}

// markedDeprecated reads @deprecated in a column COMMENT.
func markedDeprecated(c *introspect.Column) *Deprecation {
	i := strings.Index(c.Comment, "@deprecated")
	if i < 0 {
		return nil
	}
	reason := strings.TrimSpace(c.Comment[i+len("@deprecated"):])
	msg := fmt.Sprintf("column %s is deprecated and this filter will be removed.", c.Name)
	if reason != "" {
		msg += " " + reason
	}
	return &Deprecation{Reason: "marked @deprecated in its COMMENT", Message: msg}
}

// fixedParams are order_by, columns, limit and cursor.
func (g *generator) fixedParams(spec *ToolSpec, choices []OrderChoice) []*Param {
	var out []*Param
	if len(choices) > 0 {
		enum := make([]any, len(choices))
		for i, c := range choices {
			enum[i] = c.Value
		}
		desc := "Sort order."
		if len(spec.DefaultOrder) > 0 {
			desc += " Default: " + describeOrder(spec.DefaultOrder) + "."
		}
		out = append(out, &Param{Name: "order_by", Kind: ParamOrderBy, Order: choices, Description: desc,
			Schema: &Schema{Type: "string", Enum: enum, Description: desc}})
	}
	names := make([]any, len(spec.Columns))
	for i, c := range spec.Columns {
		names[i] = c.Name
	}
	colDesc := "Columns to return. Default: all."
	out = append(out, &Param{Name: "columns", Kind: ParamColumns, Description: colDesc, Schema: &Schema{
		Type: "array", Description: colDesc, Items: &Schema{Type: "string", Enum: names}, MinItems: ptr(1), UniqueItems: true}})
	limDesc := fmt.Sprintf("Maximum number of rows to return (default %d, at most %d).", spec.DefaultLimit, spec.MaxRows)
	out = append(out, &Param{Name: "limit", Kind: ParamLimit, Description: limDesc, Schema: &Schema{
		Type: "integer", Description: limDesc, Minimum: ptr(int64(1)), Maximum: ptr(int64(spec.MaxRows)), Default: spec.DefaultLimit}})
	if spec.PrimaryKey != nil {
		curDesc := "Opaque position from a previous result's next_cursor: returns the rows after it, with the same filters and order."
		out = append(out, &Param{Name: "cursor", Kind: ParamCursor, Description: curDesc,
			Schema: &Schema{Type: "string", Description: curDesc}})
	}
	return out
}

// inputSchema is the object schema of a parameter list.
func inputSchema(params []*Param) *Schema {
	s := &Schema{Type: "object", Properties: map[string]*Schema{}, AdditionalProperties: ptr(false)}
	for _, p := range params {
		ps := *p.Schema
		if p.Kind.IsFilter() {
			ps.Description = p.Description
		}
		s.Properties[p.Name] = &ps
		if p.Required {
			s.Required = append(s.Required, p.Name)
		}
	}
	return s
}

// outputSchema is the structured result: rows, row_count, truncated and
// next_cursor.
func outputSchema(spec *ToolSpec) *Schema {
	row := &Schema{Type: "object", Properties: map[string]*Schema{}}
	for _, c := range spec.Columns {
		row.Properties[c.Name] = c.Schema
	}
	props := map[string]*Schema{
		"rows":      {Type: "array", Items: row},
		"row_count": {Type: "integer", Description: "Number of rows in rows."},
		"truncated": {Type: "boolean", Description: "True when more rows matched than were returned."},
	}
	req := []string{"rows", "row_count", "truncated"}
	if spec.PrimaryKey != nil {
		props["next_cursor"] = &Schema{Type: "string", Description: "Pass as cursor to get the next page; absent on the last page."}
	}
	return &Schema{Type: "object", Properties: props, Required: req}
}

// joinSentences joins non-empty texts with a space.
func joinSentences(parts ...string) string {
	var nonEmpty []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			nonEmpty = append(nonEmpty, p)
		}
	}
	return strings.Join(nonEmpty, " ")
}

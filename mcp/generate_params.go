package mcp

import (
	"fmt"
	"regexp"
	"slices"
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
		// The column's COMMENT is not repeated here: the tool description
		// says it once for every column.
		p.Description = desc
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

// fixedParams are order_by, columns, limit and cursor. Their Schemas are
// the full ones the server validates against; publishParam decides what
// tools/list shows.
func (g *generator) fixedParams(spec *ToolSpec, choices []OrderChoice) []*Param {
	var out []*Param
	if len(choices) > 0 {
		enum := make([]any, len(choices))
		for i, c := range choices {
			enum[i] = c.Value
		}
		desc := "Sort order: a column, optionally followed by asc or desc."
		if len(spec.DefaultOrder) > 0 {
			desc += " Default: " + describeOrder(spec.DefaultOrder) + "."
		}
		p := &Param{Name: "order_by", Kind: ParamOrderBy, Order: choices, Description: desc,
			Schema: &Schema{Type: "string", Enum: enum, Description: desc}}
		switch {
		case len(spec.DefaultOrder) == 1:
			p.Schema.Default = spec.DefaultOrder[0].Value
		case len(spec.DefaultOrder) > 1:
			// A composite key order is no single order_by value.
			p.hint = "default: " + describeOrder(spec.DefaultOrder)
		}
		out = append(out, p)
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

// inputSchema is the object schema of a parameter list as tools/list
// publishes it. A value hint (how a decimal or a timestamp is written) is
// given on the first parameter of its column only.
func inputSchema(params []*Param) *Schema {
	s := &Schema{Type: "object", Properties: map[string]*Schema{}, AdditionalProperties: ptr(false)}
	hinted := map[string]bool{}
	for _, p := range params {
		s.Properties[p.Name] = publishParam(p, !hinted[p.Column])
		if p.Column != "" {
			hinted[p.Column] = true
		}
		if p.Required {
			s.Required = append(s.Required, p.Name)
		}
	}
	return s
}

// publishParam is what tools/list says about one parameter: what a model
// needs to write a correct call, each thing once. The name says the rest
// (<col>_in is a list of <col> values, _gte and _lte bound it, in the
// column's type, which the column's first parameter carries: keys sort, so
// <col> sits right before its variants); bounds the server checks stay in
// p.Schema, which argument validation uses.
func publishParam(p *Param, first bool) *Schema {
	var ps *Schema
	switch p.Kind {
	case ParamEq, ParamGte, ParamLte:
		ps = &Schema{}
		if first {
			ps = published(p.Schema)
		}
	case ParamIn:
		ps = &Schema{Type: "array"}
	case ParamSearch:
		ps = &Schema{Type: "string", Description: searchHint(p.Search)}
	case ParamOrderBy:
		ps = &Schema{Type: "string", Pattern: orderPattern(p.Order)}
		ps.Default, ps.Description = p.Schema.Default, p.hint
	case ParamColumns:
		// The description lists the columns, the output schema types them.
		ps = &Schema{Type: "array"}
		if p.listValues {
			ps.Items = &Schema{Enum: p.Schema.Items.Enum}
		}
	case ParamLimit:
		ps = &Schema{Type: "integer", Maximum: p.Schema.Maximum, Default: p.Schema.Default}
	case ParamCursor:
		ps = &Schema{Type: "string"}
	default:
		c := *p.Schema
		ps = &c
	}
	if p.Deprecation != nil {
		ps.Deprecated = true
		ps.Description = "DEPRECATED: " + p.Deprecation.Message
	}
	return ps
}

// searchHint says how a _search parameter matches: the one thing its name
// does not. The server's instructions spell out both once (searchRule).
func searchHint(s *SearchSpec) string {
	if s != nil && s.Method == SearchTrigram {
		return "substring"
	}
	return "full-text"
}

// orderPattern accepts "<col>", "<col> asc" and "<col> desc" for the
// orderable columns: the column enum plus a direction, instead of every
// column twice.
func orderPattern(choices []OrderChoice) string {
	var cols []string
	for _, c := range choices {
		q := regexp.QuoteMeta(c.Column)
		if !slices.Contains(cols, q) {
			cols = append(cols, q)
		}
	}
	return "^(" + strings.Join(cols, "|") + ")( asc| desc)?$"
}

// outputSchema is the structured result: rows, row_count, truncated and
// next_cursor, typed; what the fields mean is in their names and in the
// input parameters they feed (next_cursor → cursor). It names no required
// fields: every result carries rows, row_count and truncated anyway, and
// the list would cost tokens in every tools/list for clients that only
// validate against it (models are not shown output schemas by the
// common clients).
func outputSchema(spec *ToolSpec) *Schema {
	row := &Schema{Type: "object", Properties: map[string]*Schema{}}
	for _, c := range spec.Columns {
		row.Properties[c.Name] = c.Schema
	}
	props := map[string]*Schema{
		"rows":      {Type: "array", Items: row},
		"row_count": {Type: "integer"},
		"truncated": {Type: "boolean"},
	}
	if spec.PrimaryKey != nil {
		props["next_cursor"] = &Schema{Type: "string"}
	}
	return &Schema{Type: "object", Properties: props}
}

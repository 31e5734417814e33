package mcp

import (
	"fmt"
	"sort"
	"strings"
)

// Discovery-mode limits.
const (
	listTablesDefault = 50
	listTablesMax     = 200
)

// metaTools are list_tables, describe_table and query_table.
func (g *generator) metaTools() []*ToolSpec {
	n := len(g.set.Tables)
	list := &ToolSpec{Name: "list_tables", Kind: ToolListTables,
		Description: fmt.Sprintf("Lists the %d tables and views you can query, with what each holds, "+
			"including those without a tool of their own. "+
			"Give query to search names and descriptions. Then call describe_table for a table's filters and columns, "+
			"and query_table to read rows.", n),
		Params: []*Param{
			{Name: "query", Kind: ParamQuery, Description: "Words to look for in table names and descriptions; omit to list all.",
				Schema: &Schema{Type: "string", Description: "Words to look for in table names and descriptions; omit to list all."}},
			{Name: "limit", Kind: ParamLimit, Description: "Maximum number of tables to list.",
				Schema: &Schema{Type: "integer", Description: "Maximum number of tables to list.",
					Minimum: ptr(int64(1)), Maximum: ptr(int64(listTablesMax)), Default: listTablesDefault}},
		},
		MaxRows: listTablesMax, DefaultLimit: listTablesDefault,
	}
	tableParam := func(desc string) *Param {
		return &Param{Name: "table", Kind: ParamTable, Required: true, Description: desc,
			Schema: &Schema{Type: "string", Description: desc, MinLength: ptr(1)}}
	}
	describe := &ToolSpec{Name: "describe_table", Kind: ToolDescribeTable,
		Description: "Describes one table from list_tables: what it holds, its columns with types and meanings, " +
			"the filters query_table accepts for it (only indexed columns can be filtered), its row limit and related tables.",
		Params: []*Param{tableParam("Table name exactly as list_tables gives it.")},
	}
	query := &ToolSpec{Name: "query_table", Kind: ToolQueryTable,
		Description: fmt.Sprintf("Reads rows of one table. filters takes the filter parameters describe_table lists "+
			"for that table (exact match, _in lists, _gte/_lte ranges, _search text search) with the types it gives; "+
			"anything else is refused. At most %d rows per call.", g.opts.MaxRows),
		Params: []*Param{
			tableParam("Table name exactly as list_tables gives it."),
			{Name: "filters", Kind: ParamFilters, Description: "Filter parameters of the table, as describe_table lists them.",
				Schema: &Schema{Type: "object", Description: "Filter parameters of the table, as describe_table lists them."}},
			{Name: "order_by", Kind: ParamOrderBy, Description: "One of the order_by values describe_table lists.",
				Schema: &Schema{Type: "string", Description: "One of the order_by values describe_table lists."}},
			{Name: "columns", Kind: ParamColumns, Description: "Columns to return. Default: all.",
				Schema: &Schema{Type: "array", Description: "Columns to return. Default: all.",
					Items: &Schema{Type: "string"}, MinItems: ptr(1), UniqueItems: true}},
			{Name: "limit", Kind: ParamLimit, Description: "Maximum number of rows to return.",
				Schema: &Schema{Type: "integer", Description: "Maximum number of rows to return.",
					Minimum: ptr(int64(1)), Maximum: ptr(int64(g.opts.MaxRows)), Default: g.opts.DefaultLimit}},
			{Name: "cursor", Kind: ParamCursor, Description: "next_cursor from the previous page of the same query.",
				Schema: &Schema{Type: "string", Description: "next_cursor from the previous page of the same query."}},
		},
		MaxRows: g.opts.MaxRows, DefaultLimit: g.opts.DefaultLimit,
	}
	for _, t := range []*ToolSpec{list, describe, query} {
		t.InputSchema = inputSchema(t.Params)
	}
	query.OutputSchema = &Schema{Type: "object", Required: []string{"rows", "row_count", "truncated"},
		Properties: map[string]*Schema{
			"rows":        {Type: "array", Items: &Schema{Type: "object"}},
			"row_count":   {Type: "integer"},
			"truncated":   {Type: "boolean"},
			"next_cursor": {Type: "string"},
		}}
	return []*ToolSpec{list, describe, query}
}

// TableSummary is one list_tables entry.
type TableSummary struct {
	Table       string `json:"table"` // the key query_table and describe_table take
	Schema      string `json:"schema"`
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Description string `json:"description,omitempty"` // the first paragraph of the COMMENT
	// Tool is the table's own tool when tools/list carries it; query_table
	// reads every table either way.
	Tool string `json:"tool,omitempty"`
}

// SearchTables answers list_tables: every table tool whose name or
// description contains any of the words in query (all tables when query is
// empty), best matches first, at most limit.
func (s *ToolSet) SearchTables(query string, limit int) (tables []TableSummary, truncated bool) {
	return s.searchTables(query, limit, nil)
}

// searchTables is SearchTables over the table tools visible admits (nil:
// all of them).
func (s *ToolSet) searchTables(query string, limit int, visible map[string]bool) (tables []TableSummary, truncated bool) {
	words := strings.Fields(strings.ToLower(query))
	type scored struct {
		t     *ToolSpec
		score int
	}
	var hits []scored
	for _, t := range s.Tables {
		if visible != nil && !visible[t.Name] {
			continue
		}
		if sc := matchScore(t, t.describeFor(visible), words); sc > 0 || len(words) == 0 {
			hits = append(hits, scored{t, sc})
		}
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].score > hits[j].score })
	if limit <= 0 {
		limit = listTablesDefault
	}
	if len(hits) > limit {
		hits, truncated = hits[:limit], true
	}
	for _, h := range hits {
		ts := TableSummary{Table: h.t.Key, Schema: h.t.Table.Schema, Name: h.t.Table.Name,
			Kind: h.t.RelKind.String(), Description: firstParagraph(h.t.describeFor(visible))}
		if !h.t.Unlisted {
			ts.Tool = h.t.Name
		}
		tables = append(tables, ts)
	}
	return tables, truncated
}

func matchScore(t *ToolSpec, description string, words []string) int {
	name := strings.ToLower(t.Table.Schema + " " + t.Table.Name + " " + t.Key)
	desc := strings.ToLower(firstParagraph(description))
	score := 0
	for _, w := range words {
		switch {
		case strings.ToLower(t.Table.Name) == w || t.Key == w:
			score += 100
		case strings.Contains(name, w):
			score += 10
		case strings.Contains(desc, w):
			score++
		}
	}
	return score
}

func firstParagraph(s string) string {
	if i := strings.Index(s, "\n\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// TableDescription answers describe_table.
type TableDescription struct {
	Table       string             `json:"table"`
	Schema      string             `json:"schema"`
	Name        string             `json:"name"`
	Kind        string             `json:"kind"`
	Description string             `json:"description"`
	Parameters  []ParamSummary     `json:"filters"`
	OrderBy     []string           `json:"order_by,omitempty"`
	Columns     []ColumnSummary    `json:"columns"`
	PrimaryKey  []string           `json:"primary_key,omitempty"`
	MaxRows     int                `json:"max_rows"`
	Schemas     map[string]*Schema `json:"filter_schemas"`
}

// ParamSummary is one filter in a TableDescription.
type ParamSummary struct {
	Name        string `json:"name"`
	Column      string `json:"column"`
	Kind        string `json:"kind"`
	Type        string `json:"type"`
	Required    bool   `json:"required,omitempty"`
	Description string `json:"description,omitempty"`
}

// ColumnSummary is one column in a TableDescription.
type ColumnSummary struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Nullable bool   `json:"nullable"`
	Comment  string `json:"comment,omitempty"`
}

// DescribeTable answers describe_table for a table key.
func (s *ToolSet) DescribeTable(key string) (*TableDescription, bool) {
	t, ok := s.Table(key)
	if !ok {
		return nil, false
	}
	d := &TableDescription{Table: t.Key, Schema: t.Table.Schema, Name: t.Table.Name, Kind: t.RelKind.String(),
		Description: t.Description, PrimaryKey: t.PrimaryKey, MaxRows: t.MaxRows, Schemas: map[string]*Schema{}}
	for _, p := range t.Params {
		switch {
		case p.Kind.IsFilter():
			d.Parameters = append(d.Parameters, ParamSummary{Name: p.Name, Column: p.Column, Kind: string(p.Kind),
				Type: p.DeclaredType, Required: p.Required, Description: p.Description})
			d.Schemas[p.Name] = t.InputSchema.Properties[p.Name]
		case p.Kind == ParamOrderBy:
			for _, o := range p.Order {
				d.OrderBy = append(d.OrderBy, o.Value)
			}
		}
	}
	for _, c := range t.Columns {
		d.Columns = append(d.Columns, ColumnSummary{Name: c.Name, Type: c.DeclaredType, Nullable: c.Nullable, Comment: c.Comment})
	}
	return d, true
}

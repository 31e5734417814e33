package mcp

import (
	"time"

	"github.com/pgmoat/pgmoat/introspect"
)

// ToolKind says what a tool does.
type ToolKind string

// Tool kinds.
const (
	// ToolTable queries one relation: query_<table>.
	ToolTable ToolKind = "table"
	// ToolEntity is a configured tool over one relation with a fixed subset
	// of the relation's filters.
	ToolEntity ToolKind = "entity"
	// Discovery-mode tools.
	ToolListTables    ToolKind = "list_tables"
	ToolDescribeTable ToolKind = "describe_table"
	ToolQueryTable    ToolKind = "query_table"
)

// ParamKind says how a parameter turns into SQL.
type ParamKind string

// Parameter kinds.
const (
	ParamEq      ParamKind = "eq"       // col = $n
	ParamGte     ParamKind = "gte"      // col >= $n
	ParamLte     ParamKind = "lte"      // col <= $n
	ParamIn      ParamKind = "in"       // col = ANY($n::type[])
	ParamSearch  ParamKind = "search"   // see SearchSpec
	ParamLimit   ParamKind = "limit"    // LIMIT $n, at most ToolSpec.MaxRows
	ParamOrderBy ParamKind = "order_by" // one of Param.Order
	ParamColumns ParamKind = "columns"  // subset of ToolSpec.Columns
	ParamCursor  ParamKind = "cursor"   // opaque keyset position
	// Discovery-mode parameters.
	ParamTable   ParamKind = "table"   // a TableSummary.Table key
	ParamQuery   ParamKind = "query"   // list_tables search words
	ParamFilters ParamKind = "filters" // query_table: the table tool's filter parameters
)

// IsFilter reports whether the kind restricts rows by a column.
func (k ParamKind) IsFilter() bool {
	switch k {
	case ParamEq, ParamGte, ParamLte, ParamIn, ParamSearch:
		return true
	}
	return false
}

// SearchMethod is how a _search parameter matches.
type SearchMethod string

// Search methods.
const (
	// SearchTSVector: col @@ websearch_to_tsquery(Config, $n) on a tsvector
	// column.
	SearchTSVector SearchMethod = "tsvector"
	// SearchTSExpression: <Expression> @@ websearch_to_tsquery(Config, $n),
	// where Expression is the indexed to_tsvector(...) text exactly as the
	// catalog renders it, so the planner matches the expression index.
	SearchTSExpression SearchMethod = "tsvector_expression"
	// SearchTrigram: col ILIKE '%' || escaped($n) || '%', served by a pg_trgm
	// index; the builder must escape %, _ and \ in the value.
	SearchTrigram SearchMethod = "trigram"
)

// SearchSpec describes a _search parameter.
type SearchSpec struct {
	Method SearchMethod
	// Expression is the indexed expression for SearchTSExpression; it comes
	// from the catalog, never from a caller.
	Expression string
	// Config is the text-search configuration named in the indexed
	// expression (e.g. "english"); "" means the server's
	// default_text_search_config.
	Config string
	// Index names the index that makes the search cheap.
	Index string
}

// OrderChoice is one value order_by accepts.
type OrderChoice struct {
	Value  string // what the caller sends, e.g. "created_at desc"
	Column string // catalog column name
	Desc   bool
}

// Deprecation marks a parameter that is on its way out: its column was
// dropped, lost its index, or carries @deprecated in its COMMENT.
type Deprecation struct {
	Reason string
	// Removed is true when the column no longer exists: the filter cannot be
	// applied and a call using it must fail with Message.
	Removed bool
	// Since is when the deprecation was first seen; zero when unknown (a
	// one-off generation without history).
	Since time.Time
	// Until is when the parameter disappears; zero when unknown.
	Until time.Time
	// Message tells the model what happened and what to do instead.
	Message string
}

// Param is one tool parameter.
type Param struct {
	Name string
	Kind ParamKind
	// Column is the catalog name of the filtered column ("" for limit,
	// order_by, columns, cursor and the discovery parameters).
	Column string
	// Type is the column's type with domains resolved, as a catalog
	// identifier (e.g. pg_catalog.int4, shop.order_status); the builder casts
	// bind parameters to it (to its array for ParamIn).
	Type introspect.QualifiedName
	// DeclaredType is the column's type as declared, for people.
	DeclaredType string
	Required     bool
	Description  string
	Schema       *Schema
	Search       *SearchSpec   // ParamSearch only
	Order        []OrderChoice // ParamOrderBy only
	Deprecation  *Deprecation  // nil unless deprecated
	// hint is what tools/list says about the parameter beyond its type,
	// when its name and Schema do not say it (order_by's composite
	// default).
	hint string
	// listValues makes tools/list enumerate the columns parameter's values,
	// for a tool whose description does not list the columns.
	listValues bool
}

// ColumnSpec is one column a tool can return.
type ColumnSpec struct {
	Name         string // catalog name; also the key in result rows
	DeclaredType string
	Type         introspect.QualifiedName
	Nullable     bool
	Comment      string
	Schema       *Schema // the value's schema in results (nullable when Nullable)
	// Mappable is false for types pgmoat has no JSON mapping for; such
	// columns are returned as their text form and are never filterable.
	Mappable bool
}

// ToolSpec is one generated tool.
type ToolSpec struct {
	Name        string
	Kind        ToolKind
	Description string
	// descBase is Description without its related tools, related those
	// tools (describeFor): a caller's profile is told only of the
	// related tools it is shown.
	descBase string
	related  []relatedHint
	// Table is the queried relation as catalog identifiers (empty for
	// list_tables, describe_table and query_table).
	Table   introspect.QualifiedName
	RelKind introspect.RelKind
	// Key is the name query_table and describe_table accept for this
	// relation: the tool name without its query_ prefix.
	Key string
	// Params in presentation order: filters column by column, then
	// order_by, columns, limit, cursor.
	Params []*Param
	// Columns the tool may return, in table order; hidden and unreadable
	// columns are absent.
	Columns []ColumnSpec
	// PrimaryKey orders pages and breaks ties for the cursor; nil when the
	// relation has none (or part of it is hidden), and then there is no
	// cursor parameter.
	PrimaryKey []string
	// DefaultOrder applies when the call gives no order_by; empty means
	// the primary key ascending, or no particular order without one.
	DefaultOrder []OrderChoice
	MaxRows      int // the limit parameter's maximum
	DefaultLimit int // rows returned when the call gives no limit
	InputSchema  *Schema
	OutputSchema *Schema
	// Unlisted is set on a table tool tools/list leaves out to stay within
	// the token budget: it is reached through query_table.
	Unlisted bool
}

// Param finds a parameter by name.
func (t *ToolSpec) Param(name string) (*Param, bool) {
	for _, p := range t.Params {
		if p.Name == name {
			return p, true
		}
	}
	return nil, false
}

// ToolSet is the result of one generation.
type ToolSet struct {
	// Tables holds one spec per exposed relation (query_<table>), whether
	// listed or (in discovery mode) reached through query_table.
	Tables []*ToolSpec
	// Entities are the configured tools.
	Entities []*ToolSpec
	// Discovery is true when list_tables, describe_table and query_table
	// are listed: some or all table tools (those marked Unlisted) did not
	// fit the token budget and are reached through them.
	Discovery bool
	// Meta holds the three discovery tools when Discovery is set.
	Meta []*ToolSpec
	// TokenBudget is the budget the listing was arranged for
	// (GenerateOptions.TokenBudget with its default).
	TokenBudget int
	// Warnings name everything a reviewer should know: unmappable types,
	// renamed collisions, config entries that matched nothing, tables
	// without a COMMENT.
	Warnings []string
	// Snapshot is the catalog the set was generated from.
	Snapshot *introspect.Snapshot

	byName map[string]*ToolSpec
	byKey  map[string]*ToolSpec
}

// Listed returns the tools tools/list carries, in a stable order: the
// discovery tools when some table tools are left to them, the listed table
// tools in snapshot order, the entities.
func (s *ToolSet) Listed() []*ToolSpec {
	var out []*ToolSpec
	if s.Discovery {
		out = append(out, s.Meta...)
	}
	for _, t := range s.Tables {
		if !t.Unlisted {
			out = append(out, t)
		}
	}
	return append(out, s.Entities...)
}

// Tool finds a listed or table tool by name.
func (s *ToolSet) Tool(name string) (*ToolSpec, bool) {
	t, ok := s.byName[name]
	return t, ok
}

// Table finds a table tool by its Key, as query_table and describe_table
// receive it.
func (s *ToolSet) Table(key string) (*ToolSpec, bool) {
	t, ok := s.byKey[key]
	return t, ok
}

func (s *ToolSet) index() {
	s.byName = map[string]*ToolSpec{}
	s.byKey = map[string]*ToolSpec{}
	for _, t := range s.Tables {
		s.byName[t.Name] = t
		s.byKey[t.Key] = t
	}
	for _, t := range s.Meta {
		s.byName[t.Name] = t
	}
	for _, t := range s.Entities {
		s.byName[t.Name] = t
	}
}

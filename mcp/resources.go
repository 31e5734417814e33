package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pgmoat/pgmoat/introspect"
)

// Resource URIs. The overview is one markdown page; each exposed relation
// has a JSON document. Only what the tools expose is described: hidden
// columns, and indexes and keys over them, are left out.
const (
	SchemaURI      = "pgmoat://schema"
	tableURIPrefix = "pgmoat://tables/"
)

// TableURI is the resource URI of a relation.
func TableURI(q introspect.QualifiedName) string {
	return tableURIPrefix + url.PathEscape(q.Schema) + "/" + url.PathEscape(q.Name)
}

// installResources registers the overview and one resource per table tool,
// removing those of relations that went away. Caller holds s.mu.
func (s *Server) installResources(set *ToolSet) {
	if len(s.resources) == 0 {
		s.sdk.AddResource(&sdk.Resource{URI: SchemaURI, Name: "schema", Title: "Database overview",
			Description: "Every table and view the tools can read, with what each holds and which tool reads it.",
			MIMEType:    "text/markdown"}, s.readOverview)
	}
	var uris []string
	for _, t := range set.Tables {
		uris = append(uris, TableURI(t.Table))
	}
	var gone []string
	for _, u := range s.resources {
		if !slices.Contains(uris, u) {
			gone = append(gone, u)
		}
	}
	if len(gone) > 0 {
		s.sdk.RemoveResources(gone...)
	}
	for _, t := range set.Tables {
		u := TableURI(t.Table)
		if slices.Contains(s.resources, u) {
			continue
		}
		s.sdk.AddResource(&sdk.Resource{URI: u, Name: t.Key, Title: t.Table.String(), MIMEType: "application/json",
			Description: "Columns, types, comments, indexes and relations of " + t.Table.String() + "."}, s.readTable)
	}
	s.resources = append(uris, SchemaURI)
}

func (s *Server) readOverview(_ context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
	set := s.visibleSet(s.shapes.Load().set, req.Extra)
	var b strings.Builder
	db := ""
	if set.Snapshot != nil {
		db = " " + set.Snapshot.Database
	}
	fmt.Fprintf(&b, "# Database%s\n\n", db)
	if set.Discovery {
		fmt.Fprintf(&b, "%d of %d tables have no tool of their own (it would not fit the token budget of tools/list): "+
			"read them with query_table, after list_tables and describe_table.\n\n", set.unlistedCount(), len(set.Tables))
	}
	for _, t := range set.Tables {
		fmt.Fprintf(&b, "## %s (%s)\n\n", t.Table, t.RelKind)
		fmt.Fprintf(&b, "%s\n\n", firstParagraph(t.Description))
		fmt.Fprintf(&b, "- tool: %s\n- details: %s\n- filters: %s\n", toolRef(t), TableURI(t.Table), filterNames(t))
		if r, ok := relation(set, t); ok && r.EstimatedRows >= 0 {
			fmt.Fprintf(&b, "- about %d rows\n", r.EstimatedRows)
		}
		b.WriteString("\n")
	}
	for _, e := range set.Entities {
		fmt.Fprintf(&b, "## %s (configured tool over %s)\n\n%s\n\n", e.Name, e.Table, firstParagraph(e.Description))
	}
	return &sdk.ReadResourceResult{Contents: []*sdk.ResourceContents{{URI: req.Params.URI, MIMEType: "text/markdown", Text: b.String()}}}, nil
}

func toolRef(t *ToolSpec) string {
	if t.Unlisted {
		return fmt.Sprintf("query_table with table %q", t.Key)
	}
	return t.Name
}

func relation(set *ToolSet, t *ToolSpec) (*introspect.Relation, bool) {
	if set.Snapshot == nil {
		return nil, false
	}
	return set.Snapshot.Relation(t.Table.Schema, t.Table.Name)
}

// tableDoc is a table resource.
type tableDoc struct {
	Table        string          `json:"table"`
	Kind         string          `json:"kind"`
	Comment      string          `json:"comment,omitempty"`
	Tool         string          `json:"tool"`
	Columns      []ColumnSummary `json:"columns"`
	PrimaryKey   []string        `json:"primary_key,omitempty"`
	Indexes      []indexDoc      `json:"indexes,omitempty"`
	References   []fkDoc         `json:"references,omitempty"`
	ReferencedBy []fkDoc         `json:"referenced_by,omitempty"`
	Filters      []string        `json:"filters"`
	RowSecurity  bool            `json:"row_security"`
}

type indexDoc struct {
	Name    string   `json:"name"`
	Method  string   `json:"method"`
	Unique  bool     `json:"unique,omitempty"`
	Columns []string `json:"columns"`
}

type fkDoc struct {
	Columns   []string `json:"columns"`
	Table     string   `json:"table"`
	ToColumns []string `json:"to_columns"`
}

func (s *Server) readTable(_ context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
	set := s.visibleSet(s.shapes.Load().set, req.Extra)
	for _, t := range set.Tables {
		if TableURI(t.Table) != req.Params.URI {
			continue
		}
		doc := describeResource(set, t)
		b, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			return nil, err
		}
		return &sdk.ReadResourceResult{Contents: []*sdk.ResourceContents{{URI: req.Params.URI, MIMEType: "application/json", Text: string(b)}}}, nil
	}
	return nil, sdk.ResourceNotFoundError(req.Params.URI)
}

func describeResource(set *ToolSet, t *ToolSpec) tableDoc {
	visible := map[string]bool{}
	doc := tableDoc{Table: t.Table.String(), Kind: t.RelKind.String(), Tool: toolRef(t), PrimaryKey: t.PrimaryKey}
	for _, c := range t.Columns {
		visible[c.Name] = true
		doc.Columns = append(doc.Columns, ColumnSummary{Name: c.Name, Type: c.DeclaredType, Nullable: c.Nullable, Comment: c.Comment})
	}
	for _, p := range t.Params {
		if p.Kind.IsFilter() {
			doc.Filters = append(doc.Filters, p.Name)
		}
	}
	r, ok := relation(set, t)
	if !ok {
		return doc
	}
	doc.Comment, doc.RowSecurity = r.Comment, r.RLSEnabled
	var hidden []string
	for _, c := range r.Columns {
		if !visible[c.Name] {
			hidden = append(hidden, c.Name)
		}
	}
	for _, ix := range r.Indexes {
		if d, ok := indexDocOf(ix, visible, hidden); ok {
			doc.Indexes = append(doc.Indexes, d)
		}
	}
	for _, fk := range r.ForeignKeys {
		if allIn(fk.FromColumns, visible) {
			doc.References = append(doc.References, fkDoc{fk.FromColumns, fk.To.String(), fk.ToColumns})
		}
	}
	for _, fk := range r.ReferencedBy {
		if allIn(fk.ToColumns, visible) {
			doc.ReferencedBy = append(doc.ReferencedBy, fkDoc{fk.FromColumns, fk.From.String(), fk.ToColumns})
		}
	}
	return doc
}

// indexDocOf describes an index whose keys show no hidden column; an
// expression key is shown as its expression unless it mentions one.
func indexDocOf(ix *introspect.Index, visible map[string]bool, hidden []string) (indexDoc, bool) {
	d := indexDoc{Name: ix.Name, Method: ix.Method, Unique: ix.Unique}
	for _, k := range ix.Keys {
		if !k.IsExpression() && !visible[k.Column] {
			return d, false
		}
		if k.IsExpression() && slices.ContainsFunc(hidden, func(h string) bool { return strings.Contains(k.Expression, h) }) {
			return d, false
		}
		name := k.Column
		if k.IsExpression() {
			name = k.Expression
		}
		d.Columns = append(d.Columns, name)
	}
	return d, ix.Valid
}

func allIn(cols []string, set map[string]bool) bool {
	for _, c := range cols {
		if !set[c] {
			return false
		}
	}
	return true
}

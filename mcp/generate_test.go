package mcp_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/mcp"
)

func generate(t *testing.T, s *introspect.Snapshot, opts mcp.GenerateOptions) *mcp.ToolSet {
	t.Helper()
	set, err := mcp.Generate(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func tool(t *testing.T, set *mcp.ToolSet, name string) *mcp.ToolSpec {
	t.Helper()
	spec, ok := set.Tool(name)
	if !ok {
		var names []string
		for _, l := range set.Listed() {
			names = append(names, l.Name)
		}
		t.Fatalf("no tool %q; listed: %v", name, names)
	}
	return spec
}

func params(spec *mcp.ToolSpec) []string {
	var out []string
	for _, p := range spec.Params {
		out = append(out, p.Name+":"+string(p.Kind))
	}
	return out
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestTypeMapping(t *testing.T) {
	varchar := col("code", pgType("varchar"), true)
	varchar.TypMod = 24
	domain := &introspect.Type{Schema: "public", Name: "posint", Kind: introspect.TypeDomain, Base: pgType("int4")}
	dcol := col("qty", domain, true)
	dcol.Type = domain.Resolved()
	dcol.Domain = domain
	cols := []*introspect.Column{
		col("i2", pgType("int2"), true), col("i8", pgType("int8"), true), col("num", pgType("numeric"), true),
		col("f", pgType("float8"), true), col("b", pgType("bool"), true), col("t", pgType("text"), true), varchar,
		col("u", pgType("uuid"), true), col("d", pgType("date"), true), col("ts", pgType("timestamp"), true),
		col("tstz", pgType("timestamptz"), true), col("j", pgType("jsonb"), true), col("tags", arrayOf(pgType("text")), true),
		col("mood", enumType("mood", "sad", "happy"), true), col("p", pgType("point"), true), dcol,
		col("maybe", pgType("int4"), false), col("blob", pgType("bytea"), true),
		col("moody", enumType("mood", "sad", "happy"), false),
	}
	set := generate(t, snapshot(table("public", "types", cols...)), mcp.GenerateOptions{})
	spec := tool(t, set, "query_types")
	want := map[string]string{
		// Result schemas are typed and nothing more: bounds are the
		// server's to check, hints are for values a model writes.
		"i2":    `{"type":"integer"}`,
		"i8":    `{"type":"integer"}`,
		"num":   `{"type":"string","description":"decimal"}`,
		"f":     `{"type":"number"}`,
		"b":     `{"type":"boolean"}`,
		"t":     `{"type":"string"}`,
		"code":  `{"type":"string"}`,
		"u":     `{"type":"string","format":"uuid"}`,
		"d":     `{"type":"string","format":"date"}`,
		"ts":    `{"type":"string"}`,
		"tstz":  `{"type":"string","format":"date-time"}`,
		"j":     `{}`,
		"tags":  `{"type":"array","items":{"type":["string","null"]}}`,
		"mood":  `{"enum":["sad","happy"]}`, // the labels are the type
		"moody": `{"enum":["sad","happy",null]}`,
		"p":     `{"type":"string"}`,
		"qty":   `{"type":"integer"}`,
		"maybe": `{"type":["integer","null"]}`,
		"blob":  `{"type":"string","contentEncoding":"base64"}`,
	}
	for _, c := range spec.Columns {
		if got := toJSON(t, c.Schema); got != want[c.Name] {
			t.Errorf("%s: got %s\n want %s", c.Name, got, want[c.Name])
		}
		if c.Mappable != (c.Name != "p") {
			t.Errorf("%s: mappable %v", c.Name, c.Mappable)
		}
	}
	if !slices.ContainsFunc(set.Warnings, func(w string) bool { return strings.Contains(w, "public.types.p has type point") }) {
		t.Errorf("no warning for the unmappable column: %q", set.Warnings)
	}
	if got := spec.OutputSchema.Properties["rows"].Items.Properties["mood"]; got == nil {
		t.Errorf("output schema lacks mood")
	}
}

// TestFiltersFollowIndexes checks each index kind: what it makes cheap
// becomes a filter, and nothing else does.
func TestFiltersFollowIndexes(t *testing.T) {
	text, i4 := pgType("text"), pgType("int4")
	r := withPK(table("public", "t",
		col("id", i4, true), col("a", i4, true), col("h", i4, true), col("part", i4, true), col("low", text, true),
		col("name", text, true), col("doc", pgType("tsvector"), true), col("body", text, true),
		col("inv", i4, true), col("lead", i4, true), col("second", i4, true), col("br", i4, true),
		col("flag", pgType("bool"), true), col("j", pgType("jsonb"), true), col("pt", pgType("point"), true)), "id")
	partial := index("t_part", "btree", "part")
	partial.Predicate = "part > 0"
	expr := &introspect.Index{Name: "t_lower", Method: "btree", Valid: true,
		Keys: []introspect.IndexKey{{Expression: "lower(low)", OpClass: "text_ops"}}}
	trgm := index("t_name_trgm", "gin", "name")
	trgm.Keys[0].OpClass = "gin_trgm_ops"
	tsExpr := &introspect.Index{Name: "t_body_fts", Method: "gin", Valid: true,
		Keys: []introspect.IndexKey{{Expression: "to_tsvector('english'::regconfig, body)", OpClass: "tsvector_ops"}}}
	invalid := index("t_inv", "btree", "inv")
	invalid.Valid = false
	r.Indexes = append(r.Indexes, index("t_a", "btree", "a"), index("t_h", "hash", "h"), partial, expr, trgm,
		index("t_doc", "gin", "doc"), tsExpr, invalid, index("t_lead_second", "btree", "lead", "second"),
		index("t_br", "brin", "br"), index("t_flag", "btree", "flag"), index("t_j", "gin", "j"), index("t_pt", "gist", "pt"),
		index("t_ref", "btree", "ref"))
	r.Columns = append(r.Columns, col("ref", i4, true))
	r.ForeignKeys = []introspect.ForeignKey{{Name: "t_ref_fkey", From: r.QualifiedName(), FromColumns: []string{"ref"},
		To: introspect.QualifiedName{Schema: "public", Name: "other"}, ToColumns: []string{"id"}}}
	spec := tool(t, generate(t, snapshot(r), mcp.GenerateOptions{}), "query_t")
	want := []string{
		"id:eq", "id_in:in", "id_gte:gte", "id_lte:lte",
		"a:eq", "a_in:in", "a_gte:gte", "a_lte:lte",
		"h:eq", "h_in:in", // hash: equality only
		"name_search:search", "doc_search:search", "body_search:search",
		"lead:eq", "lead_in:in", "lead_gte:gte", "lead_lte:lte", // only the leading column
		"flag:eq", "flag_in:in", // booleans have no ranges
		"ref:eq", "ref_in:in", // a foreign key: no ranges over identifiers
		"order_by:order_by", "columns:columns", "limit:limit", "cursor:cursor",
	}
	if got := params(spec); !reflect.DeepEqual(got, want) {
		t.Errorf("params\n got %v\nwant %v", got, want)
	}
	search := map[string]mcp.SearchSpec{}
	for _, p := range spec.Params {
		if p.Search != nil {
			search[p.Name] = *p.Search
		}
	}
	if s := search["name_search"]; s.Method != mcp.SearchTrigram || s.Index != "t_name_trgm" {
		t.Errorf("name_search %+v", s)
	}
	if s := search["doc_search"]; s.Method != mcp.SearchTSVector {
		t.Errorf("doc_search %+v", s)
	}
	if s := search["body_search"]; s.Method != mcp.SearchTSExpression || s.Config != "english" ||
		s.Expression != "to_tsvector('english'::regconfig, body)" {
		t.Errorf("body_search %+v", s)
	}
	orderBy, _ := spec.Param("order_by")
	var orders []string
	for _, o := range orderBy.Order {
		orders = append(orders, o.Value)
	}
	wantOrders := []string{"id asc", "id desc", "a asc", "a desc", "lead asc", "lead desc", "flag asc", "flag desc", "ref asc", "ref desc"}
	if !reflect.DeepEqual(orders, wantOrders) {
		t.Errorf("order_by %v", orders)
	}
	if !reflect.DeepEqual(spec.PrimaryKey, []string{"id"}) || spec.Table != (introspect.QualifiedName{Schema: "public", Name: "t"}) {
		t.Errorf("pk %v table %v", spec.PrimaryKey, spec.Table)
	}
	if p, _ := spec.Param("a"); p.Column != "a" || p.Type != (introspect.QualifiedName{Schema: "pg_catalog", Name: "int4"}) {
		t.Errorf("param a column %q type %v", p.Column, p.Type)
	}
	// tools/list types a column once, on its first parameter; the
	// variants' names say the rest, and the server still checks them
	// against the full schema.
	published := map[string]string{
		"a": `{"type":"integer"}`, "a_in": `{"type":"array"}`, "a_gte": `{}`, "a_lte": `{}`,
		"name_search": `{"type":"string","description":"substring"}`,
		"body_search": `{"type":"string","description":"full-text"}`,
	}
	for name, want := range published {
		if got := toJSON(t, spec.InputSchema.Properties[name]); got != want {
			t.Errorf("published %s: %s, want %s", name, got, want)
		}
	}
	if p, _ := spec.Param("a_gte"); p.Schema.Type != "integer" || p.Schema.Maximum == nil {
		t.Errorf("a_gte is validated against %s", toJSON(t, p.Schema))
	}
}

func TestNameCollisionsGetStableSuffixes(t *testing.T) {
	i4 := pgType("int4")
	mk := func(schema, name string) *introspect.Relation {
		return withPK(table(schema, name, col("id", i4, true)), "id")
	}
	s := snapshot(mk("public", "Orders"), mk("public", "orders"), mk("public", "ORDERS"),
		mk("public", "a b"), mk("public", "a-b"), mk("public", "naïve"), mk("sales", "q1"),
		mk("public", strings.Repeat("x", 63)), mk("other", strings.Repeat("x", 63)))
	set := generate(t, s, mcp.GenerateOptions{})
	var names []string
	for _, l := range set.Tables {
		names = append(names, l.Name)
	}
	must := map[string]string{
		"public.orders": "query_orders", // the exact normalized name keeps it
		"public.naïve":  "query_naive",
		"sales.q1":      "query_sales_q1",
	}
	for _, l := range set.Tables {
		if w, ok := must[l.Table.String()]; ok && l.Name != w {
			t.Errorf("%s named %s, want %s", l.Table, l.Name, w)
		}
		if len(l.Name) > 64 {
			t.Errorf("%s longer than 64 bytes", l.Name)
		}
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("duplicate tool name %s", n)
		}
		seen[n] = true
		if strings.Trim(n, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
			t.Errorf("name %q has characters outside [a-z0-9_]", n)
		}
	}
	// The suffix depends on the relation alone: adding tables changes nothing.
	again := generate(t, snapshot(mk("public", "Orders"), mk("public", "orders"), mk("public", "zzz")), mcp.GenerateOptions{})
	first, _ := findByTable(set, "public", "Orders")
	second, _ := findByTable(again, "public", "Orders")
	if first.Name != second.Name || !strings.HasPrefix(first.Name, "query_orders_") {
		t.Errorf("suffix not stable: %s vs %s", first.Name, second.Name)
	}
	if len(set.Warnings) == 0 || !strings.Contains(strings.Join(set.Warnings, "\n"), `"public.Orders" would be named "query_orders"`) {
		t.Errorf("collisions not reported: %q", set.Warnings)
	}
}

func findByTable(set *mcp.ToolSet, schema, name string) (*mcp.ToolSpec, bool) {
	for _, t := range set.Tables {
		if t.Table.Schema == schema && t.Table.Name == name {
			return t, true
		}
	}
	return nil, false
}

func TestParameterNameCollisions(t *testing.T) {
	i4 := pgType("int4")
	r := withPK(table("public", "t", col("id", i4, true), col("id_in", i4, true), col("limit", i4, true), col("ID", i4, true)), "id")
	r.Indexes = append(r.Indexes, index("a", "hash", "id_in"), index("b", "hash", "limit"), index("c", "hash", "ID"))
	spec := tool(t, generate(t, snapshot(r), mcp.GenerateOptions{}), "query_t")
	names := map[string]bool{}
	for _, p := range spec.Params {
		if names[p.Name] {
			t.Errorf("duplicate parameter %s", p.Name)
		}
		names[p.Name] = true
	}
	byCol := func(column string, kind mcp.ParamKind) string {
		for _, p := range spec.Params {
			if p.Column == column && p.Kind == kind {
				return p.Name
			}
		}
		return ""
	}
	if byCol("id_in", mcp.ParamEq) != "id_in" || byCol("id", mcp.ParamIn) == "id_in" {
		t.Errorf("id_in column should keep id_in: %v", params(spec))
	}
	if byCol("limit", mcp.ParamEq) == "limit" || !strings.HasPrefix(byCol("limit", mcp.ParamEq), "limit_") {
		t.Errorf("column limit must yield to the limit parameter: %v", params(spec))
	}
	if byCol("ID", mcp.ParamEq) == "id" || byCol("id", mcp.ParamEq) != "id" {
		t.Errorf("ID vs id: %v", params(spec))
	}
}

func TestOverridesAndEntities(t *testing.T) {
	opts := mcp.GenerateOptions{
		MaxRows: 500,
		Overrides: map[string]mcp.ToolOverride{
			"customers": {Name: "find_customers", Description: "Customers you manage.", HideColumns: []string{"email"}},
			"orders":    {Required: []string{"customer_id"}, MaxRows: 200, DefaultOrder: "created_at desc"},
			"missing":   {Name: "nothing"},
		},
		Entities: []mcp.Entity{{
			Name: "get_orders_by_customer", Table: "orders",
			Description: "Filter by customer_id (required) and status (optional). Returns up to 50 recent orders.",
			Filters:     []string{"customer_id", "status", "nope"}, Required: []string{"customer_id"},
			MaxRows: 50, DefaultOrder: "created_at desc", Summary: new(bool),
		}},
	}
	set := generate(t, shopLike(), opts)
	cust := tool(t, set, "find_customers")
	if !strings.HasPrefix(cust.Description, "Customers you manage. Columns: ") {
		t.Errorf("description %q", cust.Description)
	}
	for _, c := range cust.Columns {
		if c.Name == "email" {
			t.Errorf("hidden column returned")
		}
	}
	if _, ok := cust.Param("email"); ok {
		t.Errorf("hidden column filterable")
	}
	if strings.Contains(toJSON(t, cust.Listing()), "email") {
		t.Errorf("hidden column visible in the tool: %s", toJSON(t, cust.Listing()))
	}
	orders := tool(t, set, "query_orders")
	if orders.MaxRows != 200 || orders.DefaultLimit != 100 || !slices.Equal(orders.InputSchema.Required, []string{"customer_id"}) {
		t.Errorf("orders max %d default %d required %v", orders.MaxRows, orders.DefaultLimit, orders.InputSchema.Required)
	}
	if len(orders.DefaultOrder) != 1 || orders.DefaultOrder[0].Value != "created_at desc" {
		t.Errorf("default order %+v", orders.DefaultOrder)
	}
	if !strings.Contains(orders.Description, "customer_id → find_customers") {
		t.Errorf("related tool hint missing or stale:\n%s", orders.Description)
	}
	ent := tool(t, set, "get_orders_by_customer")
	wantParams := []string{"customer_id:eq", "status:eq", "order_by:order_by", "columns:columns", "limit:limit", "cursor:cursor"}
	if !reflect.DeepEqual(params(ent), wantParams) || ent.MaxRows != 50 || ent.DefaultLimit != 50 {
		t.Errorf("entity params %v max %d default %d", params(ent), ent.MaxRows, ent.DefaultLimit)
	}
	if ent.Description != opts.Entities[0].Description || ent.Kind != mcp.ToolEntity {
		t.Errorf("entity description %q", ent.Description)
	}
	// Without the generated column list, the columns parameter names them.
	if cp := ent.InputSchema.Properties["columns"]; cp.Items == nil || len(cp.Items.Enum) != len(ent.Columns) {
		t.Errorf("columns of a summary-less entity: %s", toJSON(t, cp))
	}
	if cp := orders.InputSchema.Properties["columns"]; cp.Items != nil || !strings.Contains(orders.Description, "Columns: ") {
		t.Errorf("columns of a table tool: %s\n%s", toJSON(t, cp), orders.Description)
	}
	warnings := strings.Join(set.Warnings, "\n")
	for _, w := range []string{`filter "nope"`, `override "missing"`} {
		if !strings.Contains(warnings, w) {
			t.Errorf("no warning about %s in %q", w, warnings)
		}
	}
	if len(set.Listed()) != 3 {
		t.Errorf("listed %d tools", len(set.Listed()))
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []mcp.GenerateOptions{
		{Discovery: "sometimes"},
		{Include: []string{"[bad"}},
		{Entities: []mcp.Entity{{Name: "has space", Table: "orders"}}},
		{Entities: []mcp.Entity{{Name: "x", Table: "orders"}, {Name: "x", Table: "orders"}}},
		{Entities: []mcp.Entity{{Name: "query_table", Table: "orders"}}},
		{Entities: []mcp.Entity{{Name: "y"}}},
		{Overrides: map[string]mcp.ToolOverride{"orders": {Name: strings.Repeat("n", 65)}}},
	}
	for i, opts := range tests {
		if _, err := mcp.Generate(shopLike(), opts); err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
}

func TestIncludeExclude(t *testing.T) {
	set := generate(t, shopLike(), mcp.GenerateOptions{Exclude: []string{"cust*"}})
	if len(set.Tables) != 1 || set.Tables[0].Name != "query_orders" {
		t.Fatalf("tables %v", set.Tables)
	}
	if strings.Contains(set.Tables[0].Description, "query_customers") {
		t.Errorf("hint to an excluded table")
	}
	set = generate(t, shopLike(), mcp.GenerateOptions{Include: []string{"public.customers"}})
	if len(set.Tables) != 1 || set.Tables[0].Name != "query_customers" {
		t.Fatalf("include: %v", set.Tables)
	}
}

func TestDiscoveryMode(t *testing.T) {
	var rels []*introspect.Relation
	for i := range 60 {
		r := withPK(table("public", fmt.Sprintf("table_%02d", i), col("id", pgType("int4"), true)), "id")
		r.Comment = fmt.Sprintf("Holds thing number %d.", i)
		rels = append(rels, r)
	}
	rels[42].Comment = "Invoices sent to customers."
	set := generate(t, snapshot(rels...), mcp.GenerateOptions{Discovery: "always"})
	if !set.Discovery {
		t.Fatal("discovery: always did not switch to discovery mode")
	}
	var listed []string
	for _, l := range set.Listed() {
		listed = append(listed, l.Name)
	}
	if !reflect.DeepEqual(listed, []string{"list_tables", "describe_table", "query_table"}) {
		t.Errorf("listed %v", listed)
	}
	hits, _ := set.SearchTables("invoices", 10)
	if len(hits) != 1 || hits[0].Table != "table_42" {
		t.Errorf("search: %+v", hits)
	}
	all, truncated := set.SearchTables("", 50)
	if len(all) != 50 || !truncated {
		t.Errorf("list all: %d truncated %v", len(all), truncated)
	}
	d, ok := set.DescribeTable("table_42")
	if !ok || d.Description == "" || len(d.Parameters) == 0 || d.Parameters[0].Name != "id" || d.Schemas["id"] == nil {
		t.Errorf("describe: %+v", d)
	}
	if _, ok := set.DescribeTable("nope"); ok {
		t.Errorf("describe of an unknown table")
	}
	var buf bytes.Buffer
	if err := set.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > 6000 {
		t.Errorf("discovery tools/list is %d bytes", buf.Len())
	}
	if small := generate(t, shopLike(), mcp.GenerateOptions{Discovery: "always"}); !small.Discovery {
		t.Errorf("discovery: always ignored")
	}
	if big := generate(t, snapshot(rels...), mcp.GenerateOptions{Discovery: "never"}); big.Discovery || len(big.Listed()) != 60 {
		t.Errorf("discovery: never ignored")
	}
}

func TestZeroTables(t *testing.T) {
	set := generate(t, snapshot(), mcp.GenerateOptions{})
	if len(set.Listed()) != 0 || set.Discovery {
		t.Fatalf("listed %d", len(set.Listed()))
	}
	var buf bytes.Buffer
	if err := set.WriteJSON(&buf); err != nil || !strings.Contains(buf.String(), `"tools": []`) {
		t.Errorf("json %s err %v", buf.String(), err)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	var outs []string
	for range 5 {
		var buf bytes.Buffer
		if err := generate(t, shopLike(), mcp.GenerateOptions{}).WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, buf.String())
	}
	for _, o := range outs[1:] {
		if o != outs[0] {
			t.Fatal("two generations differ")
		}
	}
}

func TestHiddenPrimaryKeyDisablesCursor(t *testing.T) {
	set := generate(t, shopLike(), mcp.GenerateOptions{Overrides: map[string]mcp.ToolOverride{"orders": {HideColumns: []string{"id"}}}})
	orders := tool(t, set, "query_orders")
	if orders.PrimaryKey != nil {
		t.Errorf("cursor over a hidden key")
	}
	if _, ok := orders.Param("cursor"); ok {
		t.Errorf("cursor parameter present")
	}
}

func TestUnreadableColumnsAreHidden(t *testing.T) {
	s := shopLike()
	c, _ := s.Relations[0].Column("email")
	c.Selectable = false
	cust := tool(t, generate(t, s, mcp.GenerateOptions{}), "query_customers")
	if _, ok := cust.Param("email"); ok || strings.Contains(toJSON(t, cust.Listing()), `"email"`) {
		t.Errorf("unreadable column exposed")
	}
}

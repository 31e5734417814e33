package mcp

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/policy"
)

// shape is everything that decides the SQL text of a call: which filters
// are present (not their values), the order, the columns and whether, and
// with which NULL pattern, a cursor continues a page. Calls with the same
// shape share one statement text, so the policy verdict and PostgreSQL's
// prepared plan are reused.
type shape struct {
	tool    *ToolSpec
	filters []*Param // present filters, in parameter order
	order   []orderKey
	columns []string // returned columns, in request order
	// after[i] tells, for a cursor call, whether key i's position value is
	// NULL (false) or a value (true); nil when there is no cursor.
	after []bool
}

// orderKey is one ORDER BY term: the chosen order, then the primary key as
// tiebreaker in the same direction so that positions are total.
type orderKey struct {
	column   string
	desc     bool
	nullable bool
}

// plan is a built statement and how to bind a call's values to it.
type plan struct {
	sql string
	// binds say where each $n comes from, in order.
	binds []bind
	// selected are the selected columns in SELECT order: the requested
	// columns, then order keys the caller did not ask for.
	selected []selectedColumn
	// keys index selected for each order key, for next_cursor.
	keys []int
	// returned is how many leading selected columns the caller sees.
	returned int
}

type bindKind int

const (
	bindFilter bindKind = iota // a filter's value (or list, as an array literal)
	bindSearchConfig
	bindCursor // a cursor position value, by key index
	bindLimit
)

type bind struct {
	kind  bindKind
	param *Param
	key   int
}

// selectedColumn is how one column is read and shown.
type selectedColumn struct {
	name  string
	class typeClass // class of the value the driver returns
	// elem is the element class of arrays returned as arrays.
	elem typeClass
}

// newShape derives the shape of a validated call.
func newShape(spec *ToolSpec, a *callArgs, after []bool) *shape {
	s := &shape{tool: spec, after: after, filters: make([]*Param, 0, len(a.filters))}
	for _, p := range spec.Params {
		if _, ok := a.filters[p.Name]; ok {
			s.filters = append(s.filters, p)
		}
	}
	s.order = orderKeys(spec, a.order)
	s.columns = a.columns
	if s.columns == nil {
		for _, c := range spec.Columns {
			s.columns = append(s.columns, c.Name)
		}
	}
	return s
}

// orderKeys is the chosen (or default) order plus the primary key.
func orderKeys(spec *ToolSpec, chosen *OrderChoice) []orderKey {
	order := spec.DefaultOrder
	if chosen != nil {
		order = []OrderChoice{*chosen}
	}
	keys := make([]orderKey, 0, len(order)+len(spec.PrimaryKey))
	desc := false
	for _, o := range order {
		keys = append(keys, orderKey{column: o.Column, desc: o.Desc, nullable: columnNullable(spec, o.Column)})
		desc = o.Desc
	}
	for _, pk := range spec.PrimaryKey {
		if !slices.ContainsFunc(keys, func(k orderKey) bool { return k.column == pk }) {
			keys = append(keys, orderKey{column: pk, desc: desc})
		}
	}
	return keys
}

func columnNullable(spec *ToolSpec, name string) bool {
	for _, c := range spec.Columns {
		if c.Name == name {
			return c.Nullable
		}
	}
	return true
}

// key is the shape's cache key within one tool set.
func (s *shape) key(profile string) string {
	var b strings.Builder
	n := len(s.tool.Name) + len(profile) + 4*len(s.after)
	for _, p := range s.filters {
		n += len(p.Name) + 2
	}
	for _, k := range s.order {
		n += len(k.column) + 8
	}
	for _, c := range s.columns {
		n += len(c) + 2
	}
	b.Grow(n + 1)
	b.WriteString(s.tool.Name)
	b.WriteByte(0)
	b.WriteString(profile)
	for _, p := range s.filters {
		b.WriteString("\x00f")
		b.WriteString(p.Name)
	}
	for _, k := range s.order {
		b.WriteString("\x00o")
		b.WriteString(k.column)
		b.WriteString("/")
		b.WriteString(strconv.FormatBool(k.desc))
	}
	for _, c := range s.columns {
		b.WriteString("\x00c")
		b.WriteString(c)
	}
	for _, a := range s.after {
		b.WriteString("\x00a")
		b.WriteString(strconv.FormatBool(a))
	}
	return b.String()
}

// build writes the statement of a shape. Every identifier comes from the
// tool spec (which took it from the catalog) and is quoted; every value is
// a $n parameter cast to the column's type. Nothing a caller sent appears
// in the text.
func build(s *shape, rel *introspect.Relation) (*plan, error) {
	b := &builder{shape: s, rel: rel, p: &plan{}}
	if err := b.selectList(); err != nil {
		return nil, err
	}
	b.sql.WriteString(" FROM ")
	b.sql.WriteString(quoteQualified(s.tool.Table))
	b.sql.WriteString(" AS t")
	if err := b.where(); err != nil {
		return nil, err
	}
	b.orderBy()
	b.sql.WriteString(" LIMIT ")
	b.sql.WriteString(b.param(bind{kind: bindLimit}, "pg_catalog.int8"))
	b.p.sql = b.sql.String()
	return b.p, nil
}

type builder struct {
	shape *shape
	rel   *introspect.Relation
	p     *plan
	sql   strings.Builder
	n     int
}

// param appends a bind and returns its placeholder with the cast.
func (b *builder) param(bd bind, typ string) string {
	b.p.binds = append(b.p.binds, bd)
	b.n++
	return "$" + strconv.Itoa(b.n) + "::" + typ
}

func (b *builder) selectList() error {
	b.sql.WriteString("SELECT ")
	cols := slices.Clone(b.shape.columns)
	b.p.returned = len(cols)
	for _, k := range b.shape.order {
		i := slices.Index(cols, k.column)
		if i < 0 {
			i = len(cols)
			cols = append(cols, k.column)
		}
		b.p.keys = append(b.p.keys, i)
	}
	for i, name := range cols {
		col, ok := b.rel.Column(name)
		if !ok {
			return &staleError{what: "column " + name}
		}
		if i > 0 {
			b.sql.WriteString(", ")
		}
		sc := readAs(col)
		b.sql.WriteString(selectExpr(col, sc))
		b.p.selected = append(b.p.selected, sc)
	}
	return nil
}

// readAs decides how a column travels: as the driver decodes it, or as its
// text form when the driver has no faithful JSON mapping for the type.
func readAs(c *introspect.Column) selectedColumn {
	cls := classify(c.Type)
	sc := selectedColumn{name: c.Name, class: cls}
	switch cls {
	case classArray:
		elem := classify(c.Type.Resolved().Elem)
		if nativeJSON(elem) {
			sc.elem = elem
		} else {
			sc.elem = classText
			sc.class = classArray | textArrayFlag
		}
	case classInteger, classNumeric, classFloat, classBool, classText, classUUID, classDate,
		classTimestamp, classTimestampTZ, classJSON, classEnum, classBinary:
	default:
		sc.class = classOtherString
	}
	return sc
}

// textArrayFlag marks an array read as text[]; it never collides with a
// real class.
const textArrayFlag typeClass = 1 << 10

// nativeJSON lists element classes the driver decodes into values that map
// straight onto JSON.
func nativeJSON(c typeClass) bool {
	switch c {
	case classInteger, classNumeric, classFloat, classBool, classText, classUUID, classJSON:
		return true
	}
	return false
}

func selectExpr(c *introspect.Column, sc selectedColumn) string {
	ref := "t." + policy.QuoteIdent(c.Name)
	switch {
	case sc.class == classArray|textArrayFlag:
		return ref + "::pg_catalog.text[] AS " + policy.QuoteIdent(c.Name)
	case sc.class == classOtherString:
		return ref + "::pg_catalog.text AS " + policy.QuoteIdent(c.Name)
	}
	return ref
}

func (b *builder) where() error {
	var conds []string
	for _, p := range b.shape.filters {
		c, err := b.filter(p)
		if err != nil {
			return err
		}
		conds = append(conds, c)
	}
	if b.shape.after != nil {
		conds = append(conds, b.after()...)
	}
	if len(conds) > 0 {
		b.sql.WriteString(" WHERE ")
		b.sql.WriteString(strings.Join(conds, " AND "))
	}
	return nil
}

func (b *builder) filter(p *Param) (string, error) {
	if _, ok := b.rel.Column(p.Column); !ok {
		return "", &staleError{what: "column " + p.Column}
	}
	col := "t." + policy.QuoteIdent(p.Column)
	typ := quoteQualified(p.Type)
	switch p.Kind {
	case ParamEq:
		return col + " = " + b.param(bind{kind: bindFilter, param: p}, typ), nil
	case ParamGte:
		return col + " >= " + b.param(bind{kind: bindFilter, param: p}, typ), nil
	case ParamLte:
		return col + " <= " + b.param(bind{kind: bindFilter, param: p}, typ), nil
	case ParamIn:
		return col + " = ANY(" + b.param(bind{kind: bindFilter, param: p}, typ+"[]") + ")", nil
	case ParamSearch:
		return b.search(p, col)
	}
	return "", fmt.Errorf("mcp: parameter %s of kind %s is not a filter", p.Name, p.Kind)
}

// search writes a _search condition in the form its index serves.
func (b *builder) search(p *Param, col string) (string, error) {
	s := p.Search
	query := func() string {
		if s.Config == "" {
			return "pg_catalog.websearch_to_tsquery(" + b.param(bind{kind: bindFilter, param: p}, "pg_catalog.text") + ")"
		}
		cfg := b.param(bind{kind: bindSearchConfig, param: p}, "pg_catalog.regconfig")
		return "pg_catalog.websearch_to_tsquery(" + cfg + ", " + b.param(bind{kind: bindFilter, param: p}, "pg_catalog.text") + ")"
	}
	switch s.Method {
	case SearchTSVector:
		return col + " @@ " + query(), nil
	case SearchTSExpression:
		// The indexed expression exactly as the catalog printed it, so the
		// planner recognises the expression index. It comes from
		// pg_get_indexdef, never from a caller, and policy walks it like
		// everything else.
		return "(" + s.Expression + ") @@ " + query(), nil
	case SearchTrigram:
		// The value is '%' + escaped text + '%', built in Go: the pattern
		// travels as a parameter.
		return col + " ILIKE " + b.param(bind{kind: bindFilter, param: p}, "pg_catalog.text"), nil
	}
	return "", fmt.Errorf("mcp: unknown search method %q", s.Method)
}

// after writes the keyset condition "strictly after the cursor position"
// for NULLS LAST ordering: for each key i, the earlier keys equal their
// position and key i lies beyond it.
func (b *builder) after() []string {
	keys := b.shape.order
	pos := make([]string, len(keys))
	for i, k := range keys {
		if b.shape.after[i] {
			pos[i] = b.param(bind{kind: bindCursor, key: i}, b.keyType(k))
		}
	}
	var ors []string
	for i, k := range keys {
		if !b.shape.after[i] {
			// Nothing sorts after NULL under NULLS LAST but other NULLs,
			// which the earlier-equal case covers.
		} else {
			terms := make([]string, 0, i+1)
			for j := 0; j < i; j++ {
				terms = append(terms, keyEquals(keys[j], pos[j]))
			}
			terms = append(terms, keyBeyond(k, pos[i]))
			ors = append(ors, strings.Join(terms, " AND "))
		}
	}
	if len(ors) == 0 {
		return []string{"false"}
	}
	out := []string{"(" + strings.Join(ors, " OR ") + ")"}
	// A plain bound on the leading key lets the planner start the index
	// scan at the position instead of filtering from the beginning.
	if k := keys[0]; !k.nullable && b.shape.after[0] {
		op := " >= "
		if k.desc {
			op = " <= "
		}
		out = append([]string{"t." + policy.QuoteIdent(k.column) + op + pos[0]}, out...)
	}
	return out
}

func (b *builder) keyType(k orderKey) string {
	c, _ := b.rel.Column(k.column)
	return quoteQualified(columnType(c))
}

func columnType(c *introspect.Column) introspect.QualifiedName {
	t := c.Type.Resolved()
	return introspect.QualifiedName{Schema: t.Schema, Name: t.Name}
}

func keyEquals(k orderKey, pos string) string {
	col := "t." + policy.QuoteIdent(k.column)
	if pos == "" {
		return col + " IS NULL"
	}
	return col + " = " + pos
}

func keyBeyond(k orderKey, pos string) string {
	col := "t." + policy.QuoteIdent(k.column)
	op := " > "
	if k.desc {
		op = " < "
	}
	if k.nullable {
		return "(" + col + op + pos + " OR " + col + " IS NULL)"
	}
	return col + op + pos
}

func (b *builder) orderBy() {
	if len(b.shape.order) == 0 {
		return
	}
	terms := make([]string, len(b.shape.order))
	for i, k := range b.shape.order {
		terms[i] = "t." + policy.QuoteIdent(k.column)
		if k.desc {
			terms[i] += " DESC"
		}
		if k.nullable {
			terms[i] += " NULLS LAST"
		}
	}
	b.sql.WriteString(" ORDER BY ")
	b.sql.WriteString(strings.Join(terms, ", "))
}

// staleError means the tool spec names something the catalog no longer
// has: the schema changed under the call.
type staleError struct{ what string }

func (e *staleError) Error() string { return e.what + " no longer exists" }

// quoteIdent quotes an identifier for PostgreSQL.

func quoteQualified(q introspect.QualifiedName) string {
	return policy.QuoteIdent(q.Schema) + "." + policy.QuoteIdent(q.Name)
}

// bindValues turns a call's validated arguments into the statement's
// parameters, all in PostgreSQL text form.
func (p *plan) bindValues(a *callArgs, position []*string, fetch int) []any {
	out := make([]any, len(p.binds))
	for i, bd := range p.binds {
		switch bd.kind {
		case bindFilter:
			out[i] = filterText(a.filters[bd.param.Name])
		case bindSearchConfig:
			out[i] = bd.param.Search.Config
		case bindCursor:
			if v := position[bd.key]; v != nil {
				out[i] = *v
			}
		case bindLimit:
			out[i] = strconv.Itoa(fetch)
		}
	}
	return out
}

func filterText(f filterValue) string {
	switch {
	case f.param.Kind == ParamIn:
		return arrayLiteral(f.list)
	case f.param.Kind == ParamSearch && f.param.Search.Method == SearchTrigram:
		return "%" + likeEscape(f.text) + "%"
	}
	return f.text
}

// arrayLiteral writes a PostgreSQL array value with every element quoted.
// It is a parameter value, not SQL text.
func arrayLiteral(items []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, s := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		for _, r := range s {
			if r == '"' || r == '\\' {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// likeEscape makes every character of s literal in an ILIKE pattern whose
// escape character is the default backslash.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

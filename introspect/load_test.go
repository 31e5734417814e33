package introspect_test

import (
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
	"github.com/pgmoat/pgmoat/introspect"
)

func catalogSnapshot(t *testing.T) *introspect.Snapshot {
	t.Helper()
	ddl, err := os.ReadFile("testdata/catalog.sql")
	if err != nil {
		t.Fatal(err)
	}
	return load(t, freshDB(t, string(ddl)))
}

func TestLoadRelationsAndKinds(t *testing.T) {
	s := catalogSnapshot(t)
	var got []string
	for _, r := range s.Relations {
		got = append(got, r.Schema+"."+r.Name+":"+r.Kind.String())
	}
	want := []string{
		"app.events:partitioned table",
		"app.happy_people:view",
		"app.mood_counts:materialized view",
		"app.notes:table",
		"app.people:table",
		"public.Weird \"Name\" ü:table",
		"public.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:table",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("relations (partitions must be left out):\n got %q\nwant %q", got, want)
	}
	if s.Database == "" || s.User != "postgres" || s.ServerVersion < 150000 || s.TakenAt.IsZero() {
		t.Errorf("server info not filled: %+v", s)
	}
	if !slices.Contains(s.Extensions, "pg_trgm") {
		t.Errorf("extensions %v lack pg_trgm", s.Extensions)
	}
	var schemas []string
	for _, sc := range s.Schemas {
		schemas = append(schemas, sc.Name+"="+sc.Comment)
	}
	if !slices.Contains(schemas, "app=Application tables.") {
		t.Errorf("schemas %q lack app with its comment", schemas)
	}
}

func TestLoadColumnTypes(t *testing.T) {
	s := catalogSnapshot(t)
	p := mustRelation(t, s, "app", "people")
	tests := []struct {
		col      string
		declared string
		typ      string
		kind     introspect.TypeKind
		notNull  bool
		domain   string
	}{
		{"id", "bigint", "int8", introspect.TypeBase, true, ""},
		{"email", "text", "text", introspect.TypeBase, true, ""},
		{"nick", "app.label", "varchar", introspect.TypeBase, true, "label"},
		{"mood", "app.mood", "mood", introspect.TypeEnum, false, ""},
		{"tags", "text[]", "_text", introspect.TypeArray, false, ""},
		{"amounts", "app.amounts", "_numeric", introspect.TypeArray, false, "amounts"},
		{"born", "date", "date", introspect.TypeBase, false, ""},
		{"seen_at", "timestamp with time zone", "timestamptz", introspect.TypeBase, false, ""},
		{"doc", "tsvector", "tsvector", introspect.TypeBase, false, ""},
		{"spot", "point", "point", introspect.TypeBase, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.col, func(t *testing.T) {
			c := mustColumn(t, p, tt.col)
			if c.DeclaredType != tt.declared || c.Type.Name != tt.typ || c.Type.Kind != tt.kind || c.NotNull != tt.notNull {
				t.Errorf("got declared %q type %q kind %q notnull %v", c.DeclaredType, c.Type.Name, c.Type.Kind, c.NotNull)
			}
			domain := ""
			if c.Domain != nil {
				domain = c.Domain.Name
			}
			if domain != tt.domain {
				t.Errorf("domain %q, want %q", domain, tt.domain)
			}
		})
	}
	if got := mustColumn(t, p, "mood").Type.Labels; !reflect.DeepEqual(got, []string{"sad", "ok", "happy"}) {
		t.Errorf("enum labels %q", got)
	}
	if got := mustColumn(t, p, "tags").Type.Elem.Resolved().Name; got != "text" {
		t.Errorf("tags element %q", got)
	}
	if got := mustColumn(t, p, "nick").TypMod; got != 24 { // varchar(20): 20 + 4-byte header
		t.Errorf("nick typmod from the inner domain = %d", got)
	}
	if c := mustColumn(t, p, "id"); !c.Identity || c.Generated {
		t.Errorf("id identity/generated = %v/%v", c.Identity, c.Generated)
	}
	if c := mustColumn(t, p, "doc"); !c.Generated || c.Default == "" {
		t.Errorf("doc generated = %v, expression %q", c.Generated, c.Default)
	}
	if c := mustColumn(t, p, "mood"); c.Default != "'ok'::app.mood" {
		t.Errorf("mood default %q", c.Default)
	}
	if p.Comment != "Everyone we know." || mustColumn(t, p, "email").Comment != "Where to write." {
		t.Errorf("comments not read: %q / %q", p.Comment, mustColumn(t, p, "email").Comment)
	}
}

func TestLoadIndexes(t *testing.T) {
	s := catalogSnapshot(t)
	p := mustRelation(t, s, "app", "people")
	type key struct{ col, expr, opclass string }
	tests := []struct {
		name      string
		method    string
		unique    bool
		predicate string
		keys      []key
	}{
		{"people_pkey", "btree", true, "", []key{{"id", "id", "int8_ops"}}},
		{"people_email_key", "btree", true, "", []key{{"email", "email", "text_ops"}}},
		{"people_lower_email", "btree", false, "", []key{{"", "lower(email)", "text_ops"}}},
		{"people_born_partial", "btree", false, "born IS NOT NULL", []key{{"born", "born", "date_ops"}}},
		{"people_seen", "btree", false, "", []key{{"seen_at", "seen_at", "timestamptz_ops"}, {"id", "id", "int8_ops"}}},
		{"people_doc", "gin", false, "", []key{{"doc", "doc", "tsvector_ops"}}},
		{"people_name_trgm", "gin", false, "", []key{{"name", "name", "gin_trgm_ops"}}},
		{"people_mood_hash", "hash", false, "", []key{{"mood", "mood", "enum_ops"}}},
		{"people_incl", "btree", false, "", []key{{"born", "born", "date_ops"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ix, ok := p.Index(tt.name)
			if !ok {
				t.Fatalf("index missing")
			}
			var keys []key
			for _, k := range ix.Keys {
				keys = append(keys, key{k.Column, k.Expression, k.OpClass})
			}
			if ix.Method != tt.method || ix.Unique != tt.unique || ix.Predicate != tt.predicate || !ix.Valid || !reflect.DeepEqual(keys, tt.keys) {
				t.Errorf("got %s unique=%v pred=%q valid=%v keys=%v", ix.Method, ix.Unique, ix.Predicate, ix.Valid, keys)
			}
		})
	}
	seen, _ := p.Index("people_seen")
	if !seen.Keys[0].Desc || seen.Keys[1].Desc {
		t.Errorf("DESC flags %v/%v", seen.Keys[0].Desc, seen.Keys[1].Desc)
	}
	lower, _ := p.Index("people_lower_email")
	if !lower.Keys[0].IsExpression() {
		t.Errorf("expression key not marked")
	}
	if mc := mustRelation(t, s, "app", "mood_counts"); len(mc.Indexes) != 1 {
		t.Errorf("materialized view indexes %d", len(mc.Indexes))
	}
}

func TestLoadKeysAndSecurity(t *testing.T) {
	s := catalogSnapshot(t)
	p := mustRelation(t, s, "app", "people")
	n := mustRelation(t, s, "app", "notes")
	if !reflect.DeepEqual(p.PrimaryKey, []string{"id"}) || !reflect.DeepEqual(n.PrimaryKey, []string{"person_id", "line"}) {
		t.Errorf("primary keys %v %v", p.PrimaryKey, n.PrimaryKey)
	}
	if !reflect.DeepEqual(p.Unique, [][]string{{"email"}}) {
		t.Errorf("unique %v", p.Unique)
	}
	want := introspect.ForeignKey{
		Name: "notes_person_id_fkey",
		From: introspect.QualifiedName{Schema: "app", Name: "notes"}, FromColumns: []string{"person_id"},
		To: introspect.QualifiedName{Schema: "app", Name: "people"}, ToColumns: []string{"id"},
	}
	if !reflect.DeepEqual(n.ForeignKeys, []introspect.ForeignKey{want}) {
		t.Errorf("outgoing %+v", n.ForeignKeys)
	}
	if !reflect.DeepEqual(p.ReferencedBy, []introspect.ForeignKey{want}) {
		t.Errorf("incoming %+v", p.ReferencedBy)
	}
	if !n.RLSEnabled || !n.RLSForced || p.RLSEnabled {
		t.Errorf("RLS flags notes %v/%v people %v", n.RLSEnabled, n.RLSForced, p.RLSEnabled)
	}
	if !p.Selectable {
		t.Errorf("superuser cannot select?")
	}
	if v := mustRelation(t, s, "app", "happy_people"); v.EstimatedRows != -1 || v.Comment != "Only the happy ones." {
		t.Errorf("view rows %d comment %q", v.EstimatedRows, v.Comment)
	}
	if e := mustRelation(t, s, "app", "events"); !reflect.DeepEqual(e.PrimaryKey, []string{"id", "at"}) {
		t.Errorf("partitioned pk %v", e.PrimaryKey)
	}
}

func TestLoadAwkwardNames(t *testing.T) {
	s := catalogSnapshot(t)
	w := mustRelation(t, s, "public", `Weird "Name" ü`)
	var cols []string
	for _, c := range w.Columns {
		cols = append(cols, c.Name)
	}
	if !reflect.DeepEqual(cols, []string{"select", "Column With Space", "ñandú"}) {
		t.Errorf("columns %q", cols)
	}
	long := mustRelation(t, s, "public", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
	if len(long.Name) != 63 || len(long.Columns[0].Name) != 63 {
		t.Errorf("63-byte names not kept")
	}
}

func TestLoadFunctionVolatility(t *testing.T) {
	s := catalogSnapshot(t)
	tests := []struct {
		schema, name string
		want         introspect.Volatility
		ok           bool
	}{
		{"pg_catalog", "now", introspect.Stable, true},
		{"pg_catalog", "lower", introspect.Immutable, true},
		{"pg_catalog", "random", introspect.Volatile, true},
		{"app", "pure", introspect.Volatile, true}, // the worst overload counts
		{"app", "nope", introspect.Immutable, false},
	}
	for _, tt := range tests {
		got, ok := s.FunctionVolatility(tt.schema, tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s.%s = %v,%v want %v,%v", tt.schema, tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestLoadEmptyDatabase(t *testing.T) {
	s := load(t, freshDB(t, ""))
	if len(s.Relations) != 0 {
		t.Errorf("relations in an empty database: %d", len(s.Relations))
	}
	if len(s.Functions) == 0 {
		t.Errorf("built-in functions missing")
	}
}

func TestLoadSeesOnlyWhatTheRoleMaySelect(t *testing.T) {
	db := pgcluster.NewDatabase(t, cluster)
	dsn := cluster.DSN(db)
	execSQL(t, dsn, `CREATE TABLE open (a int, secret text);
CREATE TABLE closed (a int);
CREATE ROLE reader LOGIN PASSWORD 'pw';
GRANT SELECT (a) ON open TO reader;`)
	t.Cleanup(func() { execSQL(t, dsn, "DROP OWNED BY reader; DROP ROLE reader") })
	s := load(t, cluster.DSNFor("reader", "pw", db))
	open := mustRelation(t, s, "public", "open")
	closed := mustRelation(t, s, "public", "closed")
	if !open.Selectable || closed.Selectable {
		t.Errorf("selectable open=%v closed=%v", open.Selectable, closed.Selectable)
	}
	if !mustColumn(t, open, "a").Selectable || mustColumn(t, open, "secret").Selectable {
		t.Errorf("column privileges not read")
	}
	if s.User != "reader" {
		t.Errorf("user %q", s.User)
	}
}

package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/policy"
)

// ordersSet is a hand-built snapshot with every filter kind: equality,
// ranges, lists, an enum, trigram and expression text search, a nullable
// order column and a composite primary key elsewhere.
func ordersSet(t testing.TB) *ToolSet {
	t.Helper()
	base := func(n string) *introspect.Type {
		return &introspect.Type{Schema: "pg_catalog", Name: n, Kind: introspect.TypeBase}
	}
	status := &introspect.Type{Schema: "public", Name: "order_status", Kind: introspect.TypeEnum, Labels: []string{"paid", "shipped"}}
	col := func(n int16, name string, typ *introspect.Type, notNull bool) *introspect.Column {
		return &introspect.Column{Num: n, Name: name, Type: typ, DeclaredType: typ.Name, TypMod: -1, NotNull: notNull, Selectable: true}
	}
	ix := func(name, method string, key introspect.IndexKey) *introspect.Index {
		return &introspect.Index{Name: name, Method: method, Valid: true, Keys: []introspect.IndexKey{key}}
	}
	orders := &introspect.Relation{Schema: "public", Name: "orders", Kind: introspect.KindTable, Selectable: true, EstimatedRows: 10,
		Comment: "One row per order.",
		Columns: []*introspect.Column{
			col(1, "id", base("int8"), true),
			col(2, "customer_id", base("int4"), true),
			col(3, "status", status, true),
			col(4, "created_at", base("timestamptz"), true),
			col(5, "shipped_at", base("timestamptz"), false),
			col(6, "note", base("text"), false),
			col(7, "body", base("text"), true),
			col(8, "total", base("numeric"), true),
		},
		PrimaryKey: []string{"id"},
		Indexes: []*introspect.Index{
			ix("orders_pkey", "btree", introspect.IndexKey{Column: "id"}),
			ix("orders_customer_idx", "btree", introspect.IndexKey{Column: "customer_id"}),
			ix("orders_status_idx", "btree", introspect.IndexKey{Column: "status"}),
			ix("orders_created_idx", "btree", introspect.IndexKey{Column: "created_at"}),
			ix("orders_shipped_idx", "btree", introspect.IndexKey{Column: "shipped_at"}),
			ix("orders_note_trgm", "gin", introspect.IndexKey{Column: "note", OpClass: "gin_trgm_ops"}),
			ix("orders_body_fts", "gin", introspect.IndexKey{Expression: "to_tsvector('english'::regconfig, body)"}),
		},
	}
	snap := introspect.Assemble(&introspect.Snapshot{Database: "shop", Relations: []*introspect.Relation{orders}})
	set, err := Generate(snap, GenerateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func mustArgs(t *testing.T, spec *ToolSpec, js string) *callArgs {
	t.Helper()
	a, err := parseArgs(spec, json.RawMessage(js), 0)
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return a
}

func TestBuiltStatementsPassPolicyAndCarryNoValues(t *testing.T) {
	set := ordersSet(t)
	spec, _ := set.Tool("query_orders")
	rel, _ := set.Snapshot.Relation("public", "orders")
	engine, err := policy.New(policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const evil = `x'); DROP TABLE orders; --`
	cases := []struct {
		name, args string
		want       []string // fragments the SQL must contain
	}{
		{"no filter", `{}`, []string{`FROM "public"."orders" AS t`, `ORDER BY t."id" LIMIT $1::pg_catalog.int8`}},
		{"equality", `{"customer_id": 7}`, []string{`t."customer_id" = $1::"pg_catalog"."int4"`}},
		{"enum list", `{"status_in": ["paid", "shipped"]}`, []string{`t."status" = ANY($1::"public"."order_status"[])`}},
		{"range", `{"created_at_gte": "2024-01-01T00:00:00Z", "created_at_lte": "2024-02-01"}`,
			[]string{`t."created_at" >= $1::"pg_catalog"."timestamptz"`, `t."created_at" <= $2::"pg_catalog"."timestamptz"`}},
		{"trigram", `{"note_search": "` + evil + `"}`, []string{`t."note" ILIKE $1::pg_catalog.text`}},
		{"expression search", `{"body_search": "` + evil + `"}`,
			[]string{`(to_tsvector('english'::regconfig, body)) @@ pg_catalog.websearch_to_tsquery($1::pg_catalog.regconfig, $2::pg_catalog.text)`}},
		{"nullable order", `{"order_by": "shipped_at desc", "columns": ["note"]}`,
			[]string{`SELECT t."note", t."shipped_at", t."id" FROM`, `ORDER BY t."shipped_at" DESC NULLS LAST, t."id" DESC`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := mustArgs(t, spec, c.args)
			pl, err := build(newShape(spec, a, nil), rel)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !strings.Contains(pl.sql, w) {
					t.Errorf("SQL lacks %q:\n%s", w, pl.sql)
				}
			}
			if strings.Contains(pl.sql, "DROP") || strings.Contains(pl.sql, "2024") || strings.Contains(pl.sql, "paid") {
				t.Errorf("a value reached the SQL text:\n%s", pl.sql)
			}
			if err := verify(engine, policy.Identity{UserID: "1"}, spec, pl.sql); err != nil {
				t.Errorf("policy refused %s: %v", pl.sql, err)
			}
			if got := len(pl.bindValues(a, nil, 11)); got != strings.Count(pl.sql, "$") {
				t.Errorf("%d values for %d placeholders", got, strings.Count(pl.sql, "$"))
			}
		})
	}
}

func TestKeysetConditionCoversNullPositions(t *testing.T) {
	set := ordersSet(t)
	spec, _ := set.Tool("query_orders")
	rel, _ := set.Snapshot.Relation("public", "orders")
	a := mustArgs(t, spec, `{"order_by": "shipped_at asc"}`)
	withValue, err := build(newShape(spec, a, []bool{true, true}), rel)
	if err != nil {
		t.Fatal(err)
	}
	want := `(t."shipped_at" > $1::"pg_catalog"."timestamptz" OR t."shipped_at" IS NULL) OR t."shipped_at" = $1::"pg_catalog"."timestamptz" AND t."id" > $2::"pg_catalog"."int8"`
	if !strings.Contains(withValue.sql, want) {
		t.Errorf("keyset after a value:\n%s", withValue.sql)
	}
	afterNull, err := build(newShape(spec, a, []bool{false, true}), rel)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(afterNull.sql, `(t."shipped_at" IS NULL AND t."id" > $1::"pg_catalog"."int8")`) {
		t.Errorf("keyset after NULL:\n%s", afterNull.sql)
	}
	engine, _ := policy.New(policy.Options{})
	for _, pl := range []*plan{withValue, afterNull} {
		if err := verify(engine, policy.Identity{UserID: "1"}, spec, pl.sql); err != nil {
			t.Errorf("policy refused %s: %v", pl.sql, err)
		}
	}
}

func TestVerifyRefusesAStatementReadingAnotherRelation(t *testing.T) {
	set := ordersSet(t)
	spec, _ := set.Tool("query_orders")
	engine, _ := policy.New(policy.Options{})
	for _, sql := range []string{
		`SELECT t.id FROM public.orders t JOIN public.customers c ON true LIMIT 1`,
		`SELECT id FROM public.customers LIMIT 1`,
		`SELECT pg_catalog.pg_sleep(1) FROM public.orders LIMIT 1`,
	} {
		if err := verify(engine, policy.Identity{UserID: "1"}, spec, sql); err == nil {
			t.Errorf("verify let through %s", sql)
		}
	}
}

func TestFilterValuesAreEscapedAsValues(t *testing.T) {
	if got := arrayLiteral([]string{`a"b`, `c\d`, `}`}); got != `{"a\"b","c\\d","}"}` {
		t.Errorf("arrayLiteral = %s", got)
	}
	if got := likeEscape(`50%_off\`); got != `50\%\_off\\` {
		t.Errorf("likeEscape = %s", got)
	}
}

func TestOnlyInternalErrorsAreLoggedWithStacks(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	for _, err := range []error{
		&policy.Error{SQLState: "42501", Rule: "statement.kind", Message: "pgmoat: statement.kind: no"},
		&DBError{SQLState: "57014", Message: "canceling statement due to statement timeout"},
		context.DeadlineExceeded,
	} {
		logIfInternal(logger, "query_orders", err)
	}
	if buf.Len() != 0 {
		t.Fatalf("an expected failure was logged as internal: %s", buf.String())
	}
	logIfInternal(logger, "query_orders", errors.New("index out of range in the builder"))
	if !strings.Contains(buf.String(), `"stack":"goroutine`) || !strings.Contains(buf.String(), `"level":"ERROR"`) {
		t.Fatalf("an internal error was not logged with a stack: %s", buf.String())
	}
}

package mcp

import (
	"strings"
	"testing"

	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/policy"
)

// verify compares the relation a statement reads with the tool's as a
// (schema, name) pair: "a.b"."c" is not "a"."b.c", though both print as
// a.b.c.
func TestVerifyTellsDottedNamesApart(t *testing.T) {
	t.Parallel()
	engine, err := policy.New(policy.Options{Profiles: map[string]policy.Profile{
		policy.DefaultProfile: {Name: policy.DefaultProfile, AllowSchemas: []string{"a", "a.b"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	spec := &ToolSpec{Name: "query_b_c", Table: introspect.QualifiedName{Schema: "a", Name: "b.c"}}
	id := policy.Identity{UserID: "1", Profile: policy.DefaultProfile}
	if err := verify(engine, id, spec, `SELECT t."x" FROM "a"."b.c" AS t LIMIT $1::pg_catalog.int8`); err != nil {
		t.Fatalf("the tool's own relation: %v", err)
	}
	err = verify(engine, id, spec, `SELECT t."x" FROM "a.b"."c" AS t LIMIT $1::pg_catalog.int8`)
	if err == nil {
		t.Fatal(`a statement reading "a.b"."c" passed for a tool of "a"."b.c"`)
	}
	if !strings.HasPrefix(err.Error(), "pgmoat: mcp.verify: ") || !strings.Contains(err.Error(), `reads ["a.b"."c"] instead of "a"."b.c"`) {
		t.Errorf("message %q", err)
	}
}

// verify compares the functions a statement calls with the search
// functions as (schema, name) pairs: an unqualified function whose name
// is "pg_catalog.to_tsvector" (allowed by a profile, unknown to the
// catalog) is not pg_catalog.to_tsvector, though the two spell the same
// without quotes.
func TestVerifyTellsDottedFunctionNamesApart(t *testing.T) {
	t.Parallel()
	engine, err := policy.New(policy.Options{Profiles: map[string]policy.Profile{
		policy.DefaultProfile: {Name: policy.DefaultProfile, AllowSchemas: []string{"a"}, AllowFunctions: []string{"pg_catalog.to_tsvector"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	spec := &ToolSpec{Name: "query_a_t", Table: introspect.QualifiedName{Schema: "a", Name: "t"}}
	id := policy.Identity{UserID: "1", Profile: policy.DefaultProfile}
	if err := verify(engine, id, spec, `SELECT t."x" FROM "a"."t" AS t WHERE pg_catalog.to_tsvector(t."x") IS NOT NULL LIMIT $1::pg_catalog.int8`); err != nil {
		t.Fatalf("the search function: %v", err)
	}
	err = verify(engine, id, spec, `SELECT t."x" FROM "a"."t" AS t WHERE "pg_catalog.to_tsvector"(t."x") IS NOT NULL LIMIT $1::pg_catalog.int8`)
	if err == nil {
		t.Fatal(`a statement calling "pg_catalog.to_tsvector" passed as if it called pg_catalog.to_tsvector`)
	}
	if !strings.HasPrefix(err.Error(), "pgmoat: mcp.verify: ") || !strings.Contains(err.Error(), `calls "pg_catalog.to_tsvector"; refused`) {
		t.Errorf("message %q", err)
	}
}

package mcp_test

import (
	"testing"

	"github.com/pgmoat/pgmoat/mcp"
)

// Every filter the generator names parses back to its column and kind,
// and the families are those IndexServes checks.
func TestFilterNamesParseBack(t *testing.T) {
	t.Parallel()
	s := shopLike()
	set := generate(t, s, mcp.GenerateOptions{})
	n := 0
	for _, spec := range set.Tables {
		rel, _ := s.Relation(spec.Table.Schema, spec.Table.Name)
		isColumn := func(c string) bool { _, ok := rel.Column(c); return ok }
		for _, p := range spec.Params {
			if !p.Kind.IsFilter() {
				continue
			}
			n++
			col, kind, ok := mcp.ParseFilterName(p.Name, isColumn)
			if !ok || col != p.Column || kind != p.Kind {
				t.Errorf("%s parses as %q %q %v; want %q %q", p.Name, col, kind, ok, p.Column, p.Kind)
			}
			if p.Name != p.Column+p.Kind.Suffix() {
				t.Errorf("%s is not %s%s", p.Name, p.Column, p.Kind.Suffix())
			}
			if !mcp.IndexServes(rel, col, kind.Family()) {
				t.Errorf("%s: no index serves its %s filter", p.Name, kind.Family())
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d filters generated", n)
	}
}

func TestParseFilterName(t *testing.T) {
	t.Parallel()
	cols := map[string]bool{"price": true, "price_in": true, "body": true}
	isColumn := func(c string) bool { return cols[c] }
	for _, tc := range []struct {
		name, col string
		kind      mcp.ParamKind
		ok        bool
	}{
		{"price", "price", mcp.ParamEq, true},
		{"price_in", "price_in", mcp.ParamEq, true}, // a column of that name wins
		{"price_in_in", "price_in", mcp.ParamIn, true},
		{"price_gte", "price", mcp.ParamGte, true},
		{"price_lte", "price", mcp.ParamLte, true},
		{"body_search", "body", mcp.ParamSearch, true},
		{"_in", "", "", false},
		{"title_search", "", "", false},
		{"price_between", "", "", false},
	} {
		col, kind, ok := mcp.ParseFilterName(tc.name, isColumn)
		if col != tc.col || kind != tc.kind || ok != tc.ok {
			t.Errorf("%s: %q %q %v, want %q %q %v", tc.name, col, kind, ok, tc.col, tc.kind, tc.ok)
		}
	}
	if mcp.ParamLimit.Suffix() != "" || mcp.ParamLimit.Family() != "" {
		t.Error("limit is no filter")
	}
}

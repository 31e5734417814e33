package mcp

import (
	"regexp"
	"strings"

	"github.com/pgmoat/pgmoat/introspect"
)

// access is what the indexes of a relation make cheap, per column.
type access struct {
	eq     map[string]bool
	ranged map[string]bool
	order  map[string]bool
	search map[string]*SearchSpec
}

// usable reports whether the planner can use the index for any query on
// the relation: a partial index only serves queries that repeat its
// predicate, and an invalid one serves none.
func usable(ix *introspect.Index) bool { return ix.Valid && !ix.Partial() }

// analyzeAccess reads the indexes (and the primary key) of r.
func analyzeAccess(r *introspect.Relation) access {
	a := access{eq: map[string]bool{}, ranged: map[string]bool{}, order: map[string]bool{}, search: map[string]*SearchSpec{}}
	for _, c := range r.PrimaryKey {
		a.eq[c] = true
	}
	for _, ix := range r.Indexes {
		if !usable(ix) || len(ix.Keys) == 0 {
			continue
		}
		a.addIndex(r, ix)
	}
	return a
}

func (a access) addIndex(r *introspect.Relation, ix *introspect.Index) {
	lead := ix.Keys[0]
	switch ix.Method {
	case "btree":
		if !lead.IsExpression() {
			a.eq[lead.Column] = true
			a.order[lead.Column] = true
			a.ranged[lead.Column] = true
		}
	case "hash":
		if !lead.IsExpression() {
			a.eq[lead.Column] = true
		}
	case "gin", "gist":
		for _, k := range ix.Keys {
			if s := searchFor(r, ix, k); s != nil {
				if _, taken := a.search[s.column]; !taken || s.spec.Method != SearchTrigram {
					a.search[s.column] = &s.spec
				}
			}
		}
	}
}

type searchKey struct {
	column string
	spec   SearchSpec
}

// tsExpr matches an index expression of the form
// to_tsvector('config'::regconfig, column) as pg_get_indexdef renders it.
var tsExpr = regexp.MustCompile(`^to_tsvector\('([A-Za-z0-9_.]+)'::regconfig, ("(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)\)$`)

// tsConfig finds the configuration of a generated tsvector column.
var tsConfig = regexp.MustCompile(`^to_tsvector\('([A-Za-z0-9_.]+)'::regconfig,`)

// searchFor recognises the three index shapes that make text search cheap.
func searchFor(r *introspect.Relation, ix *introspect.Index, k introspect.IndexKey) *searchKey {
	if k.IsExpression() {
		m := tsExpr.FindStringSubmatch(k.Expression)
		if m == nil {
			return nil
		}
		col := unquoteIdent(m[2])
		if c, ok := r.Column(col); !ok || classify(c.Type) != classText {
			return nil
		}
		return &searchKey{col, SearchSpec{Method: SearchTSExpression, Expression: k.Expression, Config: m[1], Index: ix.Name}}
	}
	c, ok := r.Column(k.Column)
	if !ok {
		return nil
	}
	switch {
	case classify(c.Type) == classTSVector:
		spec := SearchSpec{Method: SearchTSVector, Index: ix.Name}
		if c.Generated {
			// A generated document names its configuration; querying with the
			// same one makes the words match.
			if m := tsConfig.FindStringSubmatch(c.Default); m != nil {
				spec.Config = m[1]
			}
		}
		return &searchKey{c.Name, spec}
	case classify(c.Type).textual() && (k.OpClass == "gin_trgm_ops" || k.OpClass == "gist_trgm_ops"):
		return &searchKey{c.Name, SearchSpec{Method: SearchTrigram, Index: ix.Name}}
	}
	return nil
}

func unquoteIdent(s string) string {
	if strings.HasPrefix(s, `"`) {
		return strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
	}
	return s
}

// IndexServes reports whether an index of r makes a filter of the given
// kind on column cheap, by the same reading of the indexes the tool
// generator uses (pgmoat doctor checks configured filters with it).
func IndexServes(r *introspect.Relation, column string, kind FilterKind) bool {
	a := analyzeAccess(r)
	switch kind {
	case FilterEquality:
		return a.eq[column]
	case FilterRange:
		return a.ranged[column]
	case FilterSearch:
		return a.search[column] != nil
	}
	return false
}

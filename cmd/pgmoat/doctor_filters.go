package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/mcp"
)

// configuredFilter is a filter parameter the config names: an entity's
// filter or a tool's required parameter.
type configuredFilter struct {
	where string // e.g. "mcp.tools.entities[orders_by_customer].filters"
	table string // "schema.table" or "table" (public)
	param string // customer_id, created_at_gte, full_name_search, ...
}

// configuredFilters lists every filter parameter mcp.tools names.
func configuredFilters(opts mcp.GenerateOptions) []configuredFilter {
	var out []configuredFilter
	for _, e := range opts.Entities {
		for _, p := range append(append([]string(nil), e.Filters...), e.Required...) {
			out = append(out, configuredFilter{where: "mcp.tools.entities[" + e.Name + "]", table: e.Table, param: p})
		}
	}
	tables := make([]string, 0, len(opts.Overrides))
	for t := range opts.Overrides {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	for _, t := range tables {
		for _, p := range opts.Overrides[t].Required {
			out = append(out, configuredFilter{where: "mcp.tools.overrides[" + t + "].required", table: t, param: p})
		}
	}
	return out
}

// checkFilterIndexes reports configured filters whose column no index
// can serve: every call filtering on it reads the whole table. A filter
// on a view, an unknown table or an unknown column is left to the tool
// generator, which already warns about it.
func checkFilterIndexes(snap *introspect.Snapshot, opts mcp.GenerateOptions) []introspect.Finding {
	var out []introspect.Finding
	checked := 0
	seen := map[string]bool{}
	for _, f := range configuredFilters(opts) {
		schema, name := "public", f.table
		if i := strings.IndexByte(f.table, '.'); i >= 0 {
			schema, name = f.table[:i], f.table[i+1:]
		}
		rel, ok := snap.Relation(schema, name)
		if !ok || (rel.Kind != introspect.KindTable && rel.Kind != introspect.KindPartitionedTable && rel.Kind != introspect.KindMaterializedView) {
			continue
		}
		column, kind := parameterColumn(rel, f.param)
		if column == "" {
			continue
		}
		key := schema + "." + name + "." + column + "/" + string(kind)
		if seen[key] {
			continue
		}
		seen[key] = true
		checked++
		if mcp.IndexServes(rel, column, kind) {
			continue
		}
		advice := fmt.Sprintf("CREATE INDEX ON %s.%s (%s)", schema, name, column)
		if kind == mcp.FilterSearch {
			advice = fmt.Sprintf("CREATE INDEX ON %s.%s USING gin (%s gin_trgm_ops)", schema, name, column)
		}
		out = append(out, introspect.Finding{Check: "filter.index", Severity: introspect.Warning,
			Message: fmt.Sprintf("%s filters %s.%s on %s, which no index serves: every such call reads the whole table (%s)",
				f.where, schema, name, column, advice)})
	}
	if len(out) == 0 && checked > 0 {
		out = append(out, introspect.Finding{Check: "filter.index", Severity: introspect.Note,
			Message: fmt.Sprintf("every configured filter column (%d) has an index that serves it", checked)})
	}
	return out
}

// parameterColumn maps a filter parameter to its column and the family
// of filter, by the tool generator's filter-name grammar.
func parameterColumn(rel *introspect.Relation, param string) (column string, kind mcp.FilterKind) {
	column, k, ok := mcp.ParseFilterName(param, func(n string) bool { _, ok := rel.Column(n); return ok })
	if !ok {
		return "", ""
	}
	return column, k.Family()
}

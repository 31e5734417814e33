package mcp

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pgmoat/pgmoat/introspect"
)

// Generate turns a snapshot and the tool configuration into tool specs. It
// is a pure function: the same inputs give the same ToolSet, byte for byte.
// It fails only on mistakes in opts itself; config entries that match
// nothing in the snapshot become warnings.
func Generate(snap *introspect.Snapshot, opts GenerateOptions) (*ToolSet, error) {
	return generate(snap, opts, nil)
}

// generate builds every tool, lets adjust change their parameters (nil:
// no change) and then decides what tools/list carries, so the token
// budget is kept with the parameters as they are served.
func generate(snap *introspect.Snapshot, opts GenerateOptions, adjust func(*ToolSet)) (*ToolSet, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	g := &generator{snap: snap, opts: opts.withDefaults(), set: &ToolSet{Snapshot: snap}}
	if err := g.run(); err != nil {
		return nil, err
	}
	if adjust != nil {
		adjust(g.set)
	}
	g.arrange()
	g.set.index()
	return g.set, nil
}

type generator struct {
	snap *introspect.Snapshot
	opts GenerateOptions
	set  *ToolSet
	// refName names a relation in related-tool hints: its tool name.
	refName map[introspect.QualifiedName]string
	// unlisted holds the table tools tools/list leaves to query_table;
	// related-tool hints point there through query_table.
	unlisted map[string]bool
	// redescribe rewrites the description of every table and entity tool,
	// after the listing changed what related-tool hints say.
	redescribe []func()
}

func (g *generator) warn(format string, args ...any) {
	g.set.Warnings = append(g.set.Warnings, fmt.Sprintf(format, args...))
}

func (g *generator) run() error {
	rels := g.exposedRelations()
	names, err := g.tableNames(rels)
	if err != nil {
		return err
	}
	g.refName = map[introspect.QualifiedName]string{}
	g.unlisted = map[string]bool{}
	for i, r := range rels {
		g.refName[r.QualifiedName()] = names[i]
	}
	for i, r := range rels {
		ov, _ := g.opts.override(r.QualifiedName())
		spec := g.relationSpec(r, names[i], ToolTable, ov, nil)
		g.set.Tables = append(g.set.Tables, spec)
	}
	g.checkOverrides()
	if err := g.entities(names); err != nil {
		return err
	}
	return nil
}

// exposedRelations are the relations the role can read that the
// configuration and the policy (Readable) let through, in snapshot order.
func (g *generator) exposedRelations() []*introspect.Relation {
	var out []*introspect.Relation
	for _, r := range g.snap.Relations {
		if !r.Selectable || !g.opts.exposed(r.QualifiedName()) || !g.opts.readable(r.QualifiedName()) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// keyOf is the query_table key of a table tool.
func keyOf(toolName string) string { return strings.TrimPrefix(toolName, "query_") }

// tableNames assigns tool names to relations, honouring renames.
func (g *generator) tableNames(rels []*introspect.Relation) ([]string, error) {
	reserved := map[string]bool{"list_tables": true, "describe_table": true, "query_table": true}
	for _, e := range g.opts.Entities {
		reserved[e.Name] = true
	}
	claims := make([]nameClaim, len(rels))
	for i, r := range rels {
		q := r.QualifiedName()
		if ov, ok := g.opts.override(q); ok && ov.Name != "" {
			claims[i] = nameClaim{want: ov.Name, identity: q.String(), natural: true}
			continue
		}
		want := "query_" + normalize(r.Name)
		natural := normalize(r.Name) == r.Name
		if r.Schema != "public" {
			want = "query_" + normalize(r.Schema) + "_" + normalize(r.Name)
			natural = natural && normalize(r.Schema) == r.Schema
		}
		want, cut := fit(want, q.String())
		claims[i] = nameClaim{want: want, identity: q.String(), natural: natural && !cut}
	}
	names, warnings, err := assignNames(claims, reserved, "relation")
	g.set.Warnings = append(g.set.Warnings, warnings...)
	return names, err
}

func (g *generator) checkOverrides() {
	keys := make([]string, 0, len(g.opts.Overrides))
	for k := range g.opts.Overrides {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if _, ok := g.refName[tableRef(k)]; !ok {
			g.warn("override %q matches no exposed relation", k)
		}
	}
}

func (g *generator) entities(tableNames []string) error {
	taken := map[string]bool{}
	for _, n := range tableNames {
		taken[n] = true
	}
	for _, e := range g.opts.Entities {
		if taken[e.Name] {
			return &ConfigError{"entities", fmt.Sprintf("entity %q has the name of a renamed table tool", e.Name)}
		}
		q := tableRef(e.Table)
		r, ok := g.snap.Relation(q.Schema, q.Name)
		if !ok || !r.Selectable || !g.opts.readable(q) {
			g.warn("entity %s: relation %s does not exist or cannot be read; the tool is left out", e.Name, q)
			continue
		}
		ov, _ := g.opts.override(q)
		ent := e
		g.set.Entities = append(g.set.Entities, g.relationSpec(r, e.Name, ToolEntity, ov, &ent))
	}
	return nil
}

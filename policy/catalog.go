package policy

import (
	"strings"
)

//go:generate go run ./internal/gencatalog -o catalog_gen.go

// Volatility is pg_proc.provolatile: whether a function may change the
// database or return different results for the same arguments.
type Volatility byte

// Volatility classes, with PostgreSQL's codes.
const (
	Immutable Volatility = 'i'
	Stable    Volatility = 's'
	Volatile  Volatility = 'v'
)

func (v Volatility) String() string {
	switch v {
	case Immutable:
		return "immutable"
	case Stable:
		return "stable"
	case Volatile:
		return "volatile"
	}
	return "unknown"
}

// FunctionCatalog answers the volatility of a function by schema and name.
// Overloads share one answer: the most volatile of them, so that the
// engine never needs argument types. Online, the introspected catalog
// implements it (user-defined functions included); offline, the table
// generated from a real PostgreSQL catalog does.
type FunctionCatalog interface {
	Volatility(schema, name string) (v Volatility, known bool)
}

// RelationCatalog is implemented by online catalogs that also know which
// relations exist. With it, an unqualified name resolves to the first
// schema of the search path that holds it, as in PostgreSQL; without it,
// every schema of the path is a candidate and all must be readable.
type RelationCatalog interface {
	HasRelation(schema, name string) bool
}

// ClassCatalog is implemented by online catalogs that know every
// relation name of the user schemas, of every kind pg_class holds. With
// it, a name read as a relation (in FROM, however spelled) resolves as
// PostgreSQL resolves it, to the first schema of the path holding any
// relation of that name, and is judged by what it is: a sequence, a
// partition, an index or a composite type is denied, and so is a name
// in a user schema the catalog does not list at all (it was created
// after the catalog was read, or is a temporary relation, which no
// client can create through pgmoat). pg_catalog and information_schema
// keep their own rules.
type ClassCatalog interface {
	RelationClass(schema, name string) (RelationClass, bool)
}

// UserCatalog is implemented by online catalogs that know the role they
// were read as, which is the role pgmoat's backends run as: the role a
// search path's "$user" entry stands for. PostgreSQL replaces "$user"
// (quoted or not) by the schema named like the current role, so a
// profile's search path ["$user", "public"] resolves a name to that
// schema first; without knowing the role, the engine would resolve it
// to public and judge another object than the server reads.
type UserCatalog interface {
	CatalogUser() string
}

// RelationClass is what a ClassCatalog knows of a relation name.
type RelationClass struct {
	Kind byte // pg_class.relkind: 'r', 'v', 'm', 'p', 'f', 'S', 'i', 'I', 'c', 't'
	// Partition is relispartition: read by its own name, a partition is
	// read without the row-level security policies of its parent.
	Partition bool
	// RLSChild is an inheritance child of a table with row-level
	// security: read by its own name, it too skips the parent's policies.
	RLSChild bool
	// RowSecurity is relrowsecurity: the planner's estimates for the
	// relation, which EXPLAIN shows, come from every identity's rows.
	RowSecurity bool
}

// FunctionMap is a FunctionCatalog held in a map keyed by "schema.name".
type FunctionMap map[string]Volatility

// Volatility implements FunctionCatalog.
func (m FunctionMap) Volatility(schema, name string) (Volatility, bool) {
	v, ok := m[schema+"."+name]
	return v, ok
}

// BuiltinFunctions returns the offline catalog: every function of
// pg_catalog and information_schema in the PostgreSQL release the table was
// generated from.
func BuiltinFunctions() FunctionMap {
	m := make(FunctionMap, 3500)
	for line := range strings.SplitSeq(generatedFunctions, "\n") {
		schema, rest, ok := strings.Cut(line, "\t")
		if !ok {
			continue
		}
		name, vol, ok := strings.Cut(rest, "\t")
		if !ok || len(vol) != 1 {
			continue
		}
		m[schema+"."+name] = Volatility(vol[0])
	}
	return m
}

// builtinRelations returns the set of relation names in pg_catalog, which
// PostgreSQL searches before the search path for unqualified names.
func builtinRelations() map[string]bool {
	m := make(map[string]bool, 200)
	for name := range strings.SplitSeq(generatedCatalogRelations, "\n") {
		if name != "" {
			m[name] = true
		}
	}
	return m
}

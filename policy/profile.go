package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Profile is a named set of rules. Zero-valued fields take the defaults
// listed beside them, so Profile{Name: "x"} behaves like the built-in
// readonly profile.
type Profile struct {
	Name             string
	StatementTimeout time.Duration // default 5s; enforced by the proxy, not by Decide
	MaxRows          int           // default 1000; SELECTs get LIMIT MaxRows at most
	// SlowThreshold is the duration from which a statement's plan is
	// captured for the slow log; default 500ms. Not used by Decide.
	SlowThreshold time.Duration
	// SearchPath resolves unqualified names; clients cannot change it.
	// Default {"public"}. pg_catalog is searched first unless listed, as
	// PostgreSQL does. "$user" stands, as in PostgreSQL, for the
	// schema named like the backend role (online: the catalog's role,
	// UserCatalog; offline no schema, so names are denied).
	SearchPath []string
	// AllowSchemas are readable schemas; default {"public"} (pgmoat, when
	// connected, fills in the schemas the backend role may use). pg_catalog and
	// information_schema are always readable (psql's \d family needs
	// them) except for the built-in sensitive relations.
	AllowSchemas []string
	// AllowRelations, when non-empty, limits reads in the allowed schemas
	// (other than pg_catalog and information_schema) to these
	// "schema.table" names.
	AllowRelations []string
	// DenyRelations are "schema.table" names never readable; wins over
	// every allow list. "*.table" denies the name in every schema (an
	// extension's view, wherever it was installed).
	DenyRelations []string
	// AllowFunctions are volatile functions allowed anyway, as "name"
	// (any schema) or "schema.name", added to a built-in list (random and
	// the relation-size functions psql's "+" commands call).
	AllowFunctions []string
	// DenyFunctions are denied whatever their volatility, as "name",
	// "schema.name" or a prefix ending in "*". Added to the built-in list.
	DenyFunctions []string
	// AllowMultiStatement lets one text carry several statements, each
	// judged on its own. Off in readonly: "COMMIT; DROP ..." is the classic
	// bypass.
	AllowMultiStatement bool
}

// Profile defaults.
const (
	DefaultProfile          = "readonly"
	DefaultStatementTimeout = 5 * time.Second
	DefaultMaxRows          = 1000
	DefaultSlowThreshold    = 500 * time.Millisecond
)

// builtinAllowFunctions are volatile functions harmless enough for every
// profile: random numbers, the size functions psql's "+" commands call and
// the read-only status functions of statusFunctions. A profile's
// DenyFunctions still wins over them.
func builtinAllowFunctions() []string {
	out := []string{
		"random",
		"pg_catalog.pg_table_size", "pg_catalog.pg_relation_size",
		"pg_catalog.pg_total_relation_size", "pg_catalog.pg_indexes_size",
		"pg_catalog.pg_database_size", "pg_catalog.pg_tablespace_size",
		// psql's \d lists "Referenced by" and partitions with these; they
		// only read the catalog.
		"pg_catalog.pg_partition_ancestors", "pg_catalog.pg_partition_tree",
	}
	for _, f := range statusFunctions() {
		out = append(out, "pg_catalog."+f.name)
	}
	return out
}

// ReadonlyProfile returns the built-in readonly profile with its defaults
// filled in.
func ReadonlyProfile() Profile {
	return withDefaults(Profile{Name: DefaultProfile})
}

func withDefaults(p Profile) Profile {
	if p.StatementTimeout == 0 {
		p.StatementTimeout = DefaultStatementTimeout
	}
	if p.MaxRows == 0 {
		p.MaxRows = DefaultMaxRows
	}
	if p.SlowThreshold == 0 {
		p.SlowThreshold = DefaultSlowThreshold
	}
	if len(p.SearchPath) == 0 {
		p.SearchPath = []string{"public"}
	}
	if len(p.AllowSchemas) == 0 {
		p.AllowSchemas = []string{"public"}
	}
	return p
}

// rules is a Profile compiled into lookup sets.
type rules struct {
	profile        Profile
	path           []string // search path with pg_catalog placed as PostgreSQL does
	userPath       bool     // path holds "$user" (walker.searchPath)
	schemas        map[string]bool
	allowRelations map[string]bool
	denyRelations  map[string]bool
	// denyAnySchema are relation names denied in every schema, from
	// "*.name" entries; checked on the relations a verdict reports.
	denyAnySchema []string
	allowFuncs    map[string]bool
	denyFuncs     nameSet
}

func compile(p Profile) (*rules, error) {
	p = withDefaults(p)
	if p.MaxRows < 0 {
		return nil, fmt.Errorf("policy: profile %q: max_rows %d is negative", p.Name, p.MaxRows)
	}
	if p.SlowThreshold < 0 {
		return nil, fmt.Errorf("policy: profile %q: slow_threshold %s is negative", p.Name, p.SlowThreshold)
	}
	r := &rules{
		profile:        p,
		path:           searchPath(p.SearchPath),
		userPath:       slices.Contains(p.SearchPath, userSchema),
		schemas:        setOf(p.AllowSchemas),
		allowRelations: setOf(p.AllowRelations),
		denyRelations:  setOf(append(sensitiveRelations(), p.DenyRelations...)),
		allowFuncs:     setOf(append(builtinAllowFunctions(), p.AllowFunctions...)),
		denyFuncs:      newNameSet(append(builtinDenyFunctions(), p.DenyFunctions...)),
	}
	r.schemas["pg_catalog"] = true
	r.schemas["information_schema"] = true
	for _, name := range p.AllowRelations {
		if !strings.Contains(name, ".") {
			return nil, fmt.Errorf("policy: profile %q: allowed relation %q must be schema-qualified", p.Name, name)
		}
	}
	for _, name := range p.DenyRelations {
		if !strings.Contains(name, ".") {
			return nil, fmt.Errorf("policy: profile %q: denied relation %q must be schema-qualified (or \"*.%s\" for every schema)", p.Name, name, name)
		}
	}
	for name := range r.denyRelations {
		if rel, ok := strings.CutPrefix(name, "*."); ok {
			r.denyAnySchema = append(r.denyAnySchema, rel)
		}
	}
	return r, nil
}

// deniedAnySchema denies when one of rels, the "schema.name" relations a
// statement reads, has a name denied in every schema. It runs on the
// walker's finished list, so it sees every relation however it was named
// (FROM, a 'name'::regclass literal, an unqualified name resolved on the
// search path). A relation whose own name holds a dot and ends in a
// denied name is denied too, which fails closed.
func (r *rules) deniedAnySchema(rels []RelationName) *denial {
	for _, rel := range rels {
		full := rel.String()
		for _, name := range r.denyAnySchema {
			if strings.HasSuffix(full, "."+name) {
				schema := strings.TrimSuffix(full, "."+name)
				return deny(RuleRelation, fmt.Sprintf("relation %s is not readable (denied in every schema)", quoteQualified(schema, name)))
			}
		}
	}
	return nil
}

// searchPath puts pg_catalog first unless the profile placed it
// explicitly, which is how PostgreSQL resolves unqualified names.
func searchPath(sp []string) []string {
	for _, s := range sp {
		if s == "pg_catalog" {
			return append([]string{}, sp...)
		}
	}
	return append([]string{"pg_catalog"}, sp...)
}

func setOf(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// nameSet matches exact names and prefixes written as "prefix*".
type nameSet struct {
	exact    map[string]bool
	prefixes []string
}

func newNameSet(names []string) nameSet {
	s := nameSet{exact: map[string]bool{}}
	for _, n := range names {
		if p, ok := strings.CutSuffix(n, "*"); ok {
			s.prefixes = append(s.prefixes, p)
			continue
		}
		s.exact[n] = true
	}
	return s
}

func (s nameSet) has(name string) bool {
	if s.exact[name] {
		return true
	}
	for _, p := range s.prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// userSchema is the search path entry PostgreSQL replaces by the name
// of the current role.
const userSchema = "$user"

// searchPath is the profile's search path as the server sees it: a
// "$user" entry is the schema named like the catalog's role (UserCatalog),
// which is the role the backends run as. Without a known role the entry
// stays "$user", which no catalog lists and no profile may read, so a
// name that could resolve there is denied rather than resolved past it.
func (w *walker) searchPath() []string {
	if !w.r.userPath {
		return w.r.path
	}
	uc, ok := w.fc.(UserCatalog)
	if !ok || uc.CatalogUser() == "" {
		return w.r.path
	}
	out := make([]string, 0, len(w.r.path))
	for _, s := range w.r.path {
		if s == userSchema {
			s = uc.CatalogUser()
			if slices.Contains(out, s) {
				continue // PostgreSQL lists a schema once
			}
		}
		out = append(out, s)
	}
	return out
}

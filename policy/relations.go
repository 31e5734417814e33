package policy

import (
	"fmt"
	"slices"
	"strings"
)

// rangeVar checks a relation reference and walks its alias.
func (w *walker) rangeVar(m *msgInfo, b []byte, depth int) error {
	catalog, _ := findBytes(b, w.n.rvCatalog)
	schema, _ := findBytes(b, w.n.rvSchema)
	name, _ := findBytes(b, w.n.rvRel)
	if len(catalog) != 0 {
		return deny(RuleRelation, fmt.Sprintf("cross-database reference %s.%s.%s", catalog, schema, name))
	}
	if len(schema) == 0 && w.inCTE(string(name)) {
		return w.children(m, b, depth)
	}
	if err := w.readRelation(string(schema), string(name)); err != nil {
		return err
	}
	return w.children(m, b, depth)
}

// readRelation checks a relation read by name (a FROM item, however
// spelled). With a ClassCatalog the name resolves as the server resolves
// it and is judged by its kind (relationClass); without one, as
// relation does.
func (w *walker) readRelation(schema, name string) error {
	cc, ok := w.fc.(ClassCatalog)
	if !ok {
		return w.relation(schema, name)
	}
	if schema == "" {
		s, found := w.resolveClass(cc, name)
		if !found {
			return deny(RuleRelationUnknown, fmt.Sprintf("relation %s is in no schema of the search path (%s) the catalog lists", quoteIdent(name), strings.Join(w.searchPath(), ", ")))
		}
		schema = s
	}
	if err := w.qualifiedRelation(schema, name); err != nil {
		return err
	}
	if isSystemSchema(schema) {
		return nil
	}
	c, found := cc.RelationClass(schema, name)
	if !found {
		return deny(RuleRelationUnknown, fmt.Sprintf("relation %s is not in the catalog", quoteQualified(schema, name)))
	}
	if err := relationClass(schema, name, c); err != nil {
		return err
	}
	if w.explaining {
		return explainedClass(schema, name, c)
	}
	return nil
}

// explainedFunction judges, online, a function an EXPLAIN calls: the
// planner inlines a SQL function's body, and estimates the conditions
// on the relations it reads as if the statement named them
// (explainedClass). pg_catalog's functions read no user relation. An
// unqualified name is pg_catalog's only if no other schema of the path
// has a function of that name: PostgreSQL picks among all of them by the
// argument types, so public.generate_series(text) is what
// generate_series('x'::text) calls, though pg_catalog comes first.
func (w *walker) explainedFunction(schema, fn string, qualified bool) error {
	if _, online := w.fc.(ClassCatalog); !w.explaining || !online {
		return nil
	}
	if !isSystemSchema(schema) {
		return deny(RuleExplainRowSecurity, fmt.Sprintf("function %s is not pg_catalog's: the planner may inline its body, whose relations may have row-level security, and EXPLAIN's estimates come from every identity's rows; run the SELECT itself", displayFunc(schema, fn)))
	}
	if qualified {
		return nil
	}
	for _, s := range w.searchPath() {
		if _, ok := w.fc.Volatility(s, fn); ok && !isSystemSchema(s) {
			return deny(RuleExplainRowSecurity, fmt.Sprintf("function %s is also in schema %s, which PostgreSQL calls for the argument types it fits: the planner may inline its body, whose relations may have row-level security, and EXPLAIN's estimates come from every identity's rows; run the SELECT itself", quoteIdent(fn), quoteIdent(s)))
		}
	}
	return nil
}

// explainedClass judges a relation an EXPLAIN reads. The planner
// estimates a condition from the relation's statistics, the most common
// values and histogram of every row (for leakproof operators such as =
// and <, also under row-level security), and EXPLAIN shows the estimate:
// for a relation with row-level security that tells whether, and how
// often, a value occurs in other identities' rows, as pg_stats would. A
// view may read such a relation under the reader's policies.
func explainedClass(schema, name string, c RelationClass) error {
	full := quoteQualified(schema, name)
	switch {
	case c.RowSecurity:
		return deny(RuleExplainRowSecurity, fmt.Sprintf("%s has row-level security: EXPLAIN's estimates come from every identity's rows; run the SELECT itself", full))
	case c.Kind == 'v':
		return deny(RuleExplainRowSecurity, fmt.Sprintf("%s is a view, which may read relations with row-level security: EXPLAIN's estimates come from every identity's rows; run the SELECT itself", full))
	}
	return nil
}

// resolveClass finds the schema of the path PostgreSQL takes an
// unqualified relation name from: the first holding a relation of that
// name of any kind (pg_catalog's from the built-in list).
func (w *walker) resolveClass(cc ClassCatalog, name string) (string, bool) {
	for _, s := range w.searchPath() {
		if s == "pg_catalog" {
			if w.catRels[name] {
				return s, true
			}
			continue
		}
		if s == userSchema {
			return s, true // role unknown: the schema rule denies it
		}
		if _, ok := cc.RelationClass(s, name); ok {
			return s, true
		}
	}
	return "", false
}

// relationClass judges what kind of relation a read names. A sequence's
// one row counts the rows every identity created (why pg_sequences is
// denied); a partition read by its own name skips the policies of its
// parent, and so does an inheritance child of a table with row-level
// security; indexes, composite types and TOAST tables are no relations to
// read.
func relationClass(schema, name string, c RelationClass) error {
	full := quoteQualified(schema, name)
	switch {
	case c.Kind == 'S':
		return deny(RuleSequence, fmt.Sprintf("%s is a sequence: its position counts rows past row-level security", full))
	case c.Partition:
		return deny(RulePartition, fmt.Sprintf("%s is a partition, read without its parent's row-level security; read the partitioned table", full))
	case c.RLSChild:
		return deny(RulePartition, fmt.Sprintf("%s inherits from a table with row-level security and is read without its policies; read the parent", full))
	}
	switch c.Kind {
	case 'r', 'v', 'm', 'p', 'f':
		return nil
	case 'i', 'I':
		return deny(RuleRelationKind, fmt.Sprintf("%s is an index, not a relation to read", full))
	case 'c':
		return deny(RuleRelationKind, fmt.Sprintf("%s is a composite type, not a relation to read", full))
	}
	return deny(RuleRelationKind, fmt.Sprintf("%s is of relation kind %q, which is not read", full, string(c.Kind)))
}

// relation checks one reference, qualified or not. An unqualified name is
// resolved on the profile's fixed search path; when the engine cannot tell
// which schema of the path holds it, every candidate must be readable.
func (w *walker) relation(schema, name string) error {
	if schema != "" {
		return w.qualifiedRelation(schema, name)
	}
	if rc, ok := w.fc.(RelationCatalog); ok {
		for _, s := range w.searchPath() {
			if (s == "pg_catalog" && w.catRels[name]) || rc.HasRelation(s, name) {
				return w.qualifiedRelation(s, name)
			}
		}
	}
	for _, s := range w.searchPath() {
		if s == "pg_catalog" {
			if w.catRels[name] {
				return w.qualifiedRelation(s, name)
			}
			continue
		}
		if err := w.qualifiedRelation(s, name); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) qualifiedRelation(schema, name string) error {
	full := schema + "." + name
	switch {
	case w.r.denyRelations[full]:
		return deny(RuleRelation, fmt.Sprintf("relation %s is not readable", quoteQualified(schema, name)))
	case !w.r.schemas[schema]:
		return deny(RuleRelation, fmt.Sprintf("schema %s is not readable (relation %s)", quoteIdent(schema), quoteQualified(schema, name)))
	case len(w.r.allowRelations) > 0 && !isSystemSchema(schema) && !w.r.allowRelations[full]:
		return deny(RuleRelation, fmt.Sprintf("relation %s is not in the allowed list", quoteQualified(schema, name)))
	}
	if n := (RelationName{Schema: schema, Name: name}); !slices.Contains(w.rels, n) {
		w.rels = append(w.rels, n)
	}
	return nil
}

func isSystemSchema(s string) bool { return s == "pg_catalog" || s == "information_schema" }

// quoteIdent quotes an identifier for messages the way PostgreSQL would
// print it, so odd names in a reason cannot be misread.
func quoteIdent(s string) string {
	plain := s != ""
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r == '_' || (i > 0 && (r >= '0' && r <= '9' || r == '$'))) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return QuoteIdent(s)
}

func quoteQualified(schema, name string) string {
	return quoteIdent(schema) + "." + quoteIdent(name)
}

// splitQualified parses the text of a reg* literal such as
// 'public."Orders"' into its parts, folding unquoted parts to lower case as
// PostgreSQL does. ok is false for anything it cannot read exactly.
func splitQualified(s string) (parts []string, ok bool) {
	s = strings.TrimSpace(s)
	for {
		var part string
		if strings.HasPrefix(s, `"`) {
			end := 1
			var b strings.Builder
			for {
				i := strings.IndexByte(s[end:], '"')
				if i < 0 {
					return nil, false
				}
				b.WriteString(s[end : end+i])
				end += i + 1
				if strings.HasPrefix(s[end:], `"`) {
					b.WriteByte('"')
					end++
					continue
				}
				break
			}
			part, s = b.String(), s[end:]
		} else {
			i := strings.IndexAny(s, `."(`)
			if i < 0 {
				i = len(s)
			}
			part, s = asciiLower(strings.TrimSpace(s[:i])), s[i:]
			if part == "" || strings.ContainsAny(part, " \t\r\n") {
				return nil, false
			}
		}
		parts = append(parts, part)
		s = strings.TrimSpace(s)
		if s == "" || strings.HasPrefix(s, "(") {
			return parts, len(parts) <= 3
		}
		if !strings.HasPrefix(s, ".") {
			return nil, false
		}
		s = strings.TrimSpace(s[1:])
	}
}

// asciiLower folds A-Z only, as PostgreSQL folds unquoted identifiers.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

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
	if err := w.relation(string(schema), string(name)); err != nil {
		return err
	}
	return w.children(m, b, depth)
}

// relation checks one reference, qualified or not. An unqualified name is
// resolved on the profile's fixed search path; when the engine cannot tell
// which schema of the path holds it, every candidate must be readable.
func (w *walker) relation(schema, name string) error {
	if schema != "" {
		return w.qualifiedRelation(schema, name)
	}
	if rc, ok := w.fc.(RelationCatalog); ok {
		for _, s := range w.r.path {
			if (s == "pg_catalog" && w.catRels[name]) || rc.HasRelation(s, name) {
				return w.qualifiedRelation(s, name)
			}
		}
	}
	for _, s := range w.r.path {
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
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
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

package policy

import (
	"fmt"
	"regexp"
	"strings"
)

// Every relation has a row type of the same name (and an array type,
// _name), so a type name in a string ('t'::regtype, to_regtype('t'),
// has_type_privilege('t', 'usage'), '{t}'::regtype[]) can name a
// relation: it is judged as that relation. The names of pg_catalog's
// other types (builtinTypes) and the spellings of SQL's keyword types
// pass.

// judgeTypeName judges the text of a type name the server will look up.
// With reg set, a string of digits is an OID.
func (w *walker) judgeTypeName(lit string, reg bool) error {
	s := strings.TrimSpace(lit)
	if reg && isDigits(s) {
		return nil
	}
	s = typeDecorations.ReplaceAllString(s, "")
	if strings.ContainsAny(s, "[]()") {
		return deny(RuleNode, fmt.Sprintf("cannot read the type name in %q", lit))
	}
	if f := strings.Fields(strings.ToLower(s)); len(f) > 1 {
		if keywordType(f) {
			return nil
		}
		if !strings.Contains(s, "\"") {
			return deny(RuleNode, fmt.Sprintf("cannot read the type name in %q", lit))
		}
	}
	parts, ok := splitQualified(s)
	if !ok {
		return deny(RuleNode, fmt.Sprintf("cannot read the type name in %q", lit))
	}
	parts, err := encodingOf(w.fc).cutQualified(parts)
	if err != nil {
		return err
	}
	return byQualifiedName(parts, lit, w.rowType)
}

// typeDecorations are the type modifiers and array bounds a type name
// may carry: varchar(10), numeric(10, 2), int4[], int4[3][].
var typeDecorations = regexp.MustCompile(`\s*(\(\s*[0-9]+(\s*,\s*[0-9]+)?\s*\)|\[\s*[0-9]*\s*\])`)

// keywordType reports whether the words spell one of SQL's multi-word
// type names, which are all pg_catalog types.
func keywordType(words []string) bool {
	switch strings.Join(words, " ") {
	case "double precision", "character varying", "char varying", "national character", "national char",
		"national character varying", "national char varying", "nchar varying", "bit varying",
		"timestamp with time zone", "timestamp without time zone", "time with time zone", "time without time zone":
		return true
	}
	return words[0] == "interval" // interval year to month, ...
}

// rowType judges a type name: a pg_catalog type that is no relation's
// row type passes; any other name is judged as the relation whose row
// type (or, for _name, array type) it may be. With an online catalog, an
// unqualified name no relation on the path has is a type of its own
// (a domain, an enum, a range) and passes. A type reads no rows: the
// relation is judged but not reported among those the statement reads
// (offline, an enum would be reported as a relation), so the names
// denied in every schema, which are checked on that list, are checked
// here.
func (w *walker) rowType(schema, name string) error {
	read := len(w.rels)
	defer func() { w.rels = w.rels[:read] }()
	if err := w.deniedType(nil, name); err != nil {
		return err
	}
	for _, n := range typeCandidates(name) {
		if err := w.rowTypeOf(schema, n); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) rowTypeOf(schema, name string) error {
	if (schema == "" || schema == "pg_catalog") && !w.catRels[name] && builtinTypes[name] {
		return nil
	}
	if schema == "pg_catalog" {
		if !w.catRels[name] {
			return nil // no such type: the server fails the lookup
		}
		return w.qualifiedRelation(schema, name)
	}
	if rc, ok := w.fc.(RelationCatalog); ok && schema == "" && !w.catRels[name] {
		for _, s := range w.searchPath() {
			if s != "pg_catalog" && rc.HasRelation(s, name) {
				return w.qualifiedRelation(s, name)
			}
		}
		return w.deniedType(w.searchPath(), name)
	}
	if rc, ok := w.fc.(RelationCatalog); ok && schema != "" && !rc.HasRelation(schema, name) {
		return w.deniedType([]string{schema}, name)
	}
	return w.relation(schema, name)
}

// typeCandidates are the relations a type name may stand for: the name
// itself and, for an array type's name (_t), its element's.
func typeCandidates(name string) []string {
	if rest, ok := strings.CutPrefix(name, "_"); ok && rest != "" {
		return []string{name, rest}
	}
	return []string{name}
}

// builtinTypes are the names of PostgreSQL 15's pg_catalog types that are
// no relation's row type (their array types are these names with a
// leading underscore), and the keyword spellings the grammar maps to
// them. TestBuiltinTypesCurrent checks the list against a real server.
var builtinTypes = func() map[string]bool {
	m := map[string]bool{}
	for _, t := range strings.Fields(`
	aclitem any anyarray anycompatible anycompatiblearray anycompatiblemultirange anycompatiblenonarray 
	anycompatiblerange anyelement anyenum anymultirange anynonarray anyrange bit bool box bpchar bytea 
	char cid cidr circle cstring date datemultirange daterange event_trigger fdw_handler float4 float8 
	gtsvector index_am_handler inet int2 int2vector int4 int4multirange int4range int8 int8multirange 
	int8range internal interval json jsonb jsonpath language_handler line lseg macaddr macaddr8 money 
	name numeric nummultirange numrange oid oidvector path pg_brin_bloom_summary 
	pg_brin_minmax_multi_summary pg_ddl_command pg_dependencies pg_lsn pg_mcv_list pg_ndistinct 
	pg_node_tree pg_snapshot point polygon record refcursor regclass regcollation regconfig 
	regdictionary regnamespace regoper regoperator regproc regprocedure regrole regtype 
	table_am_handler text tid time timestamp timestamptz timetz trigger tsm_handler tsmultirange 
	tsquery tsrange tstzmultirange tstzrange tsvector txid_snapshot unknown uuid varbit varchar void 
	xid xid8 xml
		int integer smallint bigint real float decimal dec boolean character char varchar nchar
		bit time timestamp interval`) {
		m[t], m["_"+t] = true, true
	}
	return m
}()

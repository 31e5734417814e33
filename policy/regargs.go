package policy

import (
	"fmt"
	"strings"
)

// Besides 'name'::regclass, PostgreSQL looks a name up in the catalog when
// a string reaches a function parameter of type regclass, regproc or
// regprocedure (the unknown literal is coerced by the type's input
// function), when a function takes the name as text (pg_get_viewdef(text),
// the has_*_privilege family), and when any computed value is cast to one
// of those types (an explicit cast converts through text). The first two
// are judged here, the third in regCast.

// nameArg is one argument that names a relation or function: pos is its
// index, kind "relation" or "function", reg whether the parameter is of a
// reg* type (so that a string of digits is an OID, not a name).
type nameArg struct {
	pos  int
	kind string
	reg  bool
}

// nameArgs maps "function/argument count" to the arguments of that
// pg_catalog overload that name a relation or function. The reg* entries
// are every pg_catalog function of PostgreSQL 15 with a regclass, regproc
// or regprocedure parameter, or a text parameter converted to one (the
// regclass(text) cast and the to_reg* functions); the text entries are
// the functions whose text argument is looked up as a relation or
// function name. Where overloads of one count differ in the type of that
// argument (oid or text), a string constant resolves to the text one.
var nameArgs = func() map[string][]nameArg {
	m := map[string][]nameArg{}
	add := func(fn string, nargs int, args ...nameArg) {
		m[fmt.Sprintf("%s/%d", fn, nargs)] = args
	}
	rel := func(pos int) nameArg { return nameArg{pos: pos, kind: "relation", reg: true} }
	relText := func(pos int) nameArg { return nameArg{pos: pos, kind: "relation"} }
	fnText := func(pos int) nameArg { return nameArg{pos: pos, kind: "function"} }
	for fn, counts := range map[string][]int{
		"pg_relation_size": {1, 2}, "pg_table_size": {1}, "pg_total_relation_size": {1},
		"pg_indexes_size": {1}, "pg_relation_filenode": {1}, "pg_relation_filepath": {1},
		"pg_partition_tree": {1}, "pg_partition_ancestors": {1}, "pg_partition_root": {1},
		"pg_get_replica_identity_index": {1}, "pg_relation_is_publishable": {1},
		"pg_relation_is_updatable": {2}, "pg_column_is_updatable": {3},
		"pg_index_has_property": {2}, "pg_index_column_has_property": {3},
		"pg_sequence_last_value": {1}, "nextval": {1}, "currval": {1}, "setval": {2, 3},
		"brin_summarize_new_values": {1}, "brin_summarize_range": {2}, "brin_desummarize_range": {2},
		"gin_clean_pending_list": {1}, "pg_extension_config_dump": {2},
		"table_to_xml": {4}, "table_to_xmlschema": {4}, "table_to_xml_and_xmlschema": {4},
		"regclass": {1}, "regclassin": {1}, "to_regclass": {1},
	} {
		for _, n := range counts {
			add(fn, n, rel(0))
		}
	}
	add("pg_nextoid", 3, rel(0), rel(2))
	for _, fn := range []string{"regprocin", "regprocedurein", "to_regproc", "to_regprocedure"} {
		add(fn, 1, nameArg{pos: 0, kind: "function", reg: true})
	}
	add("pg_get_viewdef", 1, relText(0))
	add("pg_get_viewdef", 2, relText(0))
	add("pg_get_serial_sequence", 2, relText(0))
	for _, fn := range []string{"has_table_privilege", "has_sequence_privilege", "has_any_column_privilege"} {
		add(fn, 2, relText(0))
		add(fn, 3, relText(1))
	}
	add("has_column_privilege", 3, relText(0))
	add("has_column_privilege", 4, relText(1))
	add("has_function_privilege", 2, fnText(0))
	add("has_function_privilege", 3, fnText(1))
	return m
}()

// takesName reports whether some overload of fn has an argument in
// nameArgs.
func takesName(fn string) bool {
	for n := 1; n <= 4; n++ {
		if _, ok := nameArgs[fmt.Sprintf("%s/%d", fn, n)]; ok {
			return true
		}
	}
	return false
}

// nameArgsOf returns the name-taking arguments of a call of name with
// nargs arguments, when the call resolves to the pg_catalog function.
func (w *walker) nameArgsOf(name []string, nargs int) []nameArg {
	fn := name[len(name)-1]
	args, ok := nameArgs[fmt.Sprintf("%s/%d", fn, nargs)]
	if !ok {
		return nil
	}
	if len(name) == 2 && name[0] != "pg_catalog" {
		return nil
	}
	if schema, _, known := w.resolveFunction("", fn); len(name) == 1 && known && schema != "pg_catalog" {
		return nil
	}
	return args
}

// callNameArgs judges the arguments of a call that name a relation or
// function. A named argument to such a function is denied: the engine
// would have to know the parameter names to place it.
func (w *walker) callNameArgs(name []string, b []byte) error {
	if !takesName(name[len(name)-1]) {
		return nil
	}
	w.refuseSharing("function " + strings.Join(name, ".") + " takes a name as its argument")
	items := allBytes(b, w.n.fnArgs)
	for _, item := range items {
		if m, _, err := w.concrete(item); err == nil && m.name == "NamedArgExpr" {
			return deny(RuleFunction, fmt.Sprintf("named arguments to %s, which takes a relation or function name, are not allowed", displayFunc("", name[len(name)-1])))
		}
	}
	for _, a := range w.nameArgsOf(name, len(items)) {
		if err := w.nameValue(a, items[a.pos]); err != nil {
			return err
		}
	}
	return nil
}

// fieldNameArg judges (value).fn, which is fn(value), when fn takes a
// name as its only argument.
func (w *walker) fieldNameArg(fn string, arg []byte) error {
	if !takesName(fn) || arg == nil {
		return nil
	}
	w.refuseSharing("function " + fn + " takes a name as its argument")
	for _, a := range w.nameArgsOf([]string{fn}, 1) {
		if err := w.nameValue(a, arg); err != nil {
			return err
		}
	}
	return nil
}

// nameValue judges one argument that names an object. A string constant,
// bare or cast to a string type, is judged as the reference it spells; a
// computed string cast to a string type is looked up only at run time and
// denied. Other arguments (OIDs, columns, reg* casts, which typeCast
// judges) pass: the catalogs they read from are readable anyway.
func (w *walker) nameValue(a nameArg, node []byte) error {
	m, inner, err := w.concrete(node)
	if err != nil {
		return err
	}
	if m.name == "TypeCast" {
		names, err := w.castTypeName(inner)
		if err != nil || len(names) == 0 || !isStringType(names[len(names)-1]) {
			return err
		}
		arg, ok := findBytes(inner, w.n.castArg)
		if !ok {
			return nil
		}
		if m, inner, err = w.concrete(arg); err != nil {
			return err
		}
		if m.name != "A_Const" {
			return computedName(a.kind, "a computed string passed as a "+a.kind+" name")
		}
		a.reg = false // 'digits'::text is a name, not an OID
	}
	if m.name != "A_Const" {
		return nil
	}
	sv, ok := findBytes(inner, w.n.constSval)
	if !ok {
		return nil // a number or NULL
	}
	lit, _ := findBytes(sv, w.n.strVal)
	return w.judgeName(a.kind, string(lit), a.reg)
}

// computedName denies a name the server resolves from a value computed
// at run time.
func computedName(kind, what string) error {
	rule := RuleRelation
	if kind == "function" {
		rule = RuleFunction
	}
	return deny(rule, fmt.Sprintf("%s is looked up in the catalog at run time; write the name as a constant", what))
}

// judgeName judges the text of a name as the relation or function it
// spells. With reg set, a string of digits is an OID (the reg* input
// functions read it so) and names nothing the engine can check.
func (w *walker) judgeName(kind, lit string, reg bool) error {
	if reg && isDigits(strings.TrimSpace(lit)) {
		return nil
	}
	parts, ok := splitQualified(lit)
	if !ok {
		return deny(RuleNode, fmt.Sprintf("cannot read the %s name in %q", kind, lit))
	}
	if kind == "function" {
		return w.function(parts)
	}
	switch len(parts) {
	case 1:
		// No CTE check: a string is looked up in the catalog, never
		// among CTEs.
		return w.relation("", parts[0])
	case 2:
		return w.relation(parts[0], parts[1])
	}
	return deny(RuleRelation, fmt.Sprintf("cross-database reference %q", lit))
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isStringType reports whether a cast to typ keeps a string a string, so
// that the value still reaches the name lookup as text.
func isStringType(typ string) bool {
	switch typ {
	case "text", "varchar", "bpchar", "name", "unknown", "cstring", "char":
		return true
	}
	return false
}

// castTypeName returns the type name of a TypeCast.
func (w *walker) castTypeName(b []byte) ([]string, error) {
	tn, ok := findBytes(b, w.n.castType)
	if !ok {
		return nil, nil
	}
	return w.nameList(tn, w.n.typeNames)
}

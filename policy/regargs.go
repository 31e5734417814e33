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
	// The output and send functions take a value of the type: a string
	// literal reaches them through the type's input function.
	add("regclassout", 1, rel(0))
	add("regclasssend", 1, rel(0))
	for _, fn := range []string{"regprocin", "regprocedurein", "to_regproc", "to_regprocedure",
		"regprocout", "regprocsend", "regprocedureout", "regproceduresend"} {
		add(fn, 1, nameArg{pos: 0, kind: "function", reg: true})
	}
	typeText := func(pos int) nameArg { return nameArg{pos: pos, kind: "type"} }
	add("to_regtype", 1, typeText(0))
	add("regtypein", 1, typeText(0))
	add("regtypeout", 1, nameArg{pos: 0, kind: "type", reg: true})
	add("regtypesend", 1, nameArg{pos: 0, kind: "type", reg: true})
	add("has_type_privilege", 2, typeText(0))
	add("has_type_privilege", 3, typeText(1))
	add("pg_get_viewdef", 1, relText(0))
	add("pg_get_viewdef", 2, relText(0))
	add("pg_get_serial_sequence", 2, relText(0))
	add("row_security_active", 1, relText(0))
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
// nargs arguments, when the call resolves to the pg_catalog function;
// pgCatalog reports that it does, so that a count nameArgs does not
// model (a default argument left out, a VARIADIC spread) is refused.
func (w *walker) nameArgsOf(name []string, nargs int) (args []nameArg, pgCatalog bool) {
	fn := name[len(name)-1]
	if len(name) == 2 && name[0] != "pg_catalog" {
		return nil, false
	}
	if schema, _, known := w.resolveFunction(fn); len(name) == 1 && known && schema != "pg_catalog" {
		return nil, false
	}
	return nameArgs[fmt.Sprintf("%s/%d", fn, nargs)], true
}

// callNameArgs judges the arguments of a call that name a relation or
// function. A named argument to such a function is denied: the engine
// would have to know the parameter names to place it; so is VARIADIC and
// a number of arguments no overload in nameArgs has (no argument at all
// carries no name).
func (w *walker) callNameArgs(name []string, b []byte) error {
	fn := name[len(name)-1]
	if !takesName(fn) {
		return nil
	}
	w.refuseSharing("function " + strings.Join(name, ".") + " takes a name as its argument")
	items := allBytes(b, w.n.fnArgs)
	for _, item := range items {
		if m, _, err := w.concrete(item); err == nil && m.name == "NamedArgExpr" {
			return deny(RuleFunction, fmt.Sprintf("named arguments to %s, which takes a relation or function name, are not allowed", displayFunc("", fn)))
		}
	}
	args, pgCatalog := w.nameArgsOf(name, len(items))
	if !pgCatalog {
		return nil
	}
	if findVarint(b, w.n.fnVariadic) != 0 {
		return deny(RuleFunction, fmt.Sprintf("VARIADIC arguments to %s, which takes a relation or function name, are not allowed", displayFunc("", fn)))
	}
	if _, ok := nameArgs[fmt.Sprintf("%s/%d", fn, len(items))]; !ok && len(items) > 0 {
		return deny(RuleFunction, fmt.Sprintf("%s, which takes a relation or function name, is called with %d arguments, which pgmoat does not know it to take", displayFunc("", fn), len(items)))
	}
	for _, a := range args {
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
	args, _ := w.nameArgsOf([]string{fn}, 1)
	for _, a := range args {
		if err := w.nameValue(a, arg); err != nil {
			return err
		}
	}
	return nil
}

// rowNameArg judges t.fn and t.col.fn, which are fn(t) and fn(t.col),
// when fn takes a name as its only argument: the value may be a text
// column, or the alias of a FROM function returning text (whose whole-row
// value is that text), looked up at run time.
func (w *walker) rowNameArg(fn string) error {
	if !takesName(fn) {
		return nil
	}
	w.refuseSharing("function " + fn + " takes a name as its argument")
	if args, _ := w.nameArgsOf([]string{fn}, 1); len(args) == 0 {
		return nil
	}
	return computedName(nameArgs[fn+"/1"][0].kind, fmt.Sprintf("a column or row passed as a name by field selection (t.%s)", fn))
}

// nameValue judges one argument that names an object. A string constant,
// bare or cast to a string type, is judged as the reference it spells.
// What certainly reaches the function as a number passes: a number or
// NULL, a cast to an OID, integer or reg* type (a reg* cast is judged by
// typeCast), a catalog OID column (oidColumns), a to_reg* call (judged
// itself). Anything else may be a string computed at run time (a text
// column, a parameter, a concatenation, a function's result, a
// subquery, a domain over text: text reaches a regclass parameter by an
// implicit cast) and is denied.
func (w *walker) nameValue(a nameArg, node []byte) error {
	m, inner, err := w.concrete(node)
	if err != nil {
		return err
	}
	switch m.name {
	case "TypeCast":
		names, err := w.castTypeName(inner)
		if err != nil || len(names) == 0 {
			return err
		}
		typ := names[len(names)-1]
		if len(names) == 2 && names[0] != "pg_catalog" {
			break
		}
		if keepsOID("", typ) || isRegType(typ) {
			return nil
		}
		if !isStringType(typ) {
			break
		}
		arg, ok := findBytes(inner, w.n.castArg)
		if !ok {
			break
		}
		if m, inner, err = w.concrete(arg); err != nil {
			return err
		}
		if m.name != "A_Const" {
			break
		}
		a.reg = false // 'digits'::text is a name, not an OID
		fallthrough
	case "A_Const":
		lit, ok := w.constString(inner)
		if !ok {
			return nil // a number or NULL
		}
		return w.judgeName(a.kind, string(lit), a.reg)
	case "ColumnRef":
		if w.oidColumn(inner) {
			return nil
		}
	case "FuncCall":
		if w.regLookupCall(inner) {
			return nil
		}
	}
	return computedName(a.kind, "a value that may be a string computed at run time, passed as a "+a.kind+" name,")
}

// regLookupCall reports whether a call is one of the pg_catalog to_reg*
// functions, which return an OID (their own argument is judged by
// callNameArgs).
func (w *walker) regLookupCall(b []byte) bool {
	name, err := w.nameList(b, w.n.fnName)
	if err != nil || len(name) == 0 || (len(name) == 2 && name[0] != "pg_catalog") || len(name) > 2 {
		return false
	}
	switch name[len(name)-1] {
	case "to_regclass", "to_regproc", "to_regprocedure", "to_regtype":
		return true
	}
	return false
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
	if kind == "type" {
		return w.judgeTypeName(lit, reg)
	}
	parts, ok := splitQualified(lit)
	if !ok {
		return deny(RuleNode, fmt.Sprintf("cannot read the %s name in %q", kind, lit))
	}
	parts, err := encodingOf(w.fc).cutQualified(parts)
	if err != nil {
		return err
	}
	if kind == "function" {
		return w.function(parts)
	}
	// No CTE check: a string is looked up in the catalog, never among
	// CTEs.
	return byQualifiedName(parts, lit, w.relation)
}

// byQualifiedName calls judge with the schema ("" when unqualified) and
// name of parts, a name split from the string lit; a name of three parts
// reaches into another database and is denied.
func byQualifiedName(parts []string, lit string, judge func(schema, name string) error) error {
	switch len(parts) {
	case 1:
		return judge("", parts[0])
	case 2:
		return judge(parts[0], parts[1])
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

package policy

// Where PostgreSQL gives several expressions one type (select_common_type:
// COALESCE, GREATEST and LEAST, the results of CASE, the elements of
// ARRAY[...], the columns of VALUES and of the arms of UNION, INTERSECT
// and EXCEPT, the polymorphic arguments of the array functions) or makes
// an untyped literal the type of the array beside it (the array
// operators), a string literal next to a value of a reg* type becomes a
// value of that type: its input function looks the string up as a name,
// as in 'name'::regclass. Such a literal is judged as the name it spells
// (sibling), a $n parameter there (whose type is taken the same way) is
// denied. Scalar comparisons (=, <>, IN, BETWEEN, IS DISTINCT FROM,
// NULLIF, simple CASE, row comparisons) are not among them: the reg*
// types have no operators of their own, so the literal becomes an oid
// and a name in it fails.
//
// The engine knows a value is of a reg* type when it is a cast to one, a
// call of a pg_catalog function that returns one (regReturning), a
// column of one of PostgreSQL 15's catalog columns of type regproc
// (regprocColumns), or built of those by ARRAY, COALESCE, GREATEST,
// LEAST or CASE. A column of a user table of a reg* type is not known.

// commonNums are the field numbers the common-type judgment reads.
type commonNums struct {
	coalesce, minmax, caseExpr, caseWhen, arrayExpr *msgInfo
	coalesceArgs, caseArgs, caseDefault, whenResult int32
	selValues, selTargets, selRarg, listItems       int32
	resVal, exprKind, exprLeft, exprRight           int32
	subType, subSelect                              int32
	opKind, setNone, exprSub, arraySub              uint64
}

func newCommonNums(l *numLookup) commonNums {
	return commonNums{
		coalesce: l.s.byName["CoalesceExpr"], minmax: l.s.byName["MinMaxExpr"], caseExpr: l.s.byName["CaseExpr"],
		caseWhen: l.s.byName["CaseWhen"], arrayExpr: l.s.byName["A_ArrayExpr"],
		coalesceArgs: l.get("CoalesceExpr", "args"), caseArgs: l.get("CaseExpr", "args"),
		caseDefault: l.get("CaseExpr", "defresult"), whenResult: l.get("CaseWhen", "result"),
		selValues: l.get("SelectStmt", "values_lists"), selTargets: l.get("SelectStmt", "target_list"),
		selRarg: l.get("SelectStmt", "rarg"), listItems: l.get("List", "items"),
		resVal: l.get("ResTarget", "val"), exprKind: l.get("A_Expr", "kind"),
		exprLeft: l.get("A_Expr", "lexpr"), exprRight: l.get("A_Expr", "rexpr"),
		subType: l.get("SubLink", "sub_link_type"), subSelect: l.get("SubLink", "subselect"),
		opKind: l.enumValue("A_Expr", "kind", "AEXPR_OP"), setNone: l.enumValue("SelectStmt", "op", "SETOP_NONE"),
		exprSub: l.enumValue("SubLink", "sub_link_type", "EXPR_SUBLINK"), arraySub: l.enumValue("SubLink", "sub_link_type", "ARRAY_SUBLINK"),
	}
}

// commonMembers returns the expressions of a node that PostgreSQL types
// in common, or nil.
func (w *walker) commonMembers(m *msgInfo, b []byte) [][]byte {
	c := &w.n.common
	switch m {
	case c.coalesce:
		return allBytes(b, c.coalesceArgs)
	case c.minmax:
		return allBytes(b, w.n.minmaxArgs)
	case c.arrayExpr:
		return allBytes(b, w.n.arrayElems)
	case c.caseExpr:
		var out [][]byte
		for _, when := range allBytes(b, c.caseArgs) {
			if wm, inner, err := w.concrete(when); err == nil && wm == c.caseWhen {
				if r, ok := findBytes(inner, c.whenResult); ok {
					out = append(out, r)
				}
			}
		}
		if d, ok := findBytes(b, c.caseDefault); ok {
			out = append(out, d)
		}
		return out
	}
	return nil
}

// commonTyped judges the string literals among the members of a node
// typed in common (see above).
func (w *walker) commonTyped(m *msgInfo, b []byte) error {
	members := w.commonMembers(m, b)
	if len(members) < 2 {
		return nil
	}
	target, array := w.firstRegKind(members)
	if target == "" {
		return nil
	}
	if m == w.n.common.arrayExpr {
		// The elements are of the element type; sub-arrays (ARRAY[ARRAY[..], ..])
		// are arrays of it.
		array = false
		for _, e := range members {
			if em, _, err := w.concrete(e); err == nil && em == w.n.common.arrayExpr {
				array = true
			}
		}
	}
	return w.siblings(target, array, members)
}

// firstRegKind is regKind of the first member whose kind the engine
// can tell: the reg* type the members share; "" when none says.
func (w *walker) firstRegKind(members [][]byte) (target string, array bool) {
	for _, e := range members {
		if target, array = w.regKind(e); target != "" {
			return target, array
		}
	}
	return "", false
}

// siblings judges each member as a value of the reg* type of kind target
// (an array of it when array is set).
func (w *walker) siblings(target string, array bool, members [][]byte) error {
	w.refuseSharing("a string literal beside a reg* value is a " + target + " name")
	for _, e := range members {
		if err := w.sibling(target, array, e); err != nil {
			return err
		}
	}
	return nil
}

// sibling judges one member: a string literal as the name (or array of
// names) it spells, a $n parameter is denied; anything else has a type of
// its own, and a string-typed value there is an error the server raises.
func (w *walker) sibling(target string, array bool, e []byte) error {
	m, inner, err := w.concrete(e)
	if err != nil {
		return err
	}
	switch m.name {
	case "A_Const":
		return w.constNames(target, array, inner)
	case "A_ArrayExpr":
		if array {
			return w.siblings(target, false, allBytes(inner, w.n.arrayElems))
		}
	case "ParamRef":
		return computedName(target, "a parameter typed like the "+target+" value beside it")
	}
	return nil
}

// regKind reports what a value certainly of a reg* type names, and
// whether it is an array of such values; "" when the engine cannot tell.
func (w *walker) regKind(e []byte) (target string, array bool) {
	m, inner, err := w.concrete(e)
	if err != nil {
		return "", false
	}
	switch m.name {
	case "TypeCast":
		names, typ, array, err := w.castType(inner)
		if err != nil || len(names) == 0 || len(names) > 2 || (len(names) == 2 && names[0] != "pg_catalog") {
			return "", false
		}
		return regTarget(typ), array
	case "FuncCall":
		name, err := w.nameList(inner, w.n.fnName)
		if err != nil || len(name) == 0 || len(name) > 2 || (len(name) == 2 && name[0] != "pg_catalog") {
			return "", false
		}
		return regReturning[name[len(name)-1]], false
	case "ColumnRef":
		fields := allBytes(inner, w.n.colRefFields)
		if len(fields) == 0 {
			return "", false
		}
		fm, v, err := w.concrete(fields[len(fields)-1])
		if err != nil || fm.name != "String" {
			return "", false
		}
		col, _ := findBytes(v, w.n.strVal)
		if regprocColumns[string(col)] {
			return "function", false
		}
	case "A_ArrayExpr":
		for _, el := range allBytes(inner, w.n.arrayElems) {
			if t, _ := w.regKind(el); t != "" {
				return t, true
			}
		}
	case "SubLink":
		// (SELECT x) is of x's type, ARRAY(SELECT x) an array of it.
		kind := findVarint(inner, w.n.common.subType)
		sel, ok := findBytes(inner, w.n.common.subSelect)
		if !ok || (kind != w.n.common.exprSub && kind != w.n.common.arraySub) {
			return "", false
		}
		sm, sb, err := w.concrete(sel)
		if err != nil || sm.name != "SelectStmt" {
			return "", false
		}
		var rows [][][]byte
		w.armColumns(sb, &rows)
		for _, r := range rows {
			if len(r) > 0 {
				if t, a := w.regKind(r[0]); t != "" {
					return t, a || kind == w.n.common.arraySub
				}
			}
		}
	default:
		if members := w.commonMembers(m, inner); members != nil {
			for _, el := range members {
				if t, a := w.regKind(el); t != "" {
					return t, a
				}
			}
		}
	}
	return "", false
}

// regReturning maps the pg_catalog functions of PostgreSQL 15 that return
// a regclass, regproc, regprocedure or regtype to what it names.
var regReturning = map[string]string{
	"regclass": "relation", "to_regclass": "relation", "pg_partition_root": "relation",
	"pg_get_replica_identity_index": "relation", "pg_filenode_relation": "relation",
	"regclassin": "relation", "regclassrecv": "relation",
	"to_regproc": "function", "to_regprocedure": "function", "regprocin": "function",
	"regprocedurein": "function", "regprocrecv": "function", "regprocedurerecv": "function",
	"pg_typeof": "type", "to_regtype": "type", "regtypein": "type", "regtyperecv": "type",
}

// regprocColumns are the columns of type regproc in PostgreSQL 15's
// pg_catalog relations (TestBuiltinTypesCurrent checks the list).
var regprocColumns = map[string]bool{
	"aggcombinefn": true, "aggdeserialfn": true, "aggfinalfn": true, "aggfnoid": true, "aggmfinalfn": true,
	"aggminvtransfn": true, "aggmtransfn": true, "aggserialfn": true, "aggtransfn": true, "amhandler": true,
	"amproc": true, "conproc": true, "oprcode": true, "oprjoin": true, "oprrest": true, "prosupport": true,
	"rngcanonical": true, "rngsubdiff": true, "trffromsql": true, "trftosql": true, "prsend": true,
	"prsheadline": true, "prslextype": true, "prsstart": true, "prstoken": true, "tmplinit": true,
	"tmpllexize": true, "typanalyze": true, "typinput": true, "typmodin": true, "typmodout": true,
	"typoutput": true, "typreceive": true, "typsend": true, "typsubscript": true,
}

// arrayOperands judges a binary operator with an array of a reg* type on
// one side and a string literal on the other: the literal becomes an
// array of that type (array = '{name}', @>, ||, ...).
func (w *walker) arrayOperands(b []byte) error {
	c := &w.n.common
	if findVarint(b, c.exprKind) != c.opKind {
		return nil
	}
	l, lok := findBytes(b, c.exprLeft)
	r, rok := findBytes(b, c.exprRight)
	if !lok || !rok {
		return nil
	}
	for _, pair := range [][2][]byte{{l, r}, {r, l}} {
		if t, array := w.regKind(pair[0]); t != "" && array {
			w.refuseSharing("a string literal beside a reg* array is an array of " + t + " names")
			return w.sibling(t, true, pair[1])
		}
	}
	return nil
}

// polymorphicArgs gives, for the pg_catalog functions of PostgreSQL 15
// whose arguments share one polymorphic type, which argument is the
// array (a) and which its element (e); '-' is an argument of a type of
// its own.
var polymorphicArgs = map[string]string{
	"array_append": "ae", "array_prepend": "ea", "array_cat": "aa", "array_position": "ae-",
	"array_positions": "ae", "array_remove": "ae", "array_replace": "aee", "width_bucket": "ea",
	"array_larger": "aa", "array_smaller": "aa", "arraycontains": "aa", "arraycontained": "aa",
	"arrayoverlap": "aa", "array_eq": "aa", "array_ne": "aa", "array_lt": "aa", "array_gt": "aa",
	"array_le": "aa", "array_ge": "aa", "btarraycmp": "aa", "array_fill": "e-",
}

// polymorphicCall judges the string literals among the arguments of a
// call of one of polymorphicArgs beside a value of a reg* type.
func (w *walker) polymorphicCall(name []string, b []byte) error {
	if len(name) > 2 || (len(name) == 2 && name[0] != "pg_catalog") {
		return nil
	}
	shape, ok := polymorphicArgs[name[len(name)-1]]
	args := allBytes(b, w.n.fnArgs)
	if !ok || len(args) < 2 {
		return nil
	}
	target := ""
	for i, a := range args {
		if i >= len(shape) || shape[i] == '-' {
			continue
		}
		if t, array := w.regKind(a); t != "" && array == (shape[i] == 'a') {
			target = t
			break
		}
	}
	if target == "" {
		return nil
	}
	w.refuseSharing("a string literal beside a reg* value is a " + target + " name")
	for i, a := range args {
		if i < len(shape) && shape[i] != '-' {
			if err := w.sibling(target, shape[i] == 'a', a); err != nil {
				return err
			}
		}
	}
	return nil
}

// setColumns judges, column by column, the rows of VALUES and the target
// lists of the arms of a set operation, which PostgreSQL types in common.
func (w *walker) setColumns(b []byte) error {
	c := &w.n.common
	var rows [][][]byte
	for _, item := range allBytes(b, c.selValues) {
		if lm, inner, err := w.concrete(item); err == nil && lm.name == "List" {
			rows = append(rows, allBytes(inner, c.listItems))
		}
	}
	if op := findVarint(b, w.n.selOp); op != 0 && op != c.setNone && (len(b) == 0 || !w.setArms[&b[0]]) {
		w.armColumns(b, &rows)
	}
	if len(rows) < 2 {
		return nil
	}
	for col := 0; ; col++ {
		var members [][]byte
		for _, r := range rows {
			if col < len(r) {
				members = append(members, r[col])
			}
		}
		if len(members) == 0 {
			return nil
		}
		target, array := w.firstRegKind(members)
		if target == "" {
			continue
		}
		if err := w.siblings(target, array, members); err != nil {
			return err
		}
	}
}

// armColumns collects the target values of each SELECT arm of a set
// operation, through nested set operations.
func (w *walker) armColumns(b []byte, rows *[][][]byte) {
	c := &w.n.common
	if op := findVarint(b, w.n.selOp); op == 0 || op == c.setNone {
		var row [][]byte
		for _, t := range allBytes(b, c.selTargets) {
			if tm, inner, err := w.concrete(t); err == nil && tm.name == "ResTarget" {
				if v, ok := findBytes(inner, c.resVal); ok {
					row = append(row, v)
				}
			}
		}
		if row != nil {
			*rows = append(*rows, row)
		}
		return
	}
	for _, num := range []int32{w.n.selLarg, c.selRarg} {
		if arm, ok := findBytes(b, num); ok && len(arm) > 0 {
			// A nested set operation's arms are judged here, with the
			// outer one's: walked later, it skips them (a chain of n
			// UNIONs costs n, not n²).
			if w.setArms == nil {
				w.setArms = map[*byte]bool{}
			}
			w.setArms[&arm[0]] = true
			w.armColumns(arm, rows)
		}
	}
}

package policy

import (
	"fmt"
	"slices"
	"strings"
)

// funcCall checks the called function and walks its arguments, ORDER BY,
// FILTER and OVER clauses.
func (w *walker) funcCall(m *msgInfo, b []byte, depth int) error {
	name, err := w.nameList(b, w.n.fnName)
	if err != nil {
		return err
	}
	if err := w.function(name); err != nil {
		return err
	}
	if err := w.callNameArgs(name, b); err != nil {
		return err
	}
	if err := w.polymorphicCall(name, b); err != nil {
		return err
	}
	if err := w.populateCall(name, b); err != nil {
		return err
	}
	return w.children(m, b, depth)
}

// function judges a possibly qualified function name: deny lists first,
// then the allow list, then volatility from the catalog.
func (w *walker) function(name []string) error {
	var schema, fn string
	switch len(name) {
	case 1:
		fn = name[0]
	case 2:
		schema, fn = name[0], name[1]
	default:
		return deny(RuleFunction, fmt.Sprintf("function name %s is not schema.name", strings.Join(name, ".")))
	}
	if namesByArgument(fn) {
		w.refuseSharing("function " + fn + " takes a name as its argument")
	}
	if w.r.denyFuncs.has(fn) || (schema != "" && w.r.denyFuncs.has(schema+"."+fn)) {
		return deny(RuleFunction, fmt.Sprintf("function %s is on the deny list", displayFunc(schema, fn)))
	}
	qualified := schema != ""
	var known bool
	var err error
	if qualified {
		var vol Volatility
		if vol, known = w.fc.Volatility(schema, fn); known {
			err = w.judgeResolved(schema, fn, vol)
		}
	} else {
		schema, known, err = w.judgeOnPath(fn)
	}
	if !known {
		if w.r.allowFuncs[fn] || (schema != "" && w.r.allowFuncs[schema+"."+fn]) {
			return w.noteFunction(schema, fn, qualified)
		}
		return deny(RuleUnknownFunc, fmt.Sprintf("function %s is not in the catalog", displayFunc(schema, fn)))
	}
	if err != nil {
		return err
	}
	return w.noteFunction(schema, fn, qualified)
}

// judgeOnPath judges an unqualified function name in every schema of the
// path that has it, first to last: PostgreSQL picks among all of them by
// the argument types, not by the order of the path, so upper(1) calls a
// volatile public.upper(int), not pg_catalog's upper(text). The engine
// does not resolve argument types; each one is judged as if it were
// called. resolved is the first schema that has the name, known false
// when none has.
func (w *walker) judgeOnPath(fn string) (resolved string, known bool, err error) {
	for _, s := range w.searchPath() {
		vol, ok := w.fc.Volatility(s, fn)
		if !ok {
			continue
		}
		if !known {
			resolved, known = s, true
		}
		if err := w.judgeResolved(s, fn, vol); err != nil {
			return resolved, true, err
		}
	}
	return resolved, known, nil
}

// judgeResolved judges a function the catalog resolved to schema: the
// qualified deny list, a readable schema, and volatility unless allowed.
// Every syntax that makes PostgreSQL call a named function ends here.
func (w *walker) judgeResolved(schema, fn string, vol Volatility) error {
	if w.r.denyFuncs.has(schema + "." + fn) {
		return deny(RuleFunction, fmt.Sprintf("function %s is on the deny list", displayFunc(schema, fn)))
	}
	if !w.r.schemas[schema] {
		return deny(RuleFunction, fmt.Sprintf("schema %s is not readable (function %s)", quoteIdent(schema), displayFunc(schema, fn)))
	}
	if vol == Volatile && !w.r.allowFuncs[fn] && !w.r.allowFuncs[schema+"."+fn] {
		return deny(RuleVolatile, fmt.Sprintf("function %s is volatile", displayFunc(schema, fn)))
	}
	return nil
}

// resolveFunction finds the schema an unqualified name resolves to on the
// profile's search path, and the function's volatility.
func (w *walker) resolveFunction(fn string) (string, Volatility, bool) {
	for _, s := range w.searchPath() {
		if v, ok := w.fc.Volatility(s, fn); ok {
			return s, v, true
		}
	}
	return "", 0, false
}

func (w *walker) noteFunction(schema, fn string, qualified bool) error {
	if err := w.explainedFunction(schema, fn, qualified); err != nil {
		return err
	}
	full := FunctionName{Schema: schema, Name: fn}
	if !slices.Contains(w.funcs, full) {
		w.funcs = append(w.funcs, full)
	}
	return nil
}

func displayFunc(schema, fn string) string {
	if schema == "" {
		return quoteIdent(fn)
	}
	return quoteQualified(schema, fn)
}

// regTarget names what a literal cast to an object-identifier type refers
// to, for the types whose input function looks up a relation, a function
// or a type (regtypes.go).
func regTarget(typ string) string {
	switch typ {
	case "regclass":
		return "relation"
	case "regproc", "regprocedure":
		return "function"
	case "regtype":
		return "type" // a relation's row type is named like the relation
	}
	return ""
}

// typeCast walks a cast. 'name'::regclass and 'name'::regproc name a
// relation or function in a string, so the string is judged like the
// reference it stands for.
func (w *walker) typeCast(m *msgInfo, b []byte, depth int) error {
	if err := w.regLiteral(b); err != nil {
		return err
	}
	return w.children(m, b, depth)
}

// aExpr checks the operator an expression, ORDER BY ... USING or
// subquery comparison names (see operator in calls.go).
func (w *walker) aExpr(m *msgInfo, b []byte, depth int) error {
	num := w.n.exprName
	switch m.name {
	case "SortBy":
		num = w.n.sortUseOp
	case "SubLink":
		num = w.n.subLinkOper
	}
	name, err := w.nameList(b, num)
	if err != nil {
		return err
	}
	if err := w.operator(name); err != nil {
		return err
	}
	if m.name == "A_Expr" {
		if err := w.arrayOperands(b); err != nil {
			return err
		}
	}
	return w.children(m, b, depth)
}

// tableSample allows the two built-in TABLESAMPLE methods; any other runs
// an extension's handler function.
func (w *walker) tableSample(m *msgInfo, b []byte, depth int) error {
	name, err := w.nameList(b, w.n.sampleMethod)
	if err != nil {
		return err
	}
	if len(name) != 1 || (name[0] != "system" && name[0] != "bernoulli") {
		return deny(RuleFunction, fmt.Sprintf("TABLESAMPLE method %s is not allowed", strings.Join(name, ".")))
	}
	w.noteImplicit("pg_catalog", name[0]) // the method's handler function

	return w.children(m, b, depth)
}

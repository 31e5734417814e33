package policy

import (
	"fmt"
	"strings"
)

// PostgreSQL reads a field selection as a function call whenever the name
// is not a column of the value it is applied to:
//
//	(expr).fn          is fn(expr), for any function of one argument
//	t.fn, s.t.fn       are fn(t), t being a table, alias or FROM function
//	$1.fn              is fn($1)
//
// The raw parse tree holds only a name there — the last String of a
// ColumnRef, or a String in an A_Indirection — so without these two
// checks no function rule would ever run on such a call. The name is
// always unqualified and looked up on the search path, like an unqualified
// call. Since the engine does not know the column list of every value,
// each such name is judged as the call it may be: when some function of
// that name is visible, it must pass the same rules as a direct call;
// when none is, PostgreSQL can only read it as a column or field.

// columnRef judges t.fn (and s.t.fn, d.s.t.fn): the last name of a
// qualified column reference may be a function of the whole row.
func (w *walker) columnRef(m *msgInfo, b []byte, depth int) error {
	fields := allBytes(b, w.n.colRefFields)
	if len(fields) >= 2 {
		fm, inner, err := w.concrete(fields[len(fields)-1])
		if err != nil {
			return err
		}
		if fm.name == "String" {
			v, _ := findBytes(inner, w.n.strVal)
			if err := w.fieldCall(string(v)); err != nil {
				return err
			}
			if err := w.rowNameArg(string(v)); err != nil {
				return err
			}
		}
	}
	return w.children(m, b, depth)
}

// indirection judges (expr).fn: every name in an indirection list selects
// a field of the value before it, or calls a function on it.
func (w *walker) indirection(m *msgInfo, b []byte, depth int) error {
	for i, item := range allBytes(b, w.n.indirList) {
		fm, inner, err := w.concrete(item)
		if err != nil {
			return err
		}
		if fm.name != "String" {
			continue // A_Indices ([i], [i:j]) or A_Star (.*)
		}
		v, _ := findBytes(inner, w.n.strVal)
		if err := w.fieldCall(string(v)); err != nil {
			return err
		}
		if i == 0 {
			// ('name').pg_relation_size is pg_relation_size('name').
			arg, _ := findBytes(b, w.n.indirArg)
			if err := w.fieldNameArg(string(v), arg); err != nil {
				return err
			}
		}
	}
	return w.children(m, b, depth)
}

// fieldCall judges a name that PostgreSQL may call as fn(value). The deny
// lists apply to the name whether or not the catalog knows it (offline,
// the catalog does not know functions outside pg_catalog); past them, a
// name no function on the path carries is a column or field.
func (w *walker) fieldCall(fn string) error {
	// (x).typ is a cast to typ when no function of that name fits.
	if err := w.typeCalls([]string{fn}); err != nil {
		return err
	}
	return w.mayCall(fn, fmt.Sprintf("called by field selection, as in (x).%s or t.%s", fn, fn))
}

// mayCall judges a bare name the server may resolve as an unqualified
// function call, where the engine cannot tell from the tree that it does.
// A name no function on the path carries calls nothing; a known one is
// judged like a call and listed with the implicit calls (most field
// selections are columns: t.name, while name() exists). how says why the
// name counts, for the message.
func (w *walker) mayCall(fn, how string) error {
	if namesByArgument(fn) {
		w.refuseSharing("function " + fn + " takes a name as its argument")
	}
	if w.r.denyFuncs.has(fn) {
		return deny(RuleFunction, fmt.Sprintf("function %s (%s) is on the deny list", quoteIdent(fn), how))
	}
	schema, known, err := w.judgeOnPath(fn)
	if err != nil {
		if d, ok := err.(*denial); ok {
			d.reason += " (" + how + ")"
		}
		return err
	}
	if !known {
		return nil
	}
	w.noteImplicit(schema, fn)
	return nil
}

// SQL/JSON constructors are syntax in the PostgreSQL 16 grammar the engine
// parses with, but PostgreSQL 15 reads the same text as ordinary calls of
// functions by these names, found on the search path: a user function
// json_array() would run. Each constructor is therefore judged as the
// call it is on a 15 server too.
var jsonConstructorNames = map[string]string{
	"JsonObjectConstructor":     "json_object",
	"JsonArrayConstructor":      "json_array",
	"JsonArrayQueryConstructor": "json_array",
	"JsonObjectAgg":             "json_objectagg",
	"JsonArrayAgg":              "json_arrayagg",
}

// jsonConstructor judges a SQL/JSON constructor as a call of its name.
func (w *walker) jsonConstructor(m *msgInfo, b []byte, depth int) error {
	fn := jsonConstructorNames[m.name]
	if err := w.mayCall(fn, strings.ToUpper(fn)+"(...) calls it on PostgreSQL 15"); err != nil {
		return err
	}
	return w.children(m, b, depth)
}

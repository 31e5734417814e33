package policy

import "fmt"

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
		}
	}
	return w.children(m, b, depth)
}

// indirection judges (expr).fn: every name in an indirection list selects
// a field of the value before it, or calls a function on it.
func (w *walker) indirection(m *msgInfo, b []byte, depth int) error {
	for _, item := range allBytes(b, w.n.indirList) {
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
	}
	return w.children(m, b, depth)
}

// fieldCall judges a name that PostgreSQL may call as fn(value). The deny
// lists apply to the name whether or not the catalog knows it (offline,
// the catalog does not know functions outside pg_catalog); past them, a
// name no function on the path carries is a column or field.
func (w *walker) fieldCall(fn string) error {
	if w.r.denyFuncs.has(fn) {
		return deny(RuleFunction, fmt.Sprintf("function %s (called by field selection, as in (x).%s or t.%s) is on the deny list", quoteIdent(fn), fn, fn))
	}
	// (x).typ is a cast to typ when no function of that name fits.
	if err := w.typeCalls([]string{fn}); err != nil {
		return err
	}
	schema, vol, known := w.resolveFunction("", fn)
	if !known {
		return nil
	}
	if err := w.judgeResolved(schema, fn, vol); err != nil {
		if d, ok := err.(*denial); ok {
			d.reason += fmt.Sprintf(" (called by field selection, as in (x).%s or t.%s)", fn, fn)
		}
		return err
	}
	// Most such names are columns (t.name, and name() exists): the
	// function may run, so it is listed with the implicit calls, not
	// with the functions the text calls by name.
	w.noteImplicit(schema, fn)
	return nil
}

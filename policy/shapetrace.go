package policy

import "strings"

// shapeTrace records, while one text is judged for the shape cache, which
// constants the verdict read (shape.go): a constant whose value a rule
// reads is pinned, so texts share a verdict only when they agree on it;
// a read the engine cannot place, or a constant that names an object or a
// setting, makes the text's shape share nothing.
type shapeTrace struct {
	reads   []int32 // byte offsets of the A_Consts read
	noShare string  // why nothing may be shared; "" if sharing is allowed
}

// readConst notes that a rule read the value of the A_Const in b. It
// returns true so that it can sit in a condition.
func (w *walker) readConst(aConst []byte) bool {
	if w.trace != nil {
		w.trace.reads = append(w.trace.reads, int32(findVarint(aConst, w.n.constLocation)))
	}
	return true
}

// readUnplaced notes a read of a constant the tree gives no position for
// (the Integer or String argument of an option).
func (w *walker) readUnplaced(what string) {
	w.refuseSharing("the verdict reads " + what)
}

// refuseSharing makes the text's shape share no verdict.
func (w *walker) refuseSharing(why string) {
	if w.trace != nil && w.trace.noShare == "" {
		w.trace.noShare = why
	}
}

// isRegType reports whether typ is one of the object-identifier types
// whose input function looks a name up in the catalog.
func isRegType(typ string) bool {
	switch typ {
	case "regclass", "regproc", "regprocedure", "regoper", "regoperator", "regtype",
		"regrole", "regnamespace", "regconfig", "regdictionary", "regcollation":
		return true
	}
	return false
}

// namesByArgument reports whether fn takes the name of a setting or of a
// catalog object as an argument, so that the statement's meaning turns on
// the constant: current_setting('...'), set_config, to_regclass and the
// other to_reg* functions, the has_*_privilege family, pg_has_role.
func namesByArgument(fn string) bool {
	switch fn {
	case "current_setting", "set_config", "pg_has_role":
		return true
	}
	return strings.HasPrefix(fn, "to_reg") || strings.HasPrefix(fn, "has_") && strings.HasSuffix(fn, "_privilege")
}

package policy

// selectStmt walks a SELECT (also VALUES, TABLE and each arm of a set
// operation). A WITH clause opens a scope of CTE names, so that a CTE
// called pg_authid hides the catalog only where SQL says it does.
func (w *walker) selectStmt(m *msgInfo, b []byte, depth int) error {
	if _, ok := findBytes(b, w.n.selInto); ok {
		return deniedNode("IntoClause")
	}
	if _, ok := findBytes(b, w.n.selLocking); ok {
		return deniedNode("LockingClause")
	}
	if err := w.setColumns(b); err != nil {
		return err
	}
	with, hasWith := findBytes(b, w.n.selWith)
	if hasWith {
		if err := w.withClause(with, depth+1); err != nil {
			return err
		}
		defer func() { w.ctes = w.ctes[:len(w.ctes)-1] }()
	}
	return w.childrenExcept(m, b, depth, w.n.selWith)
}

// withClause walks the CTE bodies and leaves the scope of CTE names pushed
// for the caller to pop. Without RECURSIVE a CTE sees only the CTEs before
// it; with RECURSIVE it sees all of them, itself included.
func (w *walker) withClause(b []byte, depth int) error {
	withInfo := w.s.byName["WithClause"]
	cteInfo := w.s.byName["CommonTableExpr"]
	if err := w.onlyKnownFields(withInfo, b); err != nil {
		return err
	}
	recursive := findVarint(b, w.n.withRecursive) != 0
	items := allBytes(b, w.n.withCtes)
	bodies := make([][]byte, 0, len(items))
	names := make([]string, 0, len(items))
	for _, item := range items {
		m, inner, err := w.concrete(item)
		if err != nil {
			return err
		}
		if m != cteInfo {
			return deniedNode(m.name)
		}
		name, _ := findBytes(inner, w.n.cteName)
		bodies = append(bodies, inner)
		names = append(names, string(name))
	}
	// Index, not pointer: CTE bodies push scopes of their own, which may
	// move the slice.
	w.ctes = append(w.ctes, cteScope{})
	scope := len(w.ctes) - 1
	if recursive {
		w.ctes[scope].names = names
	}
	for i, body := range bodies {
		if err := w.children(cteInfo, body, depth+1); err != nil {
			w.ctes = w.ctes[:len(w.ctes)-1]
			return err
		}
		if !recursive {
			w.ctes[scope].names = names[:i+1]
		}
	}
	return nil
}

// inCTE reports whether an unqualified name refers to a CTE in scope.
func (w *walker) inCTE(name string) bool {
	for i := len(w.ctes) - 1; i >= 0; i-- {
		for _, n := range w.ctes[i].names {
			if n == name {
				return true
			}
		}
	}
	return false
}

// childrenExcept walks the children of b except field skip, which the
// caller has handled.
func (w *walker) childrenExcept(m *msgInfo, b []byte, depth int, skip int32) error {
	for len(b) > 0 {
		f, rest, err := nextField(b)
		if err != nil {
			return deny(RuleNode, "malformed parse tree")
		}
		if f.num != skip {
			end := len(b) - len(rest)
			if err := w.children(m, b[:end], depth); err != nil {
				return err
			}
		}
		b = rest
	}
	return nil
}

// onlyKnownFields denies if b carries a field m does not describe.
func (w *walker) onlyKnownFields(m *msgInfo, b []byte) error {
	return eachField(b, func(f pbField) error {
		if m.field(f.num) == nil {
			return deny(RuleNode, "unknown field in "+m.name)
		}
		return nil
	})
}

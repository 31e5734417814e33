package policy

import (
	"fmt"
	"strings"
)

// statement judges one top-level statement (the Node inside a RawStmt) and
// returns its kind.
func (w *walker) statement(node []byte) (Kind, error) {
	m, b, err := w.concrete(node)
	if err != nil {
		return KindUnknown, err
	}
	switch m.name {
	case "SelectStmt":
		return KindSelect, w.visit(m, b, 2)
	case "ExplainStmt":
		return KindExplain, w.explain(b)
	case "VariableShowStmt":
		return KindShow, w.children(m, b, 2)
	case "TransactionStmt":
		return w.transaction(b)
	case "VariableSetStmt":
		return w.variableSet(b)
	case "DeallocateStmt":
		return w.deallocate(b)
	}
	kind := statementKind(m.name)
	if kind == KindSet {
		return kind, deny(RuleSettings, fmt.Sprintf("%s cannot change settings through pgmoat", describeStatement(m.name)))
	}
	return kind, deny(RuleKind, fmt.Sprintf("%s statements are not allowed (kind %s)", describeStatement(m.name), kind))
}

// describeStatement names a statement type for people: "CreateTableAsStmt"
// becomes "CREATE TABLE AS".
func describeStatement(name string) string {
	name = strings.TrimSuffix(name, "Stmt")
	var b strings.Builder
	for i, r := range name {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

// explain allows EXPLAIN of an allowed SELECT, without ANALYZE: ANALYZE
// executes the statement.
func (w *walker) explain(b []byte) error {
	if err := w.options(allBytes(b, w.n.explainOptions), explainOption); err != nil {
		return err
	}
	q, ok := findBytes(b, w.n.explainQuery)
	if !ok {
		return deny(RuleNode, "EXPLAIN without a statement")
	}
	m, inner, err := w.concrete(q)
	if err != nil {
		return err
	}
	if m.name != "SelectStmt" {
		d := deny(RuleKind, fmt.Sprintf("EXPLAIN of %s is not allowed", describeStatement(m.name)))
		d.kind = KindExplain
		return d
	}
	w.explaining = true
	defer func() { w.explaining = false }()
	return w.visit(m, inner, 3)
}

// explainOption allows the EXPLAIN options that only change what it
// prints.
func explainOption(name string, on bool) error {
	switch name {
	case "analyze":
		if on {
			return deny(RuleExplain, "EXPLAIN ANALYZE executes the statement")
		}
	case "verbose", "costs", "settings", "buffers", "wal", "timing", "summary", "format":
	default:
		return deny(RuleExplainOption, fmt.Sprintf("EXPLAIN option %q is not allowed", name))
	}
	return nil
}

// options judges the DefElem options of a statement in order: each is
// read, then judged by its name and whether it is switched on.
func (w *walker) options(opts [][]byte, judge func(name string, on bool) error) error {
	for _, opt := range opts {
		name, on, err := w.defElem(opt)
		if err != nil {
			return err
		}
		if err := judge(name, on); err != nil {
			return err
		}
	}
	return nil
}

// defElem reads an option: its name and whether it is switched on. A value
// the engine cannot read as a boolean counts as on, which fails closed for
// ANALYZE and READ ONLY alike.
func (w *walker) defElem(b []byte) (name string, on bool, err error) {
	m, inner, err := w.concrete(b)
	if err != nil {
		return "", false, err
	}
	if m.name != "DefElem" {
		return "", false, deniedNode(m.name)
	}
	if err := w.onlyKnownFields(m, inner); err != nil {
		return "", false, err
	}
	n, _ := findBytes(inner, w.n.defName)
	arg, ok := findBytes(inner, w.n.defArg)
	if !ok {
		return string(n), true, nil
	}
	return string(n), w.boolArg(arg), nil
}

// boolArg reads a DefElem argument as PostgreSQL's defGetBoolean would,
// returning true for anything it does not recognise as false.
func (w *walker) boolArg(b []byte) bool {
	m, inner, err := w.concrete(b)
	if err != nil {
		return true
	}
	switch m.name {
	case "String":
		w.readUnplaced("an option's value")
		v, _ := findBytes(inner, w.n.strVal)
		return !isFalseWord(string(v))
	case "Integer":
		w.readUnplaced("an option's value")
		return findVarint(inner, w.n.intVal) != 0
	case "Boolean":
		w.readUnplaced("an option's value")
		return findVarint(inner, w.n.boolVal) != 0
	case "A_Const":
		w.readConst(inner)
		if iv, ok := findBytes(inner, w.n.constIval); ok {
			return findVarint(iv, w.n.intVal) != 0
		}
		if sv, ok := findBytes(inner, w.n.constSval); ok {
			v, _ := findBytes(sv, w.n.strVal)
			return !isFalseWord(string(v))
		}
		if bv, ok := findBytes(inner, w.n.constBoolval); ok {
			return findVarint(bv, w.n.boolVal) != 0
		}
	}
	w.readUnplaced("an option's value")
	return true
}

func isFalseWord(s string) bool {
	switch strings.ToLower(s) {
	case "false", "off", "no", "0", "f", "n", "of":
		return true
	}
	return false
}

// transaction allows BEGIN/START TRANSACTION (never READ WRITE), COMMIT and
// ROLLBACK. Savepoints and two-phase commit are refused.
func (w *walker) transaction(b []byte) (Kind, error) {
	switch k := w.transactionKind(b); k {
	case KindBegin:
		return k, w.transactionOptions(b)
	case KindCommit, KindRollback:
		return k, nil
	}
	return KindTransaction, deny(RuleKind, "only BEGIN, START TRANSACTION, COMMIT and ROLLBACK are allowed among transaction statements")
}

// transactionKind is the Kind of the TransactionStmt b: KindBegin,
// KindCommit, KindRollback, or KindTransaction for every other kind.
func (w *walker) transactionKind(b []byte) Kind {
	switch findVarint(b, w.n.txKind) {
	case w.n.txBegin, w.n.txStart:
		return KindBegin
	case w.n.txCommit:
		return KindCommit
	case w.n.txRollback:
		return KindRollback
	}
	return KindTransaction
}

func (w *walker) transactionOptions(b []byte) error {
	return w.options(allBytes(b, w.n.txOptions), transactionOption)
}

// transactionOption allows the options of BEGIN and START TRANSACTION
// but READ WRITE.
func transactionOption(name string, on bool) error {
	switch name {
	case "transaction_read_only":
		if !on {
			return deny(RuleReadWrite, "transactions through pgmoat are read only")
		}
	case "transaction_isolation", "transaction_deferrable":
	default:
		return deny(RuleNode, fmt.Sprintf("transaction option %q is not allowed", name))
	}
	return nil
}

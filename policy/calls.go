package policy

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// CallCatalog is implemented by online catalogs that know the functions
// PostgreSQL calls where the text names none: behind an operator, and to
// make a value of a type (its input, output, receive, send, typmod and
// subscript functions, and the cast functions that produce it). It lists
// only functions outside pg_catalog: pg_catalog's own operators, casts
// and type functions are fixed by the server release and checked against
// a real PostgreSQL by TestBuiltinImplicitCallsAreAllowed (none is
// volatile or on a deny list).
type CallCatalog interface {
	// OperatorFunctions returns the functions behind every operator
	// named op in schema (its code, restriction and join estimators,
	// the support functions of its operator families, and the code and
	// estimators of its negator and commutator, which the planner puts in
	// its place), or in every schema when schema is AnySchema.
	OperatorFunctions(schema, op string) []FunctionName
	// TypeFunctions returns the functions that can run to make or show
	// a value of schema.typ, including casts to it from any type; with
	// both arguments AnySchema, those a statement may reach without
	// naming any type (every type's I/O functions, domain CHECKs,
	// implicit and assignment casts).
	TypeFunctions(schema, typ string) []FunctionName
}

// AnySchema stands for every schema in CallCatalog.OperatorFunctions.
const AnySchema = "*"

// operator judges the functions behind an operator name: OPERATOR(s.op)
// outside pg_catalog is denied outright (the offline engine has no
// operator catalog), and an unqualified name may be any operator of that
// name on the search path, since argument types pick among them.
func (w *walker) operator(name []string) error {
	return w.operatorCalls(name, true)
}

// operatorCalls judges the functions behind an operator name; note says
// whether they enter the verdict as called (not for comparisons a query
// may never make).
func (w *walker) operatorCalls(name []string, note bool) error {
	if len(name) == 0 {
		return nil
	}
	if len(name) > 1 && name[0] != "pg_catalog" && name[0] != AnySchema {
		return deny(RuleOperator, fmt.Sprintf("operator %s is outside pg_catalog", strings.Join(name, ".")))
	}
	cc, ok := w.fc.(CallCatalog)
	if !ok {
		return nil
	}
	for _, op := range operatorsOf(name[len(name)-1]) {
		for _, s := range w.candidates(name) {
			for _, f := range cc.OperatorFunctions(s, op) {
				if err := w.hiddenCall(f, "operator "+op, note); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// operatorsOf maps the name an A_Expr carries to the operators PostgreSQL
// runs for it: BETWEEN is written with its keyword but compares with
// <= and >= (or < and > when negated).
func operatorsOf(name string) []string {
	switch name {
	case "BETWEEN", "NOT BETWEEN", "BETWEEN SYMMETRIC", "NOT BETWEEN SYMMETRIC":
		return comparisonOperators[1:]
	}
	return []string{name}
}

// comparisonOperators are the operators PostgreSQL picks without their
// being written: ORDER BY, GROUP BY, DISTINCT, UNION, window partitions,
// IN, CASE, GREATEST/LEAST, min/max, merge and hash joins all compare
// with the default B-tree or hash operator family of the value's type.
var comparisonOperators = []string{"=", "<", ">", "<=", ">=", "<>"}

// impliedCalls judges what any SELECT may make PostgreSQL run without
// naming it, once per catalog and profile (the engine keeps the answer in
// its impliedMemo):
//
//   - the comparison operators, with their operator families' support
//     functions, that sorting, grouping, DISTINCT, UNION, IN, CASE,
//     GREATEST/LEAST, min/max and joins pick by type. Operator classes
//     are found by type, not on the search path, so every schema counts;
//   - every user-defined type's I/O functions, domain CHECKs and
//     implicit or assignment casts, because generic built-ins make values
//     of a type the text never names: jsonb_populate_record(t, ...) runs
//     the input and CHECK functions of t's columns, record and array
//     input run their element types', and function resolution inserts
//     implicit casts;
//   - every B-tree and hash operator family's support functions and
//     operators, whatever the operators are named: ORDER BY, DISTINCT
//     and GROUP BY of a column compare with its type's default classes,
//     which need not use =, < or >.
//
// With only built-in operators and well-behaved types there is nothing to
// deny; a type or operator class that runs a volatile or denied function
// makes every SELECT fail closed, with a message naming it, rather than
// the engine guessing which queries reach it.
func (w *walker) impliedCalls() error {
	cc, ok := w.fc.(CallCatalog)
	if !ok {
		return nil
	}
	for _, op := range comparisonOperators {
		if err := w.operatorCalls([]string{AnySchema, op}, false); err != nil {
			return err
		}
	}
	for _, f := range cc.TypeFunctions(AnySchema, AnySchema) {
		if err := w.hiddenCall(f, "a user-defined type or operator class, which generic built-ins such as jsonb_populate_record and record input, sorting and grouping reach without naming it", false); err != nil {
			return err
		}
	}
	return nil
}

// impliedMemo holds impliedCalls' answer per profile for one catalog.
type impliedMemo struct {
	mu sync.Mutex
	by map[string]error
}

func (m *impliedMemo) get(profile string, compute func() error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err, ok := m.by[profile]; ok {
		return err
	}
	if m.by == nil {
		m.by = map[string]error{}
	}
	err := compute()
	m.by[profile] = err
	return err
}

// typeName judges a type reference wherever it appears (casts, typed
// literals, column definition lists, RETURNING clauses of JSON and XML
// constructors): making a value of the type runs its functions.
func (w *walker) typeName(m *msgInfo, b []byte, depth int) error {
	names, err := w.nameList(b, w.n.typeNames)
	if err != nil {
		return err
	}
	if err := w.typeRelation(names); err != nil {
		return err
	}
	if err := w.typeCalls(names); err != nil {
		return err
	}
	return w.children(m, b, depth)
}

// typeCalls judges the functions an online catalog lists for a type.
func (w *walker) typeCalls(names []string) error {
	cc, ok := w.fc.(CallCatalog)
	if !ok || len(names) == 0 || len(names) > 2 {
		return nil
	}
	typ := names[len(names)-1]
	for _, s := range w.candidates(names) {
		for _, f := range cc.TypeFunctions(s, typ) {
			if err := w.hiddenCall(f, "type "+typ, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// candidates is the schema of a qualified name, or every schema of the
// path for an unqualified one.
func (w *walker) candidates(names []string) []string {
	if len(names) == 2 {
		return names[:1]
	}
	return w.searchPath()
}

// hiddenCall judges a function PostgreSQL calls on behalf of via (an
// operator or a type) by the rules of a direct call, and notes it in the
// verdict's Implicit list when note is set.
func (w *walker) hiddenCall(f FunctionName, via string, note bool) error {
	err := func() error {
		if w.r.denyFuncs.has(f.Name) {
			return deny(RuleFunction, fmt.Sprintf("function %s is on the deny list", f))
		}
		vol, known := w.fc.Volatility(f.Schema, f.Name)
		if !known {
			return deny(RuleUnknownFunc, fmt.Sprintf("function %s is not in the catalog", f))
		}
		return w.judgeResolved(f.Schema, f.Name, vol)
	}()
	if d, ok := err.(*denial); ok {
		d.reason += " (called by " + via + ")"
		return d
	}
	if note {
		w.noteImplicit(f.Schema, f.Name)
	}
	return nil
}

func (w *walker) noteImplicit(schema, fn string) {
	if full := (FunctionName{Schema: schema, Name: fn}); !slices.Contains(w.implicit, full) {
		w.implicit = append(w.implicit, full)
	}
}

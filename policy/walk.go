package policy

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// walker judges one parse tree. It reads pg_query's protobuf bytes in place
// and stops at the first rule that fires.
type walker struct {
	s        *schema
	n        *nums
	r        *rules
	fc       FunctionCatalog
	catRels  map[string]bool
	maxDepth int
	// exactOnly: the tree was transcoded from JSON that lost an integer;
	// it may be judged but not rewritten. lostInt: a SET read an integer
	// of such a tree, which may be the one lost: the verdict is the exact
	// tree's.
	exactOnly, lostInt bool
	// implied is the profile's judgment of what any SELECT may run
	// without naming it (impliedCalls): a denial fails every SELECT.
	implied error
	// trace, when set, records what the verdict read of the text's
	// constants, for the shape cache (shapetrace.go).
	trace *shapeTrace

	rels     []RelationName
	funcs    []FunctionName
	implicit []FunctionName
	ctes     []cteScope // innermost last
	// setArms are the nested set operations whose arms' columns were
	// judged with an enclosing one's (regsiblings.go).
	setArms map[*byte]bool
	// setting is the client setting a KindClientSetting statement chose.
	setting *ClientSetting
	// deallocation is what a KindDeallocate statement forgets.
	deallocation *Deallocation
	// explaining: the walk is inside an EXPLAIN, whose estimates must
	// not read statistics past row-level security (explainedClass).
	explaining bool
}

// cteScope is the set of CTE names one WITH clause makes visible.
type cteScope struct{ names []string }

// visit walks one message of type m encoded in b.
func (w *walker) visit(m *msgInfo, b []byte, depth int) error {
	if depth > w.maxDepth {
		return deny(RuleDepth, fmt.Sprintf("statement nests deeper than %d parse-tree levels", w.maxDepth))
	}
	if m.visit == nil {
		return deniedNode(m.name)
	}
	return m.visit(w, m, b, depth)
}

// generic judges an allowed node that needs nothing of its own: the
// string literals among members typed in common, the type of a column
// definition, then its children.
func (w *walker) generic(m *msgInfo, b []byte, depth int) error {
	if err := w.commonTyped(m, b); err != nil {
		return err
	}
	if err := w.columnDefType(m, b); err != nil {
		return err
	}
	return w.children(m, b, depth)
}

// unwrap reads a pg_query.Node, which holds exactly one concrete node.
func (w *walker) unwrap(_ *msgInfo, b []byte, depth int) error {
	if len(b) == 0 {
		return nil // a NULL list element, e.g. the column list of ROWS FROM
	}
	m, inner, err := w.concrete(b)
	if err != nil {
		return err
	}
	return w.visit(m, inner, depth+1)
}

// concrete returns the type and bytes of the node inside a Node wrapper.
func (w *walker) concrete(b []byte) (*msgInfo, []byte, error) {
	f, rest, err := nextField(b)
	if err != nil || len(rest) != 0 || f.typ != protowire.BytesType {
		return nil, nil, deny(RuleNode, "malformed parse-tree node")
	}
	fi := w.s.node.field(f.num)
	if fi == nil || fi.msg == nil {
		return nil, nil, deny(RuleNode, fmt.Sprintf("unknown parse-tree node type %d", f.num))
	}
	return fi.msg, f.bytes, nil
}

// children walks every message-typed field of b. Scalars are skipped; a
// field number the schema does not know denies.
func (w *walker) children(m *msgInfo, b []byte, depth int) error {
	for len(b) > 0 {
		f, rest, err := nextField(b)
		if err != nil {
			return deny(RuleNode, "malformed parse tree")
		}
		b = rest
		fi := m.field(f.num)
		if fi == nil {
			return deny(RuleNode, fmt.Sprintf("unknown field %d in %s", f.num, m.name))
		}
		if fi.msg == nil {
			continue
		}
		if f.typ != protowire.BytesType {
			return deny(RuleNode, "malformed parse tree")
		}
		if err := w.visit(fi.msg, f.bytes, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// deniedNode explains why a node type outside the allowed set fired.
func deniedNode(name string) *denial {
	switch name {
	case "InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt":
		d := deny(RuleWritableCTE, "data-modifying statements are not allowed inside a query ("+strings.TrimSuffix(name, "Stmt")+")")
		d.kind = KindDML
		return d
	case "IntoClause":
		return deny(RuleSelectInto, "SELECT INTO creates a table")
	case "LockingClause":
		return deny(RuleLocking, "FOR UPDATE/SHARE locks rows")
	}
	if strings.HasSuffix(name, "Stmt") {
		d := deny(RuleKind, fmt.Sprintf("%s statements are not allowed inside a query", stmtLabel(name)))
		d.kind = statementKind(name)
		return d
	}
	return deny(RuleNode, fmt.Sprintf("%s is not allowed", name))
}

// stmtLabel turns "CreateTableAsStmt" into "CreateTableAs" for messages.
func stmtLabel(name string) string { return strings.TrimSuffix(name, "Stmt") }

// nameList reads a list of String nodes (a qualified name) from the
// repeated Node field num of b.
func (w *walker) nameList(b []byte, num int32) ([]string, error) {
	var out []string
	for _, item := range allBytes(b, num) {
		m, inner, err := w.concrete(item)
		if err != nil {
			return nil, err
		}
		if m.name != "String" {
			// A_Star in a name list, e.g. OPERATOR(*): not a plain name.
			out = append(out, "*")
			continue
		}
		v, _ := findBytes(inner, w.n.strVal)
		out = append(out, string(v))
	}
	return out, nil
}

// param allows $1 to $65535, the parameters the extended protocol can
// bind. $0 parses but deparses as "?", which would corrupt a rewrite.
func (w *walker) param(m *msgInfo, b []byte, _ int) error {
	if err := w.onlyKnownFields(m, b); err != nil {
		return err
	}
	n := int64(int32(findVarint(b, w.n.paramNumber)))
	if n < 1 || n > 65535 {
		return deny(RuleNode, fmt.Sprintf("parameter $%d does not exist", n))
	}
	return nil
}

package policy

import (
	"fmt"

	pg_query "github.com/pganalyze/pg_query_go/v5"
	"github.com/pganalyze/pg_query_go/v5/parser"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// bound returns the SelectStmt bytes with its row count capped at max, or
// nil when the statement already has a constant LIMIT no larger than max.
// The edit is made on the parse tree: limit_count is replaced, the rest of
// the statement is copied field by field.
func (w *walker) bound(sel []byte, max int) ([]byte, error) {
	if findVarint(sel, w.n.selLimitOption) == w.n.limitWithTies {
		return nil, deny(RuleWithTies, "FETCH ... WITH TIES can return more rows than the profile's max_rows")
	}
	limit, err := w.newLimit(sel, max)
	if limit == nil || err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(sel)+len(limit)+8)
	err = eachField(sel, func(f pbField) error {
		if f.num != w.n.selLimitCount && f.num != w.n.selLimitOption {
			out = appendWireField(out, f)
		}
		return nil
	})
	if err != nil {
		return nil, deny(RuleRewrite, "malformed parse tree")
	}
	out = protowire.AppendTag(out, protowire.Number(w.n.selLimitCount), protowire.BytesType)
	out = protowire.AppendBytes(out, limit)
	out = protowire.AppendTag(out, protowire.Number(w.n.selLimitOption), protowire.VarintType)
	return protowire.AppendVarint(out, w.n.limitCount), nil
}

// newLimit returns the encoded Node for the new LIMIT, or nil to keep the
// present one. A constant above max (or LIMIT ALL) becomes max; any other
// expression, such as a $1 parameter, becomes LEAST(expr::bigint, max).
func (w *walker) newLimit(sel []byte, max int) ([]byte, error) {
	cur, ok := findBytes(sel, w.n.selLimitCount)
	if !ok {
		return marshalNode(pg_query.MakeAConstIntNode(int64(max), -1))
	}
	m, inner, err := w.concrete(cur)
	if err != nil {
		return nil, err
	}
	if m.name == "A_Const" {
		w.readConst(inner) // the count decides the rewrite
	}
	switch {
	case m.name == "A_Const" && findVarint(inner, w.n.constIsNull) != 0:
		return marshalNode(pg_query.MakeAConstIntNode(int64(max), -1))
	case m.name == "A_Const":
		if n, ok := w.intConst(inner); ok {
			if n <= int64(max) {
				return nil, nil
			}
			return marshalNode(pg_query.MakeAConstIntNode(int64(max), -1))
		}
	case w.boundedLeast(m, inner, max):
		return nil, nil // already LEAST(..., n) with n <= max: our own rewrite
	}
	expr := &pg_query.Node{}
	if err := proto.Unmarshal(cur, expr); err != nil {
		return nil, deny(RuleRewrite, "cannot read the LIMIT expression")
	}
	return marshalNode(least(expr, max))
}

// intConst reads an integer A_Const.
func (w *walker) intConst(aConst []byte) (int64, bool) {
	iv, ok := findBytes(aConst, w.n.constIval)
	if !ok {
		return 0, false
	}
	return int64(int32(findVarint(iv, w.n.intVal))), true
}

// boundedLeast reports whether a LIMIT expression is LEAST(...) with an
// integer constant no larger than max among its arguments.
func (w *walker) boundedLeast(m *msgInfo, b []byte, max int) bool {
	if m.name != "MinMaxExpr" || findVarint(b, w.n.minmaxOp) != uint64(pg_query.MinMaxOp_IS_LEAST) {
		return false
	}
	for _, arg := range allBytes(b, w.n.minmaxArgs) {
		am, inner, err := w.concrete(arg)
		if err != nil || am.name != "A_Const" {
			continue
		}
		w.readConst(inner)
		if findVarint(inner, w.n.constIsNull) != 0 {
			continue
		}
		if n, ok := w.intConst(inner); ok && n <= int64(max) {
			return true
		}
	}
	return false
}

// least builds LEAST(expr::bigint, max). The cast keeps a $n parameter
// typed bigint, as it is under a plain LIMIT.
func least(expr *pg_query.Node, max int) *pg_query.Node {
	cast := &pg_query.Node{Node: &pg_query.Node_TypeCast{TypeCast: &pg_query.TypeCast{
		Arg: expr,
		TypeName: &pg_query.TypeName{
			Names:    []*pg_query.Node{pg_query.MakeStrNode("pg_catalog"), pg_query.MakeStrNode("int8")},
			Typemod:  -1,
			Location: -1,
		},
		Location: -1,
	}}}
	return &pg_query.Node{Node: &pg_query.Node_MinMaxExpr{MinMaxExpr: &pg_query.MinMaxExpr{
		Op:       pg_query.MinMaxOp_IS_LEAST,
		Args:     []*pg_query.Node{cast, pg_query.MakeAConstIntNode(int64(max), -1)},
		Location: -1,
	}}}
}

func marshalNode(n *pg_query.Node) ([]byte, error) {
	b, err := proto.Marshal(n)
	if err != nil {
		return nil, deny(RuleRewrite, fmt.Sprintf("cannot encode the LIMIT: %v", err))
	}
	return b, nil
}

// appendWireField re-encodes one field exactly as read.
func appendWireField(out []byte, f pbField) []byte {
	out = protowire.AppendTag(out, protowire.Number(f.num), f.typ)
	switch f.typ {
	case protowire.VarintType:
		return protowire.AppendVarint(out, f.u)
	case protowire.Fixed32Type:
		return protowire.AppendFixed32(out, uint32(f.u))
	case protowire.Fixed64Type:
		return protowire.AppendFixed64(out, f.u)
	}
	return protowire.AppendBytes(out, f.bytes)
}

// appendBytesField appends a length-delimited field.
func appendBytesField(out []byte, num int32, b []byte) []byte {
	out = protowire.AppendTag(out, protowire.Number(num), protowire.BytesType)
	return protowire.AppendBytes(out, b)
}

// rebuild re-encodes the ParseResult with the given RawStmt bytes and
// deparses it: the rewritten SQL comes from the tree, never from pasting
// text.
func (w *walker) rebuild(pb []byte, stmts [][]byte) (string, error) {
	out := make([]byte, 0, len(pb)+16)
	i := 0
	err := eachField(pb, func(f pbField) error {
		if f.num == w.n.resultStmts && f.typ == protowire.BytesType {
			out = appendBytesField(out, f.num, stmts[i])
			i++
			return nil
		}
		out = appendWireField(out, f)
		return nil
	})
	if err != nil {
		return "", deny(RuleRewrite, "malformed parse tree")
	}
	sql, err := parser.DeparseFromProtobuf(out)
	if err != nil {
		return "", deny(RuleRewrite, fmt.Sprintf("cannot deparse the bounded statement: %v", err))
	}
	return sql, nil
}

// rawWithSelect returns RawStmt bytes whose statement is the SelectStmt sel,
// keeping the RawStmt's other fields.
func (w *walker) rawWithSelect(raw, sel []byte) []byte {
	node := appendBytesField(nil, w.n.nodeSelect, sel)
	out := make([]byte, 0, len(raw)+16)
	_ = eachField(raw, func(f pbField) error {
		if f.num == w.n.rawStmt {
			out = appendBytesField(out, f.num, node)
			return nil
		}
		out = appendWireField(out, f)
		return nil
	})
	return out
}

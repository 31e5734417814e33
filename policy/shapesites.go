package policy

import (
	"strconv"

	pg_query "github.com/pganalyze/pg_query_go/v5"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// constSite is one A_Const of a parse tree, for matching the constants of
// a text to the tree: where it is, what value it holds, and whether the
// deparser prints it as a plain constant wherever a value of its kind
// stands there.
type constSite struct {
	loc   int32
	kind  tokKind // tokInt, tokDec (any Float) or tokStr; 0 for NULL, booleans, bit strings
	value string  // %d of an integer, a Float's text, a string's content
	plain bool
}

// constSites parses sql and lists its A_Consts. It is only called when a
// shape is learnt, so it may take the slow road through Go structs.
func constSites(sql string) ([]constSite, error) {
	res, err := pg_query.Parse(sql)
	if err != nil {
		return nil, err
	}
	var out []constSite
	collectSites(res.ProtoReflect(), nil, &out)
	return out, nil
}

// siteFrame is one step from the root: the message and the field of it
// that leads on (pg_query.Node wrappers are skipped).
type siteFrame struct {
	msg   protoreflect.Message
	field string
}

func collectSites(m protoreflect.Message, path []siteFrame, out *[]constSite) {
	if c, ok := m.Interface().(*pg_query.A_Const); ok {
		*out = append(*out, siteOf(c, path))
		return
	}
	_, isNode := m.Interface().(*pg_query.Node)
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind {
			return true
		}
		next := path
		if !isNode {
			next = append(path[:len(path):len(path)], siteFrame{msg: m, field: string(fd.Name())})
		}
		if fd.IsList() {
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				collectSites(l.Get(i).Message(), next, out)
			}
			return true
		}
		collectSites(v.Message(), next, out)
		return true
	})
}

func siteOf(c *pg_query.A_Const, path []siteFrame) constSite {
	s := constSite{loc: c.Location}
	if !c.Isnull {
		switch v := c.Val.(type) {
		case *pg_query.A_Const_Ival:
			s.kind, s.value = tokInt, strconv.Itoa(int(v.Ival.Ival))
		case *pg_query.A_Const_Fval:
			s.kind, s.value = tokDec, v.Fval.Fval
		case *pg_query.A_Const_Sval:
			s.kind, s.value = tokStr, v.Sval.Sval
		}
	}
	s.plain = s.kind != 0 && plainContext(path)
	return s
}

// plainFields are the places of an expression the deparser fills with
// deparseExpr, which prints an A_Const by deparseAConst: %d, a Float's
// text, or a quoted literal. libpg_query's deparser reads a constant's
// value only elsewhere: typmods (interval fields and precision), options
// and SET values, the NORMALIZE form, XMLROOT, LIMIT NULL, and a cast of
// 't' or 'f' to boolean, none of which is listed.
var plainFields = map[string]bool{
	"A_Expr.lexpr": true, "A_Expr.rexpr": true,
	"ResTarget.val":        true,
	"A_ArrayExpr.elements": true,
	"BoolExpr.args":        true,
	"CaseExpr.arg":         true, "CaseExpr.defresult": true,
	"CaseWhen.expr": true, "CaseWhen.result": true,
	"CoalesceExpr.args":       true,
	"MinMaxExpr.args":         true,
	"NullTest.arg":            true,
	"BooleanTest.arg":         true,
	"RowExpr.args":            true,
	"SelectStmt.limit_offset": true,
	"SortBy.node":             true,
	"SubLink.testexpr":        true,
	"NamedArgExpr.arg":        true,
	"A_Indices.lidx":          true, "A_Indices.uidx": true,
	"CollateClause.arg": true,
	"A_Indirection.arg": true,
}

// plainContext reports whether the A_Const at the end of path sits where
// the deparser prints it plainly.
func plainContext(path []siteFrame) bool {
	if len(path) == 0 {
		return false
	}
	top := path[len(path)-1]
	name := string(top.msg.Descriptor().Name())
	switch name {
	case "List":
		// x IN (1, 2), BETWEEN 1 AND 2, VALUES (1, 2)
		if len(path) < 2 {
			return false
		}
		up := path[len(path)-2]
		where := string(up.msg.Descriptor().Name()) + "." + up.field
		return where == "A_Expr.rexpr" || where == "SelectStmt.values_lists"
	case "FuncCall":
		fc := top.msg.Interface().(*pg_query.FuncCall)
		return top.field == "args" && fc.Funcformat == pg_query.CoercionForm_COERCE_EXPLICIT_CALL
	case "TypeCast":
		tc := top.msg.Interface().(*pg_query.TypeCast)
		if top.field != "arg" || tc.TypeName == nil || len(tc.TypeName.Names) == 0 {
			return false
		}
		typ := tc.TypeName.Names[len(tc.TypeName.Names)-1].GetString_().GetSval()
		// boolean 't' deparses as true; reg* literals share nothing.
		return typ != "" && typ != "bool" && typ != "boolean" && !isRegType(typ)
	}
	return plainFields[name+"."+top.field]
}

package policy

import (
	"errors"
	"slices"
	"testing"
)

// allowedNodeTypes is the closed list of node types a read-only statement
// may contain, as the walker had it before its dispatch became one table
// from type to visitor: a type added to the table, or one that leaves it,
// changes what the engine allows and must change here on purpose.
var allowedNodeTypes = []string{
	"A_ArrayExpr", "A_Const", "A_Expr", "A_Indices", "A_Indirection", "A_Star", "Alias",
	"BitString", "BoolExpr", "Boolean", "BooleanTest", "CTECycleClause", "CTESearchClause",
	"CaseExpr", "CaseWhen", "CoalesceExpr", "CollateClause", "ColumnDef", "ColumnRef",
	"Float", "FuncCall", "GroupingFunc", "GroupingSet", "Integer", "JoinExpr",
	"JsonAggConstructor", "JsonArrayAgg", "JsonArrayConstructor", "JsonArrayQueryConstructor",
	"JsonFormat", "JsonIsPredicate", "JsonKeyValue", "JsonObjectAgg", "JsonObjectConstructor",
	"JsonOutput", "JsonReturning", "JsonValueExpr", "List", "MinMaxExpr", "NamedArgExpr",
	"NullTest", "ParamRef", "RangeFunction", "RangeSubselect", "RangeTableFunc",
	"RangeTableFuncCol", "RangeTableSample", "RangeVar", "ResTarget", "RowExpr",
	"SQLValueFunction", "SelectStmt", "SortBy", "String", "SubLink", "TypeCast", "TypeName",
	"WindowDef", "XmlExpr", "XmlSerialize",
}

// TestVisitorDeniesEveryUnlistedNodeType: every message type of the parse
// tree outside the allowed list has no visitor, and visiting it is a
// policy denial (deniedNode), whatever it is (a statement, a clause, a
// primitive node); every listed one has a visitor.
func TestVisitorDeniesEveryUnlistedNodeType(t *testing.T) {
	s, err := newSchema()
	if err != nil {
		t.Fatal(err)
	}
	w := &walker{s: s, maxDepth: 10}
	denied := 0
	for name, m := range s.byName {
		if m == s.node {
			continue
		}
		listed := slices.Contains(allowedNodeTypes, name)
		if listed != (m.visit != nil) {
			t.Errorf("%s: listed %v, has a visitor %v", name, listed, m.visit != nil)
			continue
		}
		if listed {
			continue
		}
		denied++
		var d *denial
		if err := w.visit(m, nil, 0); !errors.As(err, &d) || d.state != SQLStateDenied {
			t.Errorf("%s: visiting it gives %v, want a policy denial", name, err)
		}
	}
	if denied < 100 {
		t.Errorf("only %d node types are denied: the schema is not pg_query's", denied)
	}
	for _, name := range allowedNodeTypes {
		if _, ok := s.byName[name]; !ok {
			t.Errorf("%s is in no parse tree", name)
		}
	}
}

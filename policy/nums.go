package policy

import "fmt"

// nums holds the field numbers the walker reads by name. They are looked
// up in the descriptors, not written down, so a pg_query upgrade that
// renumbers or renames a field stops New instead of misreading trees.
type nums struct {
	resultStmts, rawStmt                           int32
	nodeSelect                                     int32
	selInto, selLocking, selWith, selLimitCount    int32
	selLimitOption, selLimitOffset, selLarg, selOp int32
	withCtes, withRecursive                        int32
	cteName, cteQuery                              int32
	rvCatalog, rvSchema, rvRel                     int32
	fnName                                         int32
	strVal                                         int32
	castArg, castType, typeNames                   int32
	constSval, constIval, constIsNull, intVal      int32
	exprName                                       int32
	sampleMethod                                   int32
	explainQuery, explainOptions                   int32
	defName, defArg                                int32
	txKind, txOptions                              int32
	boolVal, floatVal, constBoolval                int32
	minmaxOp, minmaxArgs                           int32
	paramNumber                                    int32
	sortUseOp, subLinkOper                         int32
	colRefFields, indirList                        int32
	constLocation                                  int32
	scanTokens, scanTokenKind                      int32 // ScanResult.tokens, ScanToken.token
	fnArgs, typeArrayBounds, arrayElems, indirArg  int32
	fnVariadic                                     int32
	constFval                                      int32
	varKind, varName, varArgs, varLocal            int32
	deallocName                                    int32
	common                                         commonNums
	rt                                             rowTypeNums
	// LimitOption values of SelectStmt.limit_option.
	limitCount, limitWithTies uint64
	// TransactionStmtKind values of TransactionStmt.kind.
	txBegin, txStart, txCommit, txRollback uint64
}

type numLookup struct {
	s   *schema
	err error
}

func (l *numLookup) get(msg, field string) int32 {
	if l.err != nil {
		return 0
	}
	m, ok := l.s.byName[msg]
	if !ok {
		l.err = fmt.Errorf("policy: pg_query schema has no message %s", msg)
		return 0
	}
	n, err := m.number(field)
	if err != nil {
		l.err = err
	}
	return n
}

// enumValue is the number of the named value of an enum field.
func (l *numLookup) enumValue(msg, field, value string) uint64 {
	n := l.get(msg, field)
	if l.err != nil {
		return 0
	}
	v, ok := l.s.byName[msg].fields[n].enum[value]
	if !ok {
		l.err = fmt.Errorf("policy: pg_query schema: %s.%s has no value %s", msg, field, value)
	}
	return uint64(v)
}

func newNums(s *schema) (nums, error) {
	l := &numLookup{s: s}
	n := nums{
		resultStmts: l.get("ParseResult", "stmts"), rawStmt: l.get("RawStmt", "stmt"),
		nodeSelect: l.get("Node", "select_stmt"),
		selInto:    l.get("SelectStmt", "into_clause"), selLocking: l.get("SelectStmt", "locking_clause"),
		selWith: l.get("SelectStmt", "with_clause"), selLimitCount: l.get("SelectStmt", "limit_count"),
		selLimitOption: l.get("SelectStmt", "limit_option"), selLimitOffset: l.get("SelectStmt", "limit_offset"),
		selLarg: l.get("SelectStmt", "larg"), selOp: l.get("SelectStmt", "op"),
		withCtes: l.get("WithClause", "ctes"), withRecursive: l.get("WithClause", "recursive"),
		cteName: l.get("CommonTableExpr", "ctename"), cteQuery: l.get("CommonTableExpr", "ctequery"),
		rvCatalog: l.get("RangeVar", "catalogname"), rvSchema: l.get("RangeVar", "schemaname"),
		rvRel:  l.get("RangeVar", "relname"),
		fnName: l.get("FuncCall", "funcname"), strVal: l.get("String", "sval"),
		castArg: l.get("TypeCast", "arg"), castType: l.get("TypeCast", "type_name"),
		typeNames: l.get("TypeName", "names"),
		constSval: l.get("A_Const", "sval"), constIval: l.get("A_Const", "ival"),
		constIsNull: l.get("A_Const", "isnull"), intVal: l.get("Integer", "ival"),
		exprName:     l.get("A_Expr", "name"),
		sampleMethod: l.get("RangeTableSample", "method"),
		explainQuery: l.get("ExplainStmt", "query"), explainOptions: l.get("ExplainStmt", "options"),
		defName: l.get("DefElem", "defname"), defArg: l.get("DefElem", "arg"),
		txKind: l.get("TransactionStmt", "kind"), txOptions: l.get("TransactionStmt", "options"),
		boolVal: l.get("Boolean", "boolval"), floatVal: l.get("Float", "fval"),
		constBoolval: l.get("A_Const", "boolval"),
		minmaxOp:     l.get("MinMaxExpr", "op"), minmaxArgs: l.get("MinMaxExpr", "args"),
		paramNumber: l.get("ParamRef", "number"),
		sortUseOp:   l.get("SortBy", "use_op"), subLinkOper: l.get("SubLink", "oper_name"),
		colRefFields: l.get("ColumnRef", "fields"), indirList: l.get("A_Indirection", "indirection"),
		constLocation: l.get("A_Const", "location"),
		scanTokens:    l.get("ScanResult", "tokens"), scanTokenKind: l.get("ScanToken", "token"),
		limitCount:    l.enumValue("SelectStmt", "limit_option", "LIMIT_OPTION_COUNT"),
		limitWithTies: l.enumValue("SelectStmt", "limit_option", "LIMIT_OPTION_WITH_TIES"),
		txBegin:       l.enumValue("TransactionStmt", "kind", "TRANS_STMT_BEGIN"),
		txStart:       l.enumValue("TransactionStmt", "kind", "TRANS_STMT_START"),
		txCommit:      l.enumValue("TransactionStmt", "kind", "TRANS_STMT_COMMIT"),
		txRollback:    l.enumValue("TransactionStmt", "kind", "TRANS_STMT_ROLLBACK"),
		fnArgs:        l.get("FuncCall", "args"), fnVariadic: l.get("FuncCall", "func_variadic"), typeArrayBounds: l.get("TypeName", "array_bounds"),
		arrayElems: l.get("A_ArrayExpr", "elements"), indirArg: l.get("A_Indirection", "arg"),
		constFval: l.get("A_Const", "fval"),
		varKind:   l.get("VariableSetStmt", "kind"), varName: l.get("VariableSetStmt", "name"),
		varArgs: l.get("VariableSetStmt", "args"), varLocal: l.get("VariableSetStmt", "is_local"),
		deallocName: l.get("DeallocateStmt", "name"),
	}
	n.common = newCommonNums(l)
	n.rt = newRowTypeNums(l)
	return n, l.err
}

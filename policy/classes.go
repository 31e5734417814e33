package policy

import "strings"

// visitFunc judges one node: m is its message type, b its bytes, depth
// how deep in the tree it stands.
type visitFunc func(w *walker, m *msgInfo, b []byte, depth int) error

// visitor lists every node type a read-only statement may contain, with
// the walker's judgment of it. The list is closed on purpose: a node type
// added by a future pg_query, or one only DDL and DML use, has no visitor
// and is denied.
func visitor(name string) visitFunc {
	switch name {
	case "SelectStmt": // INTO, locking, WITH scoping, set operations
		return (*walker).selectStmt
	case "RangeVar": // relation reference
		return (*walker).rangeVar
	case "FuncCall": // function call
		return (*walker).funcCall
	case "TypeCast": // cast; literal casts to reg* types name objects
		return (*walker).typeCast
	case "A_Expr", "SortBy", "SubLink": // operator expression; OPERATOR(schema.op) is checked
		return (*walker).aExpr
	case "RangeTableSample": // TABLESAMPLE method
		return (*walker).tableSample
	case "ParamRef": // $n parameter
		return (*walker).param
	case "ColumnRef": // t.col, or t.fn: a call on the whole row
		return (*walker).columnRef
	case "A_Indirection": // (expr).field, or (expr).fn: a call
		return (*walker).indirection
	case "TypeName": // a type: making its values runs functions
		return (*walker).typeName
	case "JsonObjectConstructor", "JsonArrayConstructor", "JsonArrayQueryConstructor",
		"JsonObjectAgg", "JsonArrayAgg": // SQL/JSON constructor: a call on PostgreSQL 15
		return (*walker).jsonConstructor
	// The rest are allowed; their children are walked.
	case "A_Const", "A_Star", "A_Indices", "A_ArrayExpr",
		"Alias", "BoolExpr", "BooleanTest", "CaseExpr", "CaseWhen",
		"CoalesceExpr", "CollateClause", "GroupingSet",
		"GroupingFunc", "JoinExpr", "List", "MinMaxExpr", "NamedArgExpr",
		"NullTest", "RangeSubselect", "RangeFunction",
		"RangeTableFunc", "RangeTableFuncCol", "ResTarget", "RowExpr",
		"SQLValueFunction", "WindowDef",
		"XmlExpr", "XmlSerialize", "String", "Integer", "Float", "Boolean",
		"BitString", "CTESearchClause", "CTECycleClause",
		// ColumnDef appears in a SELECT only as the column definition list
		// of a function in FROM; anything DDL-only inside it (Constraint)
		// is denied on its own.
		"ColumnDef",
		// SQL/JSON constructors and IS JSON (PostgreSQL 16 syntax).
		"JsonFormat", "JsonReturning", "JsonValueExpr", "JsonOutput",
		"JsonKeyValue", "JsonAggConstructor", "JsonIsPredicate":
		return (*walker).generic
	}
	return nil
}

// statementKinds maps the statement node types that are not DDL to their
// Kind, for reporting.
var statementKinds = map[string]Kind{
	"SelectStmt":       KindSelect,
	"ExplainStmt":      KindExplain,
	"VariableShowStmt": KindShow,
	"TransactionStmt":  KindTransaction,
	"VariableSetStmt":  KindSet, "DiscardStmt": KindSet, "AlterSystemStmt": KindSet,
	"AlterRoleSetStmt": KindSet, "AlterDatabaseSetStmt": KindSet,
	"InsertStmt": KindDML, "UpdateStmt": KindDML, "DeleteStmt": KindDML, "MergeStmt": KindDML,
	"CopyStmt":    KindCopy,
	"PrepareStmt": KindPrepare, "ExecuteStmt": KindPrepare,
	"DeallocateStmt":    KindDeallocate,
	"DeclareCursorStmt": KindCursor, "FetchStmt": KindCursor, "ClosePortalStmt": KindCursor,
	"ListenStmt": KindNotify, "NotifyStmt": KindNotify, "UnlistenStmt": KindNotify,
	"DoStmt": KindProcedural, "CallStmt": KindProcedural,
	"LockStmt":   KindLock,
	"VacuumStmt": KindMaintenance, "CheckPointStmt": KindMaintenance, "ClusterStmt": KindMaintenance,
	"ReindexStmt": KindMaintenance, "LoadStmt": KindMaintenance,
	"GrantStmt": KindDCL, "GrantRoleStmt": KindDCL, "AlterDefaultPrivilegesStmt": KindDCL,
	"CreateRoleStmt": KindDCL, "AlterRoleStmt": KindDCL, "DropRoleStmt": KindDCL,
	"ReassignOwnedStmt": KindDCL, "DropOwnedStmt": KindDCL, "CreatePolicyStmt": KindDCL,
	"AlterPolicyStmt": KindDCL, "CreateUserMappingStmt": KindDCL, "AlterUserMappingStmt": KindDCL,
	"DropUserMappingStmt": KindDCL, "SecLabelStmt": KindDCL,
}

// statementKind maps a statement node type to its Kind: the table above,
// else DDL for any other statement.
func statementKind(name string) Kind {
	if k, ok := statementKinds[name]; ok {
		return k
	}
	if strings.HasSuffix(name, "Stmt") {
		return KindDDL
	}
	return KindUnknown
}

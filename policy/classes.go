package policy

import "strings"

// nodeClass says how the walker treats a parse-tree message type.
type nodeClass uint8

const (
	classDenied      nodeClass = iota // any type not listed below: deny
	classWrapper                      // pg_query.Node: a oneof around one concrete node
	classGeneric                      // allowed; its children are walked
	classSelect                       // SelectStmt: INTO, locking, WITH scoping, set operations
	classRangeVar                     // relation reference
	classFuncCall                     // function call
	classTypeCast                     // cast; literal casts to reg* types name objects
	classAExpr                        // operator expression; OPERATOR(schema.op) is checked
	classSample                       // TABLESAMPLE method
	classParam                        // $n parameter
	classColumnRef                    // t.col, or t.fn: a call on the whole row
	classIndirection                  // (expr).field, or (expr).fn: a call
	classTypeName                     // a type: making its values runs functions
	classJSONCall                     // SQL/JSON constructor: a call on PostgreSQL 15
)

// classify lists every node type a read-only statement may contain. The
// list is closed on purpose: a node type added by a future pg_query, or one
// only DDL and DML use, falls to classDenied.
func classify(name string) nodeClass {
	switch name {
	case "SelectStmt":
		return classSelect
	case "RangeVar":
		return classRangeVar
	case "FuncCall":
		return classFuncCall
	case "TypeCast":
		return classTypeCast
	case "A_Expr", "SortBy", "SubLink":
		return classAExpr
	case "RangeTableSample":
		return classSample
	case "ParamRef":
		return classParam
	case "ColumnRef":
		return classColumnRef
	case "A_Indirection":
		return classIndirection
	case "TypeName":
		return classTypeName
	case "JsonObjectConstructor", "JsonArrayConstructor", "JsonArrayQueryConstructor",
		"JsonObjectAgg", "JsonArrayAgg":
		return classJSONCall
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
		return classGeneric
	}
	return classDenied
}

// statementKind maps a statement node type to its Kind, for reporting.
func statementKind(name string) Kind {
	switch name {
	case "SelectStmt":
		return KindSelect
	case "ExplainStmt":
		return KindExplain
	case "VariableShowStmt":
		return KindShow
	case "TransactionStmt":
		return KindTransaction
	case "VariableSetStmt", "DiscardStmt", "AlterSystemStmt", "AlterRoleSetStmt", "AlterDatabaseSetStmt":
		return KindSet
	case "InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt":
		return KindDML
	case "CopyStmt":
		return KindCopy
	case "PrepareStmt", "ExecuteStmt":
		return KindPrepare
	case "DeallocateStmt":
		return KindDeallocate
	case "DeclareCursorStmt", "FetchStmt", "ClosePortalStmt":
		return KindCursor
	case "ListenStmt", "NotifyStmt", "UnlistenStmt":
		return KindNotify
	case "DoStmt", "CallStmt":
		return KindProcedural
	case "LockStmt":
		return KindLock
	case "VacuumStmt", "CheckPointStmt", "ClusterStmt", "ReindexStmt", "LoadStmt":
		return KindMaintenance
	case "GrantStmt", "GrantRoleStmt", "AlterDefaultPrivilegesStmt", "CreateRoleStmt",
		"AlterRoleStmt", "DropRoleStmt", "ReassignOwnedStmt", "DropOwnedStmt",
		"CreatePolicyStmt", "AlterPolicyStmt", "CreateUserMappingStmt",
		"AlterUserMappingStmt", "DropUserMappingStmt", "SecLabelStmt":
		return KindDCL
	}
	if strings.HasSuffix(name, "Stmt") {
		return KindDDL
	}
	return KindUnknown
}

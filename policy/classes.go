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

// visitFunc judges one node: m is its message type, b its bytes, depth
// how deep in the tree it stands.
type visitFunc func(w *walker, m *msgInfo, b []byte, depth int) error

// visitors says how the walker treats each class; classDenied has none.
// newSchema stores the entry in each msgInfo and visit calls it from
// there: a visit that read this table would make its initialisation a
// cycle (the visitors call visit).
var visitors = [...]visitFunc{
	classWrapper:     (*walker).unwrap,
	classGeneric:     (*walker).generic,
	classSelect:      (*walker).selectStmt,
	classRangeVar:    (*walker).rangeVar,
	classFuncCall:    (*walker).funcCall,
	classTypeCast:    (*walker).typeCast,
	classAExpr:       (*walker).aExpr,
	classSample:      (*walker).tableSample,
	classParam:       (*walker).param,
	classColumnRef:   (*walker).columnRef,
	classIndirection: (*walker).indirection,
	classTypeName:    (*walker).typeName,
	classJSONCall:    (*walker).jsonConstructor,
}

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

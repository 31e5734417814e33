package policy

import pg_query "github.com/pganalyze/pg_query_go/v5"

// SQLSTATEs the engine answers with.
const (
	// SQLStateDenied is insufficient_privilege: every policy denial,
	// including oversized or malformed input.
	SQLStateDenied = "42501"
	// SQLStateSyntax is syntax_error: the text is not valid PostgreSQL
	// SQL, exactly what the server would have answered.
	SQLStateSyntax = "42601"
)

// Rule ids name the rule that fired. They are stable: tests, logs and
// users match on them.
const (
	RuleInput         = "input"           // empty, oversized, NUL, invalid UTF-8
	RuleDepth         = "input.depth"     // nesting deeper than the engine walks
	RuleParse         = "parse"           // pg_query could not parse the text
	RuleProfile       = "profile"         // the identity names no known profile
	RuleMultiStmt     = "multi_statement" // more than one statement in one text
	RuleKind          = "statement.kind"  // statement kind not allowed
	RuleSettings      = "settings.change" // SET, RESET, DISCARD, ALTER SYSTEM, SET ROLE, ...
	RuleReadWrite     = "transaction.read_write"
	RuleExplain       = "explain.analyze" // EXPLAIN ANALYZE executes its target
	RuleExplainOption = "explain.option"  // an EXPLAIN option the engine does not know
	RuleWritableCTE   = "cte.writable"    // INSERT/UPDATE/DELETE/MERGE inside WITH
	RuleSelectInto    = "select.into"     // SELECT INTO creates a table
	RuleLocking       = "select.locking"  // FOR UPDATE/SHARE takes row locks
	RuleNode          = "node.kind"       // a parse-tree node the engine does not allow
	RuleRelation      = "relation.denied" // relation not readable in this profile
	// With an online catalog that knows every relation (ClassCatalog):
	RuleSequence        = "relation.sequence"  // a sequence read as a relation
	RulePartition       = "relation.partition" // a partition read by its own name
	RuleRelationKind    = "relation.kind"      // an index or composite type named as a relation
	RuleRelationUnknown = "relation.unknown"   // a name the catalog does not list
	RuleFunction        = "function.denied"    // function on a deny list or outside readable schemas
	RuleVolatile        = "function.volatile"
	RuleUnknownFunc     = "function.unknown" // no catalog entry: cannot judge it
	RuleOperator        = "operator.schema"  // OPERATOR(schema.op) outside pg_catalog
	RuleWithTies        = "limit.with_ties"  // FETCH ... WITH TIES cannot be bounded
	RuleRewrite         = "limit.rewrite"    // the LIMIT rewrite failed
)

// RuleExplainRowSecurity denies, with an online catalog, EXPLAIN of a
// statement that reads a relation with row-level security (or a view,
// or calls a function outside pg_catalog, which may be inlined): the
// planner estimates from every identity's rows.
const RuleExplainRowSecurity = "explain.row_security"

// Verdict is the engine's decision on one statement text. Verdicts are
// shared with the cache: treat the slices as read-only.
type Verdict struct {
	Allowed   bool
	SQLState  string // "" when allowed
	Rule      string // rule id that denied; "" when allowed
	Reason    string
	Kind      Kind
	Relations []RelationName // relations read, schema-qualified
	Functions []FunctionName // functions called by name (f(x), (x).f, t.f), schema-qualified as resolved
	// Implicit are functions that may run without call syntax, judged
	// like the named ones: a field selection that is not a column
	// ((x).f, t.f), and functions outside pg_catalog behind the operators
	// and types the statement uses (an extension type's equality, a
	// domain's CHECK).
	Implicit  []FunctionName
	Rewritten string // SQL to send instead of the original; "" if unchanged
	// Setting is the client setting an allowed KindClientSetting
	// statement chooses; nil for every other verdict.
	Setting *ClientSetting
	// Deallocate is what an allowed KindDeallocate statement forgets;
	// nil for every other verdict.
	Deallocate *Deallocation
	// EndsEarly says a COMMIT or ROLLBACK of the text comes before
	// another of its statements, which so runs in a transaction of its
	// own, begun by the server without anything the door set for the
	// first one.
	EndsEarly bool
}

// Err returns the denial as an error, or nil when the verdict allows.
func (v Verdict) Err() *Error {
	if v.Allowed {
		return nil
	}
	return &Error{SQLState: v.SQLState, Rule: v.Rule, Message: "pgmoat: " + v.Rule + ": " + v.Reason}
}

// SQL returns the text to send to the backend: the rewrite if any.
func (v Verdict) SQL(original string) string {
	if v.Rewritten != "" {
		return v.Rewritten
	}
	return original
}

// Error is a policy denial as the front doors report it: an ErrorResponse
// with SQLState and Message on the wire, an isError tool result over MCP.
type Error struct {
	SQLState string
	Rule     string
	Message  string // starts with "pgmoat: <rule>: "
}

func (e *Error) Error() string { return e.Message }

// denial is how the walker stops at the first rule that fires.
type denial struct {
	state  string
	rule   string
	reason string
	kind   Kind
}

func (d *denial) Error() string { return d.rule + ": " + d.reason }

func deny(rule, reason string) *denial {
	return &denial{state: SQLStateDenied, rule: rule, reason: reason}
}

// Normalize replaces every literal in sql with a $n placeholder, for logs
// that must never carry values. It returns "" when the text does not
// parse, so a caller never logs a text it could not scrub.
func Normalize(sql string) string {
	out, err := pg_query.Normalize(sql)
	if err != nil {
		return ""
	}
	return out
}

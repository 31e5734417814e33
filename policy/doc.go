// Package policy is pgmoat's one decision point. Every statement that may
// reach PostgreSQL, whether typed into psql, sent by a driver through the
// proxy, or built by pgmoat for an MCP tool call, is judged here by
// Engine.Decide, which returns a Verdict: allow or deny, the SQLSTATE, the
// rule that fired and why, the statement kind, the relations and functions
// it touches (RelationName and FunctionName values: schema and name apart,
// compared as values, never through their text), and the SQL to send when
// the engine rewrote it.
//
// The package owns statement kinds, relation, function and setting rules,
// the LIMIT rewrite, the verdict cache, profiles and the SQLSTATE errors.
// It imports no network package and no other pgmoat package, so the
// little it shares with the doors lives here too: the JSON string and
// white-space reading (ReadJSONString, SkipJSONSpace) that the parse-tree
// transcoder uses and the MCP door reads tool-call arguments with.
//
// # How a statement is judged
//
// The text is checked for size, NUL bytes, UTF-8 and (for long texts) a
// bound on nesting taken from PostgreSQL's scanner, because libpg_query
// recurses in C and would take the process down on a 30,000-level
// expression. It is then parsed by libpg_query into JSON, which is
// transcoded into protobuf bytes (see jsontree.go for why), and the
// whole tree is walked in place: every allowed node type has a visitor
// (classes.go), the list is closed, and anything else — an unknown node,
// an unknown field, a statement type nested where it should not be —
// denies. Parse failures deny with SQLSTATE 42601; every other denial
// uses 42501.
//
// The readonly profile allows SELECT (with VALUES, TABLE, set operations
// and WITH of SELECTs), EXPLAIN without ANALYZE of a SELECT, SHOW,
// BEGIN/START TRANSACTION (never READ WRITE), COMMIT and ROLLBACK, one
// statement per text. Relations resolve on the profile's fixed search path
// (pg_catalog first, as PostgreSQL does); pg_catalog and
// information_schema are readable except for a built-in list of sensitive
// relations. With an online catalog (ClassCatalog) a name read as a
// relation resolves over every relation kind, as the server resolves
// it, and only tables, views, materialized views, partitioned tables
// and foreign tables are read: a sequence (its position counts rows past
// row-level security), a partition or an inheritance child of a table
// with row-level security by its own name (read without its parent's
// policies), an index or composite type, and a name the catalog
// does not list are denied; so is EXPLAIN of a statement that reads a
// relation with row-level security, a view or a function outside
// pg_catalog (its estimates come from every identity's rows). Every function PostgreSQL will call is judged, whatever the
// syntax that makes it call one: f(x), field selection ((x).f is f(x),
// t.f is f(t)), operators, casts and typed literals, FROM-clause
// functions; README.md maps each syntax to the code that judges it. Deny
// lists come first, then the allow list, then volatility (immutable and
// stable pass, volatile and unknown deny). Volatility comes from a FunctionCatalog:
// offline the table in catalog_gen.go, generated from a real PostgreSQL by
// `go generate` (internal/gencatalog); online the introspected catalog,
// swapped in with SetFunctions.
//
// The parameter type OIDs of a Parse message are judged by
// DecideParameterTypes, each as the cast $n::type would be: the server
// makes a bound value with its type's input function, and runs a
// domain's CHECKs, whatever the statement. An OID neither in pg_catalog's
// fixed table nor in the online catalog (TypeCatalog) is denied.
//
// A SELECT whose row count is not bounded by a constant no larger than the
// profile's MaxRows gets one: LIMIT max_rows added or lowered, FETCH FIRST
// likewise, a $n parameter wrapped as LEAST($n::bigint, max_rows). The
// edit is made on the parse tree and deparsed by libpg_query, and the
// deparsed text is judged again before it is returned: it must be allowed
// as it stands, read the same relations and call the same functions.
//
// A cache miss holds its text's length in a budget of bytes judged at
// once (Options.MaxJudgeBytes), because judging costs a few hundred times
// the text in memory; a statement that finds no room in time is refused
// with SQLSTATE 53200 and rule input.busy (budget.go).
//
// Verdicts are cached by (catalog generation, profile, exact text). Texts
// are never normalized for that cache: a literal can change a verdict
// ('pg_authid'::regclass, LIMIT 10 against LIMIT 10000), see
// TestCacheKeyIsExactText. DecideQuery, for simple-protocol texts, adds a
// cache keyed by the text's shape (its tokens without the values of its
// constants) that shares a verdict only between texts whose differing
// constants the verdict provably does not depend on, and splices the
// constants into a template of the rewrite; README.md ("Shape cache")
// gives the argument.
//
// README.md in this directory lists the rules and the measured costs.
package policy

// Package mcp is pgmoat's MCP front end.
//
// This part of the package owns tool generation: a pure function from an
// introspect.Snapshot and GenerateOptions to a ToolSet, the typed tool
// specifications an LLM reads and the SQL builder executes. A ToolSpec
// carries everything the builder needs — the relation as catalog
// identifiers, each parameter's kind, column, PostgreSQL type and JSON
// Schema, the text-search method, the primary key used for keyset cursors
// and the row limit — so the builder never re-reads the catalog and never
// takes an identifier from a caller.
//
// Naming. A relation in schema public becomes query_<table>; elsewhere
// query_<schema>_<table>. Names are normalized to lower-case ASCII letters,
// digits and underscores (Latin accents are stripped, anything else becomes
// an underscore) and capped at 64 bytes. When two relations normalize to the
// same tool name, the one whose exact name already is the normalized form
// (if exactly one is) keeps it and every other one gets "_" plus the first
// six hex digits of the SHA-256 of its exact "schema.table"; a name cut at
// 64 bytes gets the same
// suffix. The suffix depends only on the relation's own name, so it does
// not change when other tables come and go. Parameter names follow the same
// rule per column, and the fixed parameters (limit, order_by, columns,
// cursor) always keep their names. Nothing is ever overwritten silently:
// every suffix is reported in ToolSet.Warnings.
//
// Filters follow the indexes: equality (<col>, <col>_in) for the leading
// column of a valid, non-partial btree or hash index and for every
// primary-key column; ranges (<col>_gte, <col>_lte) and order_by for the
// leading column of a btree index over an orderable type; <col>_search for
// a tsvector column in a GIN or GiST index, for a text column in a pg_trgm
// index, and for a column indexed as to_tsvector('<config>', <col>).
// Partial indexes and other expression indexes produce no filters: they
// would promise a cheap filter the planner cannot deliver.
//
// Tokens. A tool says each thing once: the description carries the
// relation's COMMENT, every returned column with its COMMENT and the
// related tools, on one line; the input schema the parameters, with only
// what a model needs to write a call (a column's type, format or enum on
// its first parameter; <col>_in is an untyped array and <col>_gte/_lte an
// empty schema, since the name says what they are; a _search says
// "substring" or "full-text"); the output schema the column types (an
// enum by its labels alone). The conventions all tools share (what the
// suffixes mean, how each kind of search matches) are said once, in the
// server's instructions. Bounds the server checks (integer ranges, list
// and string lengths, the decimal pattern) stay in Param.Schema, which
// argument validation uses, and are not published (publishParam).
//
// Listing (generate_budget.go). tools/list stays within
// GenerateOptions.TokenBudget, in EstimateTokens' count: when every table
// tool fits they are all listed; otherwise list_tables, describe_table and
// query_table are listed with the most useful table tools that fit, in
// order of usefulness (documented, related, big), and the rest are marked
// Unlisted and reached through query_table. The golden tools/list files
// are counted by a real tokenizer (testdata/tokens) and held to budgets.
//
// The doors agree (invariant 11): tools/list shows a caller only the table
// and entity tools whose widest statement (every filter, every column)
// the policy allows for the caller's profile; Admit makes that judgement,
// cached per tool set, engine generation and profile, and says why each
// other tool was left out. The discovery tools answer from the same
// judgement: list_tables, describe_table and query_table know only the
// table tools tools/list would show the caller, and so do the resources
// (resources/list, pgmoat://schema, the table resources) and the
// explore_database prompt, and a description names only the related
// tools the caller is shown (describeFor). A relation no profile may read at all
// (GenerateOptions.Readable, which asks the policy) gets no tool, so it
// takes neither a tool name nor a place in the token budget.
//
// Result size. A page never exceeds Options.MaxResultBytes (the JSON of
// its rows): rows are kept while they fit and the page is marked
// truncated, with a cursor. The Executor is asked to keep no more than
// twice the budget of text (JSON can be smaller than the text form, as
// bytea's base64 is), so a huge value is never held; a first row that
// alone is larger than the budget is refused with a tool error naming its
// largest columns and the columns argument that leaves them out.
//
// Request ids. The SDK does not show a tool handler the JSON-RPC id of the
// call it serves, so the transports the Server sets up (Run, HTTPHandler)
// copy it into the call's _meta under MetaRequestID before the SDK reads
// the message; CallRecord.RequestID carries it to the log. The usual
// message (no escapes, no repeated names, a plain id) is read by a scan
// rather than decoded, and written as the same bytes the decoding path
// writes (FuzzStampPlainMessage holds the two together). Over HTTP such
// a message is not rewritten at all: its id goes in a request header no
// client can send (headerRequestID), which the SDK hands the tool
// handler with the call, so the body the SDK decodes carries no _meta of
// pgmoat's.
//
// Arguments. A call's arguments object is read by a direct scan of its
// bytes (argscan.go), not by encoding/json's reflective decoder: the
// members sorted by name, a repeated name keeping its last value, values
// as encoding/json would decode them. Input the scan does not take
// (malformed JSON, invalid UTF-8, deep nesting, trailing data) goes to
// encoding/json, which accepts what it always did and words the error,
// so validation sees the same values and says the same things either
// way (FuzzParseArgs holds the two together). EachArgument gives a
// logger the same view without decoding the values it will redact.
//
// Encoding. A page's rows are appended as JSON once, from the driver
// values (shapeRows), and the whole CallToolResult is written from those
// bytes (encodePage). Receiving middleware hands the SDK a result that
// marshals to them; on the transports the Server sets up (Run,
// HTTPHandler) it marshals to a one-use placeholder instead, which the
// writer under the SDK replaces by the bytes, so the SDK neither
// re-encodes nor re-scans a page (splice.go). Over HTTP a POST is
// answered with one application/json body, not an event stream: pgmoat
// sends nothing while a call runs, so the stream's framing and its extra
// writes would buy nothing. The body is held until the SDK's handler is
// done and sent with its Content-Length, not chunked.
//
// Stateless HTTP. HTTPOptions.Stateless serves each POST without an MCP
// session, for instances behind a plain load balancer: the caller comes
// with every request's token and cursors are signed with a key the
// instances share; list_changed notifications, GET streams and the
// per-caller session cap do not exist in that mode.
//
// HTTP bounds. HTTPHandler answers a request without a valid token 401
// before reading any of its body and ends the connection (auth.go); a
// token holder's POST body has HTTPOptions.BodyTimeout to arrive, a
// deadline on that request alone (deadline.go), so GET event streams are
// never cut; each write of a POST response has HTTPOptions.WriteTimeout
// to be taken, set afresh before every write, so a client that stops
// reading a large answer is disconnected and a long tool call is not
// (writedeadline.go); a caller holds at most MaxSessionsPerCaller
// sessions, and a session with no request for SessionTimeout is closed
// with its goroutines (sessions.go). Bounding connections (header and
// idle timeouts, a cap on how many) is the http.Server's job, set up by
// the caller, as is a listener that logs failed Accepts, rate-limited,
// and backs off on a temporary one (out of file descriptors); it calls
// Server.AcceptFailed for each, which Stats.AcceptErrors counts
// (accept.go).
//
// OAuth. With AuthOptions.Resource set the HTTP door is an OAuth 2.1
// protected resource (package oauth): its RFC 9728 metadata is served
// beside Path, every 401 and 403 carries a challenge naming it, tokens
// from a provider (JWTs against its key set, opaque ones through
// introspection) map to identities through their claims, and a
// tools/call needs the scopes AuthOptions.ToolScopes lists for its tool
// (toolscopes.go). The Authenticator verifies the token itself and hands
// the result to the SDK's bearer middleware, which puts it where the
// SDK's session handling looks.
package mcp

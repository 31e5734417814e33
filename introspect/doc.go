// Package introspect reads the PostgreSQL catalog into an immutable Snapshot
// and keeps it current.
//
// It owns everything pgmoat knows about the shape of the backend database:
// schemas, tables, views, materialized views, partitioned tables (their
// parents; partitions are an implementation detail of the parent), foreign
// tables, their columns and types (domains resolved to their base type,
// enums with their labels, arrays with their element type), comments,
// indexes, primary and foreign keys in both directions, row-level-security
// flags, estimated row counts, and the volatility of every function, which
// the policy engine consults. Classes lists every relation name of the
// user schemas whatever its kind (sequences, indexes, composite types,
// partitions, extensions' relations, and which are inheritance children
// of a table with row-level security), so the policy engine resolves a
// name in FROM as the server does and judges what it names.
// Types lists the types a Parse message may name by OID beyond
// pg_catalog's fixed ones, so the engine can judge a parameter type as a
// cast to it; a domain's CHECK counts, among a type's implicit calls,
// the functions behind the operators it uses, and pg_catalog's functions
// too (read from the stored expression: pg_depend omits pinned objects).
//
// The catalog is read from pg_catalog rather than information_schema, which
// hides indexes, RLS flags and anything the connected role does not own. All
// queries run in one read-only repeatable-read transaction, sent as one
// batch: the snapshot is consistent, and the number of round trips does not
// grow with the number of tables. The transaction runs with JIT off: the
// planner's estimates for the recursive catalog queries are far too high,
// and compiling them cost seconds per load where running them costs
// milliseconds.
//
// A Snapshot is never modified after Load returns it, so readers share it
// without locks. Diff compares two snapshots: the relations one by one,
// and the functions, classes, types, implicit calls and extensions the
// policy judges by, so a reload that changed only those still reports a
// change and the engine follows it. Reloader re-reads the catalog
// on a timer, on NOTIFY pgmoat_reload and on demand, and publishes each new
// snapshot with an atomic swap. The Reloader is given the primary's DSN
// even when the reads go to replicas: a NOTIFY is not replayed on a
// replica, so the LISTEN (and the catalog read) must be on the primary.
// Its first load waits for a server that is
// restarting (ReloaderOptions.StartupRetry), since pgmoat may start just
// as its database does; any other failure is reported at once.
package introspect

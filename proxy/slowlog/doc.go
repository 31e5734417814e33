// Package slowlog captures slow statements from both doors with their
// plan, for the admin console's SHOW SLOW and the log.
//
// A statement over its profile's slow_threshold (policy's default when
// the profile sets none) is explained after it finished, outside the
// caller's time budget: EXPLAIN (VERBOSE, FORMAT JSON) of its generic
// plan, under the same identity, through the proxy's executor. Only the
// text with $n placeholders and the parameter types are ever sent or
// logged, never a value: a psql text has its literals replaced by $n
// first (policy.NormalizeTyped), each typed as its literal was, so
// generate_series(1, 10) still resolves; a text that cannot be
// normalized is recorded without a plan. At most one EXPLAIN starts per
// interval, on its own goroutine, so the proxy's session loop never
// waits for one. Close stops new EXPLAINs and waits for those running;
// it must run before the pool closes.
//
// SummarizePlan turns the JSON plan into one line and, where a
// sequential scan filters on a column, the CREATE INDEX that would help.
package slowlog

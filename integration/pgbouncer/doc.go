// Package pgbouncer runs a throwaway PgBouncer (the Debian package's
// binary) in front of a PostgreSQL server, for tests that put pgmoat
// behind an external pooler and for benchmarks that compare with one.
//
// Start owns the PgBouncer process and a private directory with its
// configuration and user list; Close stops the process and removes the
// directory. Command writes the same configuration into a directory the
// caller owns and leaves running the process to it (the benchmark harness
// supervises PgBouncer with its other children to measure it). When the calling process is root, PgBouncer runs as the
// "postgres" account, since it refuses to run as root: the account
// pgcluster.LookupServerAccount picks for the PostgreSQL servers too.
package pgbouncer

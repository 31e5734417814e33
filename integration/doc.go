// Package integration holds pgmoat's end-to-end tests: the built binary
// against a real throwaway PostgreSQL, driven by real clients. Its
// subpackages are the helpers the tests, the demo and the benchmarks
// share: pgcluster (throwaway PostgreSQL), shop (the demo database) and
// pgbouncer (a throwaway PgBouncer).
package integration

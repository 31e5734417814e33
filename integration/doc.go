// Package integration holds pgmoat's end-to-end tests: the built binary
// against a real throwaway PostgreSQL, driven by real clients. Its
// subpackages are the helpers the tests, the demo and the benchmarks
// share: pgcluster (throwaway PostgreSQL), shop (the demo database),
// pgbouncer (a throwaway PgBouncer), oidc (a real OpenID provider) and
// inspector (the MCP Inspector CLI at the one release the tests drive).
package integration

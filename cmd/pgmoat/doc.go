// Command pgmoat is the single pgmoat binary: a PostgreSQL wire-protocol
// proxy and an MCP front end sharing one policy engine and one pool.
//
// This package only wires things together: it parses the command line,
// loads the configuration (package config) and assembles the parts. The
// concerns it plugs in live in packages of their own: config (the file,
// its defaults and validation), telemetry (metrics, logs, tool-call
// records, tracing), live (RELOAD and SIGHUP, profiles following the
// schema), mcpdoor (the MCP door built from the config, and the executor
// adapter classifying failures) and proxy/slowlog (slow-statement plans).
//
// startStack (stack.go) validates the whole config first, opens the pool,
// reads the schema, builds both doors and only then listens; everything
// opened is pushed on one cleanup stack, which a failed start and stop
// both unwind, last opened first (the slow log before the pool, the pool
// before the tracer flush). Subcommands:
//
//	pgmoat serve   --config F      proxy and MCP over HTTP
//	pgmoat mcp     --config F      MCP over stdio
//	pgmoat check   [SQL ...]       policy verdicts, offline
//	pgmoat tools   --config F      the generated MCP tools
//	pgmoat doctor  --config F      checks the backend role and schema
//	pgmoat demo                    everything on a throwaway database
//	pgmoat version
//
// Exit status: 0 success, 1 a verdict or check said no, 2 usage or
// configuration error.
package main

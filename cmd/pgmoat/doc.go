// Command pgmoat is the single pgmoat binary: a PostgreSQL wire-protocol
// proxy and an MCP front end sharing one policy engine and one pool.
//
// This package only wires things together: it parses the command line,
// loads the configuration (package config) and hands plain values to the
// proxy, mcp, policy and introspect packages. Subcommands:
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

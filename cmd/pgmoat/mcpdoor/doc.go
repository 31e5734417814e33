// Package mcpdoor builds the MCP door from the configuration, on the
// engine and pool the proxy door shares.
//
// ServerOptions and NewAuthenticator validate the mcp section (data
// wrapper, cursor secret, byte limits, tokens, JWT and its key file)
// and are called before anything listens, so a bad section is reported
// without a port taken or a line saying pgmoat is up. New then reads the
// catalog, generates the tools and builds the server; Run keeps the tools
// in step with the schema (LISTEN/NOTIFY, and a re-read when a call finds
// the schema stale), and ReloadSchema re-reads it for RELOAD and SIGHUP.
// ServeHTTP serves streamable HTTP at /mcp with /metrics beside it, under
// mcp.http's bounds (header, body and idle timeouts; a connection cap),
// on a listener that backs off on temporary Accept errors: the proxy's
// (proxy.NewBackoffListener), wired here because mcp and proxy never
// import each other, with each failure counted by mcp.Server.AcceptFailed.
//
// Executor adapts the proxy's in-process executor to mcp.Executor. mcp
// and proxy never import each other, so this is where a failure is
// classified for the LLM: a policy denial stays as it is, a server error
// keeps its SQLSTATE, an exhausted pool is 53300, a cancellation stays a
// cancellation, and anything else means the database is unavailable.
package mcpdoor

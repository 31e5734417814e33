// Package telemetry is what pgmoat reports about itself, shared by both
// doors: the Prometheus registry served at /metrics (the proxy registers
// its own metrics in it; the policy engine's and the MCP server's cache
// counters are read at scrape time), the per-tool statistics of SHOW
// TOOLS (a ring of each tool's last 2,048 latencies for p50 and p99), the
// structured logger, one log record per MCP tool call, and the
// OpenTelemetry tracer provider.
//
// Logs never carry a secret or a value the caller did not opt in to:
// every string and error goes through config.RedactDSN, and a tool call's
// arguments are logged by name with their values replaced by
// "[redacted]" unless mcp.log_values lists them (as "argument" or
// "tool.argument"; AllowValues swaps the list on RELOAD). The names are
// read from the call's JSON text as pgmoat reads them (mcp.EachArgument:
// sorted, each once, the last value winning) and written as one object
// (a group in text logs); a redacted value is skipped by the scanner,
// never decoded or copied. The record is built as slog attributes, with
// no map and no reflection: it is written on every call. A call's
// request_id is the client's JSON-RPC id as sent (capped at 128 bytes;
// a string id stays quoted, so it cannot pass for a generated one), or a
// random 16-character id when there is none.
//
// Tracing is off unless the standard OTEL_EXPORTER_OTLP_* variables name
// a collector; Shutdown flushes the last spans and must run on every exit
// path once StartTracing succeeded.
package telemetry

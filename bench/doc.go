// Command bench measures pgmoat side by side with what its users would
// otherwise run, on the same machine and in the same run, and writes a
// report (JSON, Markdown and SVG charts) under bench/results/.
//
// It owns the whole set-up of a run: a throwaway PostgreSQL with pgbench data
// and the shop demo database, PgBouncer in transaction mode with the same pool
// size as pgmoat, pgmoat itself, and the peer MCP servers installed from npm.
// Everything it starts lives under one temporary directory and is stopped
// and removed when the run ends, including when it is interrupted.
//
// Scenarios: pooled throughput (pgbench -S in the three query modes),
// connection storms, memory per idle client (SCRAM and md5 logins, with
// a heap profile of pgmoat holding them, runtime memory statistics
// included, next to the report), MCP calls per second and latency (every server returns the same 50-row
// page of orders, checked before it is timed; each server's tools/list in bytes and in
// tokens), introspection and tool generation time (with the tokens of the
// tools/list each synthetic schema gets by default),
// the policy engine's Go benchmarks, and read replicas (pgbench -S through
// pgmoat on the primary alone and through pgmoat on two streaming
// replicas started on the same machine, with how the lendings fell on the
// hosts: it shows the routing's correctness and cost, not the throughput
// replicas add, since all servers share the machine's cores), and faults
// (last, since it restarts the server): the seconds PgBouncer and pgmoat
// need after a fast restart of the server until every new session
// succeeds, and their peak RSS while 20 clients read a 50 MB value each
// (-only faults). Runs alternate between targets (A B C A B C …) and the
// report gives medians and ratios, because the machines this runs on are
// small and noisy. Every pgbench run also reports the CPU time the pooler
// process and PostgreSQL (all server processes, from /proc) spent per
// transaction over a window past the clients' logins, and each pooler's
// cell gets its system calls per transaction from one more run under
// strace -c (n/a without strace), whose table is kept next to the report
// (strace-<target>-<mode>-<clients>.txt). A target whose tool is missing is skipped with a line in
// the report; the rest of the run goes on. -mcp-targets picks MCP servers (the npm peers are
// installed only when one is picked); -mcp-profile N saves CPU and allocation profiles of
// pgmoat (HTTP) over its first run with N sessions, with their tops, next to the report.
//
// Tokens are counted with the counter the golden tools/list tests use
// (mcp/testdata/tokens: a real tokenizer from npm, installed into the
// run's directory), so they match the golden files' counts; without npm
// or node they are reported as not counted, with bytes / 4 beside.
//
// The report opens with a targets table: every numbered goal of the
// proxy hot-path and MCP issues (14 and 15) with its figure from this run
// and met, MISSED, not measured (the run lacked the cells it needs, or a
// test rather than the harness checks it) or declined (measured and not
// kept, with the reason), followed by the harness's own older targets.
//
// Usage:
//
//	go run ./bench                          # everything, default durations
//	go run ./bench -only throughput -clients 16,64 -duration 5s
//	go run ./bench -only faults -rounds 1
//	go run ./bench -only mcp -mcp-targets pgmoat-http,dbhub -mcp-sessions 8 -mcp-profile 8
//	go run ./bench -help
package main

package main

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// renderMarkdown renders the report as the Markdown page committed with
// the results. It is a pure function of the report, so it is tested with a
// golden file.
func renderMarkdown(r *report, charts []string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# pgmoat benchmark report")
	w("")
	w("Run on %s, %s long. Every figure is the median of %d runs; runs alternate between targets (A B C A B C) so that drift in the machine's load falls on all of them alike.",
		r.Started.Format("2006-01-02 15:04 UTC"), r.Finished.Sub(r.Started).Round(1e9), r.Settings.Rounds)
	w("Reproduce with `make bench` (or `go run ./bench -help` for a subset).")
	writeMachine(w, r)
	writeGoals(w, r)
	writeThroughput(w, r, charts)
	writeStorms(w, r)
	writeMemory(w, r, charts)
	writeMCP(w, r, charts)
	writeIntrospection(w, r)
	writePolicy(w, r)
	writeReplicas(w, r)
	writeFaults(w, r)
	writeProfiles(w, r)
	writeSkipped(w, r)
	return b.String()
}

type writer func(format string, args ...any)

func writeMachine(w writer, r *report) {
	m := r.Machine
	w("\n## Machine\n")
	w("| | |")
	w("|---|---|")
	w("| CPU | %s, %d cores (GOMAXPROCS %d) |", m.CPU, m.Cores, m.GoMaxProcs)
	w("| memory | %d MiB |", m.MemoryMiB)
	w("| OS | %s, kernel %s |", m.OS, m.Kernel)
	w("| open files | %d |", m.FileLimit)
	keys := make([]string, 0, len(m.Versions))
	for k := range m.Versions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w("| %s | %s |", k, m.Versions[k])
	}
	s := r.Settings
	w("\nSettings: pgbench runs of %s, MCP runs of %s, pool size %d for pgmoat and PgBouncer (transaction mode), pgbench scale %d, shop scale %d.",
		s.Duration, s.MCPDuration, s.Pool, s.PgbenchScale, s.ShopScale)
}

func writeGoals(w writer, r *report) {
	w("\n## Targets\n")
	w("The issues' goals, reported rather than asserted: goal is issue.goal (14: the proxy hot path, 15: the MCP front end; – for the harness's own targets). Ratios compare figures of this run only. Where pgmoat misses one, the profiles below show where the time goes; \"not measured\" means this run lacked the cells a goal needs, or a test rather than the harness checks it.\n")
	tableHead(w, "llll", "goal", "target", "measured", "status")
	for _, g := range goals(r) {
		id := g.ID
		if id == "" {
			id = "–"
		}
		tableRow(w, id, cellText(g.Name), cellText(g.Measured), g.Status)
	}
}

func writeThroughput(w writer, r *report, charts []string) {
	if len(r.Throughput) == 0 {
		return
	}
	w("\n## 1. Pooled throughput: pgbench -S\n")
	w("Select-only pgbench (scale %d) through each target. TPS excludes connection set-up; latencies come from pgbench's per-transaction log.", r.Settings.PgbenchScale)
	for _, mode := range modesOf(r.Throughput) {
		w("\n### -M %s\n", mode)
		w("| clients | direct tps | PgBouncer tps | pgmoat tps | pgmoat / direct | pgmoat / PgBouncer | p99 ms direct / PgBouncer / pgmoat | failed tx (all runs) |")
		w("|---:|---:|---:|---:|---:|---:|---:|---:|")
		for _, c := range clientsOf(r.Throughput, mode) {
			d, b, m := pick(r.Throughput, mode, c)
			w("| %d | %s | %s | %s | %s | %s | %s / %s / %s | %s |", c, tpsText(d), tpsText(b), tpsText(m),
				ratioText(float64(m.Median.TPS), float64(d.Median.TPS)), ratioText(float64(m.Median.TPS), float64(b.Median.TPS)),
				msText(d.Median.P99Ms), msText(b.Median.P99Ms), msText(m.Median.P99Ms), failedText(d, b, m))
		}
		writeCPU(w, r.Throughput, mode)
		if name := "throughput-" + mode + ".svg"; slices.Contains(charts, name) {
			w("\n![pgbench -S -M %s](%s)", mode, name)
		}
	}
	writeUnsupported(w, r.Throughput)
	writeCellErrors(w, r.Throughput)
}

// writeCPU is one mode's CPU and system calls per transaction: the
// pooler's own and PostgreSQL's (every server process), over each run's
// window past the logins. PgBouncer cannot run -M prepared, so pgmoat's
// prepared figures are compared with PgBouncer's -M extended ones.
func writeCPU(w writer, cells []cell, mode string) {
	if !hasCPU(cells, mode) {
		return
	}
	peerMode := mode
	if mode == "prepared" {
		peerMode = "extended"
	}
	w("\nCPU µs per transaction (pooler process; PostgreSQL, all server processes) and the poolers' system calls per transaction (one more run under `strace -c -f`: reads / writes / epoll / futex / other):\n")
	w("| clients | PgBouncer%s µs/tx | pgmoat µs/tx | pgmoat / PgBouncer | PostgreSQL µs/tx direct / PgBouncer / pgmoat | PgBouncer syscalls/tx | pgmoat syscalls/tx |", peerNote(mode))
	w("|---:|---:|---:|---:|---:|---:|---:|")
	for _, c := range clientsOf(cells, mode) {
		d, _, m := pick(cells, mode, c)
		_, b, _ := pick(cells, peerMode, c)
		w("| %d | %s | %s | %s | %s / %s / %s | %s | %s |", c, usText(b.Median.PoolerUsPerTx), usText(m.Median.PoolerUsPerTx),
			ratioText(float64(m.Median.PoolerUsPerTx), float64(b.Median.PoolerUsPerTx)),
			usText(d.Median.ServerUsPerTx), usText(b.Median.ServerUsPerTx), usText(m.Median.ServerUsPerTx),
			syscallText(b.Syscalls), syscallText(m.Syscalls))
	}
}

func peerNote(mode string) string {
	if mode == "prepared" {
		return " (-M extended)"
	}
	return ""
}

func hasCPU(cells []cell, mode string) bool {
	for _, c := range cells {
		if c.Mode == mode && (c.Median.PoolerUsPerTx.ok() || c.Median.ServerUsPerTx.ok()) {
			return true
		}
	}
	return false
}

func usText(n num) string { return numText(n, 1) }

// syscallText is "total (r / w / epoll / futex / other)", or n/a when
// strace did not run.
func syscallText(s *syscallCounts) string {
	if s == nil {
		return "n/a"
	}
	if s.Error != "" || !s.Total.ok() {
		return "failed: " + cellText(truncate(s.Error, 60))
	}
	return fmt.Sprintf("%.2f (%.2f / %.2f / %.2f / %.2f / %.2f)", float64(s.Total), float64(s.Reads), float64(s.Writes),
		float64(s.Epoll), float64(s.Futex), float64(s.Other))
}

func writeStorms(w writer, r *report) {
	tableSection(w, r.Storms, "2. Connection storms",
		"`-C` opens a new connection (with SCRAM authentication) for every transaction; the many-clients run puts far more clients than backend connections on the poolers.",
		"llrrrrr", []string{"run", "target", "tps", "avg latency ms", "p99 ms", "connection ms", "failed tx"},
		func(c cell) []any {
			name := fmt.Sprintf("-M %s, %d clients", c.Mode, c.Clients)
			if c.Connect {
				name = "-C " + name
			}
			return []any{name, c.Target, tpsText(c), msText(c.Median.LatAvgMs), msText(c.Median.P99Ms), msText(c.Median.ConnMs), c.Median.Failed}
		})
	writeCellErrors(w, r.Storms)
}

func writeMemory(w writer, r *report, charts []string) {
	if len(r.Memory) == 0 {
		return
	}
	tableSection(w, r.Memory, "3. Memory per idle client",
		"Resident memory of a freshly started pooler before and after opening authenticated, idle client connections.",
		"llrrrr", []string{"target", "authentication", "clients", "RSS before KiB", "RSS after KiB", "KiB per client"},
		func(m memoryResult) []any {
			return []any{m.Target, authText(m.Auth), m.Clients, m.RSSBeforeKB, m.RSSAfterKB, numText(m.KBPerClient, 2)}
		})
	for _, m := range r.Memory {
		if m.Error != "" {
			w("\n%s (%s): %s", m.Target, authText(m.Auth), m.Error)
		}
	}
	if slices.Contains(charts, "memory.svg") {
		w("\n![KiB per idle client](memory.svg)")
	}
}

func writeMCP(w writer, r *report, charts []string) {
	if len(r.MCP) == 0 && len(r.ToolsList) == 0 {
		return
	}
	w("\n## 4. MCP: a %d-row page of orders\n", lookupPage)
	w("Each call fetches a page of the %d latest orders (id, status, total_amount, created_at) of a few customers (an indexed lookup on customer_id under row-level security, as the same identity everywhere; each group of customers holds at least %d orders, so every page is full): pgmoat through its generated `query_orders` tool (`customer_id_in`, `order_by`, `limit`, `columns`), the peers through their SQL tool with the equivalent statement (`WHERE customer_id IN (...) ORDER BY created_at DESC, id DESC LIMIT %d`), so every server returns the same rows. A stdio session is one server process.\n", lookupPage, lookupPage+lookupSpare, lookupPage)
	if len(r.MCP) > 0 {
		w("| server | sessions | calls/s | p50 ms | p99 ms | server CPU µs/call | errors |")
		w("|---|---:|---:|---:|---:|---:|---:|")
		for _, c := range r.MCP {
			w("| %s | %d | %s | %s | %s | %s | %d |", c.Target, c.Sessions, numText(c.Median.CallsPerSec, 0), msText(c.Median.P50Ms), msText(c.Median.P99Ms),
				numText(c.Median.CPUPerCallUs, 0), c.Median.Errors)
		}
		w("\nServer CPU is user plus system time of every process serving the sessions (/proc/PID/stat), over the timed calls; PostgreSQL's own is not in it. All servers are driven by the same load generator, the Go SDK's client.")
	}
	if slices.Contains(charts, "mcp.svg") {
		w("\n![MCP calls per second](mcp.svg)")
	}
	writeToolsList(w, r.ToolsList)
}

// writeToolsList is the size of each server's tools/list answer on shop:
// bytes, bytes / 4, and tokens as the real tokenizer counts them, in
// total and for the largest tool.
func writeToolsList(w writer, lists []toolsListSize) {
	if len(lists) == 0 {
		return
	}
	w("\nSize of each server's `tools/list` answer: tokens from a real tokenizer (the golden tests' counter), next to bytes / 4:\n")
	tableHead(w, "lrrrrl", "server", "tools", "bytes", "bytes / 4", "tokens", "largest tool, tokens")
	var why []string
	for _, t := range lists {
		tableRow(w, t.Target, t.Tools, t.Bytes, t.Tokens, numText(t.Counted, 0), largestTool(t.PerTool))
		if t.TokenError != "" && !slices.Contains(why, t.TokenError) {
			why = append(why, t.TokenError)
		}
	}
	for _, t := range lists {
		if t.Tokenizer != "" {
			w("\nTokenizer: %s.", t.Tokenizer)
			break
		}
	}
	for _, e := range why {
		w("\nTokens not counted: %s", cellText(e))
	}
}

func largestTool(ts []toolTokens) string {
	var best *toolTokens
	for i, t := range ts {
		if t.Counted.ok() && (best == nil || t.Counted > best.Counted) {
			best = &ts[i]
		}
	}
	if best == nil {
		return "–"
	}
	return fmt.Sprintf("%s %.0f", best.Name, float64(best.Counted))
}

func writeIntrospection(w writer, r *report) {
	tableSection(w, r.Introspection, "5. Introspection and tool generation",
		"Synthetic schemas (every table with a primary key, an index, comments and a foreign key). Median of three snapshots and generations. The tools/list each gets by default (the token budget) in tokens, from a real tokenizer, and as the generator's estimate.",
		"rrrrrlrr", []string{"tables", "snapshot ms", "tool generation ms", "tools listed", "table tools listed", "discovery mode", "tools/list tokens", "estimated tokens"},
		func(i introResult) []any {
			if i.Error != "" {
				return []any{i.Tables, "failed: " + cellText(i.Error), "", "", "", "", "", ""}
			}
			return []any{i.Tables, numText(i.SnapshotMs, 1), numText(i.GenerateMs, 1), i.Tools, i.TableTools, i.Discovery,
				numText(i.ListedTokens, 0), i.EstimatedTokens}
		})
}

func writePolicy(w writer, r *report) {
	tableSection(w, r.Policy, "6. Policy engine",
		"`go test -bench . -benchmem ./policy`: `hit` is a verdict-cache hit, `miss` a statement text the engine has not seen (what every pgbench -M simple transaction is).",
		"lrrr", []string{"benchmark", "ns/op", "B/op", "allocs/op"},
		func(b goBench) []any {
			return []any{b.Name, numText(b.NsPerOp, 0), numText(b.BytesPerOp, 0), numText(b.AllocsPerOp, 0)}
		})
}

func writeFaults(w writer, r *report) {
	if len(r.Faults) == 0 {
		return
	}
	tableSection(w, r.Faults, "8. Faults: a server restart and huge values",
		fmt.Sprintf("Each pooler on a fresh process with a warm pool of %d. **Recovery**: the server restarts with a fast shutdown (`pg_ctl restart -m fast`) while new sessions (connect, `SELECT 1`, disconnect) are opened one after another; recovery is the time from the start of the restart to the first of %d sessions in a row that all succeeded. **Memory**: %d clients at once read `SELECT repeat('x', %d)` (the clients stream the rows); RSS is sampled every 10 ms, and read again 2 s after.",
			r.Settings.Pool, recoveryRun, bigValueClients, bigValueBytes),
		"lrrrrrrrr", []string{"target", "round", "restart s", "recovery s", "new sessions failed after the server was up / tried", "RSS before KiB", "peak RSS KiB", "RSS after KiB", "failed reads"},
		func(f faultResult) []any {
			return []any{f.Target, f.Round, numText(f.RestartSec, 2), numText(f.RecoverySec, 2),
				fmt.Sprintf("%d / %d", f.FailedAfterUp, f.Sessions), f.RSSBeforeKB, f.RSSPeakKB, f.RSSAfterKB, f.ReadErrors}
		})
	for _, f := range r.Faults {
		if f.Error != "" {
			w("\n%s, round %d: %s", f.Target, f.Round, cellText(f.Error))
		}
	}
}

func writeProfiles(w writer, r *report) {
	w("\n## Profiles\n")
	if len(r.Profiles) == 0 {
		w("No profiles were captured in this run (see Skipped below).")
		return
	}
	w("pgmoat under pgbench -S -M extended with 64 clients: ")
	for _, p := range r.Profiles {
		w("- [%s](%s)", p, p)
	}
	w("\nRead them with `go tool pprof -http : <pgmoat binary> pgmoat-cpu.pprof`.")
	if len(r.CPUSplit) > 0 {
		w("\nWhere pgmoat's CPU goes in that profile (flat samples by the kind of function they fall in; the system calls per transaction of both poolers are in section 1):\n")
		w("| kind of work | share of pgmoat's CPU |")
		w("|---|---:|")
		for _, c := range r.CPUSplit {
			w("| %s | %.1f%% |", c.Kind, 100*c.Share)
		}
	}
}

func writeSkipped(w writer, r *report) {
	if len(r.Skipped) == 0 && len(r.Notes) == 0 {
		return
	}
	w("\n## Skipped and notes\n")
	for _, s := range r.Skipped {
		who := s.Scenario
		if s.Target != "" {
			who += " / " + s.Target
		}
		w("- **%s** skipped: %s", who, s.Reason)
	}
	for _, n := range r.Notes {
		w("- %s", n)
	}
}

// tableSection writes a section that is one table, a row an item, or
// nothing when there are no items: the title, the paragraph under it,
// the header (align has a letter a column: l for text, r for figures)
// and a row of cells for each item.
func tableSection[T any](w writer, items []T, title, intro, align string, head []string, row func(T) []any) {
	if len(items) == 0 {
		return
	}
	w("\n## %s\n", title)
	w("%s\n", intro)
	tableHead(w, align, head...)
	for _, it := range items {
		tableRow(w, row(it)...)
	}
}

// tableHead writes a table's header and the row under it that aligns
// each column: align has a letter a column, l or r.
func tableHead(w writer, align string, head ...string) {
	rule := make([]string, len(align))
	for i, a := range align {
		rule[i] = "---"
		if a == 'r' {
			rule[i] = "---:"
		}
	}
	w("| %s |", strings.Join(head, " | "))
	w("|%s|", strings.Join(rule, "|"))
}

// tableRow writes one row, each cell as fmt prints it (an empty one
// as "| |").
func tableRow(w writer, cells ...any) {
	var b strings.Builder
	b.WriteString("|")
	for _, c := range cells {
		if text := fmt.Sprint(c); text != "" {
			b.WriteString(" " + text)
		}
		b.WriteString(" |")
	}
	w("%s", b.String())
}

func writeUnsupported(w writer, cells []cell) {
	seen := map[string]bool{}
	for _, c := range cells {
		if c.Unsupported != "" && !seen[c.Target+c.Mode] {
			seen[c.Target+c.Mode] = true
			w("\n%s, -M %s: not run. %s", c.Target, c.Mode, c.Unsupported)
		}
	}
}

func writeCellErrors(w writer, cells []cell) {
	for _, c := range cells {
		if c.Median.Error != "" {
			w("\n%s, -M %s, %d clients: %s", c.Target, c.Mode, c.Clients, c.Median.Error)
		}
	}
}

func modesOf(cells []cell) []string {
	var out []string
	for _, c := range cells {
		if !slices.Contains(out, c.Mode) {
			out = append(out, c.Mode)
		}
	}
	return out
}

func clientsOf(cells []cell, mode string) []int {
	var out []int
	for _, c := range cells {
		if c.Mode == mode && !slices.Contains(out, c.Clients) {
			out = append(out, c.Clients)
		}
	}
	return out
}

// pick returns the direct, PgBouncer and pgmoat cells of one row; a
// missing target comes back with NaN medians.
func pick(cells []cell, mode string, clients int) (d, b, m cell) {
	get := func(t string) cell {
		if c, ok := findCell(cells, mode, clients, t); ok {
			return c
		}
		return cell{Target: t, Median: run{pgbenchSummary: pgbenchSummary{TPS: nan, LatAvgMs: nan, ConnMs: nan}, P50Ms: nan, P99Ms: nan,
			PoolerUsPerTx: nan, ServerUsPerTx: nan}, Unsupported: "not run"}
	}
	return get(tDirect), get(tPgBouncer), get(tPgmoat)
}

func tpsText(c cell) string {
	if c.Unsupported != "" {
		return "n/a"
	}
	return numText(c.Median.TPS, 0)
}

func failedText(cs ...cell) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprint(c.Median.Failed)
		if c.Unsupported != "" {
			parts[i] = "–"
		}
	}
	return strings.Join(parts, " / ")
}

func authText(a string) string {
	if a == "" {
		return authSCRAM
	}
	return a
}

func numText(n num, decimals int) string {
	if !n.ok() {
		return "–"
	}
	return fmt.Sprintf("%.*f", decimals, float64(n))
}

func msText(n num) string { return numText(n, 2) }

func ratioText(a, b float64) string {
	q := ratio(a, b)
	if math.IsNaN(q) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", q)
}

// cellText keeps free text from breaking a Markdown table row.
func cellText(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	return strings.ReplaceAll(s, "\n", " ")
}

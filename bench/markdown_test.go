package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

func sample(tps, p99 float64) run {
	return run{pgbenchSummary: pgbenchSummary{TPS: num(tps), LatAvgMs: 1.5, ConnMs: nan, HasSummary: true}, P50Ms: 1, P99Ms: num(p99),
		PoolerUsPerTx: num(1e6 / tps), ServerUsPerTx: 60}
}

func sampleCell(mode string, clients int, target string, tps float64) cell {
	c := cell{Mode: mode, Clients: clients, Target: target, Runs: []run{sample(tps, 4), sample(tps+20, 6), sample(tps-20, 5)}}
	c.summarize()
	return c
}

// sampleReport is a small report with every section filled in, some
// targets met and some missed.
func sampleReport() *report {
	start := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	r := &report{
		Started: start, Finished: start.Add(9*time.Minute + 30*time.Second),
		Machine: machine{CPU: "Test CPU", Cores: 2, GoMaxProcs: 2, MemoryMiB: 24000, OS: "Debian", Kernel: "6.1",
			FileLimit: 20000, Versions: map[string]string{"postgres": "15.18", "pgbouncer": "1.18.0"}},
		Settings: settings{Duration: "3s", MCPDuration: "3s", Rounds: 3, Pool: 20, PgbenchScale: 10, ShopScale: 1},
	}
	for _, mode := range []string{"extended", "prepared"} {
		for _, c := range []int{16, 64} {
			r.Throughput = append(r.Throughput, sampleCell(mode, c, tDirect, 10000), sampleCell(mode, c, tPgmoat, 8500))
			b := sampleCell(mode, c, tPgBouncer, 9000)
			if mode == "prepared" {
				b = cell{Mode: mode, Clients: c, Target: tPgBouncer, Unsupported: "prepared statement \"P_0\" already exists"}
				b.summarize()
			}
			if mode == "extended" && c == 16 {
				b.Syscalls = &syscallCounts{Reads: 2, Writes: 2, Epoll: 0.3, Futex: 0, Other: 0, Total: 4.3}
			}
			r.Throughput = append(r.Throughput, b)
		}
	}
	storm := sampleCell("simple", 16, tPgmoat, 700)
	storm.Connect = true
	r.Storms = []cell{storm}
	r.Memory = []memoryResult{
		{Target: tPgBouncer, Auth: authSCRAM, Clients: 10000, RSSBeforeKB: 8000, RSSAfterKB: 18000, KBPerClient: 1},
		{Target: tPgmoat, Auth: authSCRAM, Clients: 10000, RSSBeforeKB: 20000, RSSAfterKB: 240000, KBPerClient: 22},
		{Target: tPgmoat, Auth: authMD5, Clients: 10000, RSSBeforeKB: 20000, RSSAfterKB: 50000, KBPerClient: 3},
	}
	r.MCP = []mcpCell{
		{Target: mPgmoatHTTP, Sessions: 8, Median: mcpRun{CallsPerSec: 2000, P50Ms: 3, P99Ms: 8, CPUPerCallUs: 140}},
		{Target: mServerPostgres, Sessions: 8, Median: mcpRun{CallsPerSec: 300, P50Ms: 20, P99Ms: 90, CPUPerCallUs: 2100}},
	}
	r.ToolsList = []toolsListSize{{Target: mPgmoatHTTP, Tools: 7, Bytes: 8000, Tokens: 2000, Counted: 1800, Tokenizer: "@anthropic-ai/tokenizer 0.0.4",
		PerTool: []toolTokens{{Name: "query_orders", Table: true, Bytes: 2173, Counted: 557}, {Name: "query_categories", Table: true, Bytes: 1414, Counted: 356}}}}
	r.Introspection = []introResult{{Tables: 100, SnapshotMs: 38.3, GenerateMs: 8.6, Tools: 3, Discovery: true, ListedTokens: 2100, Tokenizer: "tk", EstimatedTokens: 2300},
		{Tables: 5000, SnapshotMs: nan, GenerateMs: nan, ListedTokens: nan, Error: "create 5000 tables: out of | locks"}}
	r.Policy = []goBench{{Name: "Decide/hit/short", Iterations: 1, NsPerOp: 94, BytesPerOp: 0, AllocsPerOp: 0}}
	r.Faults = []faultResult{
		{Target: tPgBouncer, Round: 1, RestartSec: 0.41, RecoverySec: 0.45, Sessions: 31, RSSBeforeKB: 4700, RSSPeakKB: 4900, RSSAfterKB: 4800},
		{Target: tPgmoat, Round: 1, RestartSec: 0.43, RecoverySec: 0.52, Sessions: 33, FailedAfterUp: 1, RSSBeforeKB: 30000, RSSPeakKB: 36000, RSSAfterKB: 31000},
		{Target: tPgmoat, Round: 2, RestartSec: 0.4, RecoverySec: nan, Sessions: 900, FailedAfterUp: 900, ReadErrors: 20, Error: "not recovered | in 60s"},
	}
	r.skip(scProfile, tPgmoat, "no pprof endpoint")
	r.note("PgBouncer cannot run -M prepared")
	return r
}

func TestRenderMarkdownGolden(t *testing.T) {
	got := renderMarkdown(sampleReport(), []string{"throughput-extended.svg", "memory.svg"})
	path := filepath.Join("testdata", "report.golden.md")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./bench -run Golden -update)", err)
	}
	if got != string(want) {
		t.Errorf("rendered report differs from %s; rerun with -update and review the diff\n%s", path, got)
	}
}

func TestRenderMarkdownFacts(t *testing.T) {
	md := renderMarkdown(sampleReport(), nil)
	for _, want := range []string{
		"| 16 | 10000 | 9000 | 8500 | 0.85× | 0.94× |", // medians and ratios
		"| 16 | 10000 | n/a | 8500 | 0.85× | – |",      // unsupported target
		"pgbouncer, -M prepared: not run.",             // and why
		"| 14.3 | pgmoat ≤ 4 KiB per idle scram-sha-256 client at 10,000 clients | 22.00 KiB per client (10000 clients); 22.00× PgBouncer's | MISSED |",
		"| 14.3 | pgmoat ≤ 4 KiB per idle md5 client at 10,000 clients | 3.00 KiB per client (10000 clients) | met |",
		// CPU per transaction: PgBouncer 1e6/9000 µs, pgmoat 1e6/8500, a ratio.
		"| 14.1 | pgmoat CPU/tx ≤ PgBouncer's -M extended (-M extended, 16 clients) | 117.6 vs 111.1 µs/tx (1.06× PgBouncer) | MISSED |",
		"| 14.1 | pgmoat CPU/tx ≤ PgBouncer's -M extended (-M prepared, 64 clients) | 117.6 vs 111.1 µs/tx (1.06× PgBouncer) | MISSED |",
		"| 14.1 | pgmoat tps ≥ PgBouncer's (-M prepared, 64 clients) | 8500 vs 9000 tps (0.94× PgBouncer -M extended) | MISSED |",
		"| 15.3 | ≤ 400 tokens per table tool in tools/list on shop (real tokenizer) | largest query_orders 557 tokens (bytes / 4: 544); 2 table tools, 356–557 tokens (@anthropic-ai/tokenizer 0.0.4) | MISSED |",
		"| pgmoat (HTTP) | 7 | 8000 | 2000 | 1800 | query_orders 557 |", // tools/list sizes
		"| 100 | 38.3 | 8.6 | 3 | 0 | true | 2100 | 2300 |",             // tools/list tokens of a schema
		"| 16 | 111.1 | 117.6 | 1.06× | 60.0 / 60.0 / 60.0 | 4.30 (2.00 / 2.00 / 0.30 / 0.00 / 0.00) | n/a |",
		"| – | pgmoat ≥ 80% of direct TPS (-M extended, 16 clients) | 8500 vs 10000 tps (0.85× direct) | met |",
		"| – | pgmoat ≥ 80% of direct TPS (-M simple, 16 clients) | – | not measured |",
		"out of \\| locks", // table-safe error text
		"**profile / pgmoat** skipped: no pprof endpoint",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(md, "![") {
		t.Error("report links charts that were not drawn")
	}
}

func TestWriteReport(t *testing.T) {
	dir := t.TempDir()
	if err := sampleReport().write(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"report.json", "report.md", "throughput-extended.svg", "throughput-prepared.svg", "mcp.svg", "memory.svg"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, ".svg") && !strings.Contains(string(b), "<svg") {
			t.Errorf("%s is not an SVG", f)
		}
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// report is everything a run measured; report.json is this struct.
type report struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Machine  machine   `json:"machine"`
	Settings settings  `json:"settings"`

	Throughput    []cell          `json:"throughput"`
	Storms        []cell          `json:"storms"`
	Memory        []memoryResult  `json:"memory"`
	MCP           []mcpCell       `json:"mcp"`
	ToolsList     []toolsListSize `json:"tools_list"`
	Introspection []introResult   `json:"introspection"`
	Policy        []goBench       `json:"policy"`
	Replicas      *replicaResult  `json:"replicas,omitempty"`
	Faults        []faultResult   `json:"faults"`
	Profiles      []string        `json:"profiles"` // files next to the report
	// CPUSplit is the pgmoat CPU profile's samples by kind of work.
	CPUSplit []cpuShare `json:"cpu_split,omitempty"`
	Skipped  []skip     `json:"skipped"`
	Notes    []string   `json:"notes"`
}

// settings are the options a run used, as the report shows them.
type settings struct {
	Duration     string   `json:"duration"`
	MCPDuration  string   `json:"mcp_duration"`
	Rounds       int      `json:"rounds"`
	Pool         int      `json:"pool"`
	PgbenchScale int      `json:"pgbench_scale"`
	ShopScale    int      `json:"shop_scale"`
	Scenarios    []string `json:"scenarios"`
}

// skip records a scenario or target that could not run, and why.
type skip struct {
	Scenario string `json:"scenario"`
	Target   string `json:"target,omitempty"`
	Reason   string `json:"reason"`
}

// run is one pgbench run.
type run struct {
	pgbenchSummary
	P50Ms num `json:"latency_p50_ms"`
	P99Ms num `json:"latency_p99_ms"`
	// PoolerUsPerTx and ServerUsPerTx are the CPU microseconds the
	// pooler process and PostgreSQL (every server process) spent per
	// transaction, over the run's measurement window.
	PoolerUsPerTx num    `json:"pooler_cpu_us_per_tx"`
	ServerUsPerTx num    `json:"server_cpu_us_per_tx"`
	Error         string `json:"error,omitempty"`
}

// cell is one (mode, clients, target) point with all its runs.
type cell struct {
	Mode        string `json:"mode"`
	Clients     int    `json:"clients"`
	Connect     bool   `json:"connect_per_tx,omitempty"` // pgbench -C
	Target      string `json:"target"`
	Runs        []run  `json:"runs"`
	Median      run    `json:"median"`
	Unsupported string `json:"unsupported,omitempty"`
	// Syscalls are the pooler's system calls per transaction, from a
	// separate short run under strace; nil when not measured.
	Syscalls *syscallCounts `json:"syscalls_per_tx,omitempty"`
}

// summarize fills Median from the runs that produced a summary.
func (c *cell) summarize() {
	var tps, avg, p50, p99, conn, pooler, server []float64
	m := run{}
	for _, r := range c.Runs {
		m.Failed += r.Failed
		m.Processed += r.Processed
		if !r.HasSummary {
			continue
		}
		tps = append(tps, float64(r.TPS))
		avg = append(avg, float64(r.LatAvgMs))
		p50 = append(p50, float64(r.P50Ms))
		p99 = append(p99, float64(r.P99Ms))
		conn = append(conn, float64(r.ConnMs))
		if r.PoolerUsPerTx.ok() {
			pooler = append(pooler, float64(r.PoolerUsPerTx))
		}
		if r.ServerUsPerTx.ok() {
			server = append(server, float64(r.ServerUsPerTx))
		}
	}
	m.TPS, m.LatAvgMs, m.P50Ms, m.P99Ms, m.ConnMs = num(median(tps)), num(median(avg)), num(median(p50)), num(median(p99)), num(median(conn))
	m.PoolerUsPerTx, m.ServerUsPerTx = num(median(pooler)), num(median(server))
	for _, r := range c.Runs {
		if r.Error != "" {
			m.Error = r.Error
		}
	}
	c.Median = m
}

// memoryResult is the resident memory of one pooler holding idle clients.
type memoryResult struct {
	Target      string `json:"target"`
	Auth        string `json:"auth"` // client authentication method
	Clients     int    `json:"clients"`
	RSSBeforeKB int64  `json:"rss_before_kib"`
	RSSAfterKB  int64  `json:"rss_after_kib"`
	KBPerClient num    `json:"kib_per_client"`
	Error       string `json:"error,omitempty"`
}

// faultResult is one pooler's round of the fault scenario.
type faultResult struct {
	Target string `json:"target"`
	Round  int    `json:"round"`
	// RestartSec is how long the server took to stop and accept
	// connections again; RecoverySec runs from the same start until the
	// first of recoveryRun new sessions in a row that all succeeded.
	RestartSec    num `json:"restart_s"`
	RecoverySec   num `json:"recovery_s"`
	Sessions      int `json:"sessions"`        // new sessions tried until then
	FailedAfterUp int `json:"failed_after_up"` // of those, failed once the server was up
	// RSS of the pooler before, at its peak while bigValueClients read a
	// bigValueBytes value each, and two seconds after.
	RSSBeforeKB int64  `json:"rss_before_kib"`
	RSSPeakKB   int64  `json:"rss_peak_kib"`
	RSSAfterKB  int64  `json:"rss_after_kib"`
	ReadErrors  int    `json:"read_errors"`
	Error       string `json:"error,omitempty"`
}

// mcpCell is one (server, sessions) point of the MCP scenario.
type mcpCell struct {
	Target   string   `json:"target"`
	Sessions int      `json:"sessions"`
	Runs     []mcpRun `json:"runs"`
	Median   mcpRun   `json:"median"`
}

// mcpRun is one timed MCP run.
type mcpRun struct {
	Calls       int64 `json:"calls"`
	Errors      int64 `json:"errors"`
	CallsPerSec num   `json:"calls_per_sec"`
	P50Ms       num   `json:"p50_ms"`
	P99Ms       num   `json:"p99_ms"`
	// CPUPerCallUs is the server's CPU time (user + system, every process
	// serving the sessions, from /proc/PID/stat) per successful call.
	CPUPerCallUs num    `json:"cpu_per_call_us"`
	Error        string `json:"error,omitempty"`
}

func (c *mcpCell) summarize() {
	var cps, p50, p99, cpu []float64
	m := mcpRun{}
	for _, r := range c.Runs {
		m.Calls += r.Calls
		m.Errors += r.Errors
		if r.Error != "" {
			m.Error = r.Error
			continue
		}
		cps, p50, p99 = append(cps, float64(r.CallsPerSec)), append(p50, float64(r.P50Ms)), append(p99, float64(r.P99Ms))
		cpu = append(cpu, float64(r.CPUPerCallUs))
	}
	m.CallsPerSec, m.P50Ms, m.P99Ms, m.CPUPerCallUs = num(median(cps)), num(median(p50)), num(median(p99)), num(median(cpu))
	c.Median = m
}

// toolsListSize is the size of a server's tools/list answer.
type toolsListSize struct {
	Target string `json:"target"`
	Tools  int    `json:"tools"`
	Bytes  int    `json:"bytes"`
	Tokens int    `json:"approx_tokens"` // bytes / 4
	// Counted is the answer's tokens as the real tokenizer named by
	// Tokenizer counts them, tool by tool; NaN when it could not run.
	Counted    num          `json:"tokens"`
	Tokenizer  string       `json:"tokenizer,omitempty"`
	TokenError string       `json:"token_error,omitempty"` // why Counted is NaN
	PerTool    []toolTokens `json:"per_tool,omitempty"`
}

// toolTokens is the size of one tool of a tools/list answer, as JSON.
type toolTokens struct {
	Name string `json:"name"`
	// Table says the tool is a table tool (query_<table>, not one of the
	// discovery tools), by its name.
	Table   bool `json:"table_tool"`
	Bytes   int  `json:"bytes"`
	Counted num  `json:"tokens"` // NaN when not counted
}

// introResult is introspection and tool generation time for one schema size.
type introResult struct {
	Tables     int  `json:"tables"`
	SnapshotMs num  `json:"snapshot_ms"`
	GenerateMs num  `json:"generate_ms"`
	Tools      int  `json:"tools"`
	Discovery  bool `json:"discovery_mode"`
	// TableTools is how many of the listed tools are table tools.
	TableTools int `json:"table_tools_listed"`
	// ListedTokens is the tools/list answer's tokens as the real
	// tokenizer named by Tokenizer counts them (NaN when it could not
	// run); EstimatedTokens is what the generator's budget made of it.
	ListedTokens    num    `json:"tools_list_tokens"`
	Tokenizer       string `json:"tokenizer,omitempty"`
	TokenError      string `json:"token_error,omitempty"` // why ListedTokens is NaN
	EstimatedTokens int    `json:"estimated_tokens"`
	Error           string `json:"error,omitempty"`
}

func (r *report) skip(scenario, target, format string, args ...any) {
	s := skip{Scenario: scenario, Target: target, Reason: fmt.Sprintf(format, args...)}
	r.Skipped = append(r.Skipped, s)
}

func (r *report) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// write saves report.json, report.md and the charts into dir.
func (r *report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	charts, err := writeCharts(r, dir)
	if err != nil {
		r.note("charts could not be drawn: %v", err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "report.md"), []byte(renderMarkdown(r, charts)), 0o644)
}

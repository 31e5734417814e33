package main

import (
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Scenario names, as -only takes them.
const (
	scThroughput = "throughput"
	scStorms     = "storms"
	scMemory     = "memory"
	scMCP        = "mcp"
	scIntrospect = "introspect"
	scPolicy     = "policy"
	scProfile    = "profile"
	scReplicas   = "replicas"
	scFaults     = "faults"
)

var allScenarios = []string{scThroughput, scStorms, scMemory, scMCP, scIntrospect, scPolicy, scProfile, scReplicas, scFaults}

// Target names.
const (
	tDirect    = "direct"
	tPgBouncer = "pgbouncer"
	tPgmoat    = "pgmoat"
)

var allTargets = []string{tDirect, tPgBouncer, tPgmoat}

// options are the flags of a run. The defaults are the short run `make
// bench` does, sized to finish in well under fifteen minutes.
type options struct {
	out          string
	duration     time.Duration // one pgbench run
	mcpDuration  time.Duration // one MCP run
	rounds       int
	scenarios    []string
	targets      []string
	modes        []string
	clients      []int
	stormClients int
	idleClients  int
	mcpSessions  []int
	mcpTargets   []string // keys of mcpTargetKeys
	mcpProfile   int      // sessions at which pgmoat (HTTP) is profiled; 0: never
	tables       []int
	pool         int
	pgbenchScale int
	shopScale    int
	benchtime    string
	verbose      bool
	pgmoatBin    string
}

func parseOptions(args []string) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	o := options{}
	var only, targets, modes, clients, sessions, tables, mcpTargets string
	fs.StringVar(&o.out, "out", "bench/results", "directory the report is written to")
	fs.DurationVar(&o.duration, "duration", 2*time.Second, "length of one pgbench run (many clients get extra time to connect)")
	fs.DurationVar(&o.mcpDuration, "mcp-duration", 2*time.Second, "length of one MCP run")
	fs.IntVar(&o.rounds, "rounds", 3, "runs per target and setting (the report gives their median)")
	fs.StringVar(&only, "only", strings.Join(allScenarios, ","), "scenarios to run: "+strings.Join(allScenarios, ","))
	fs.StringVar(&targets, "targets", strings.Join(allTargets, ","), "pgbench targets: direct,pgbouncer,pgmoat")
	fs.StringVar(&modes, "modes", "simple,extended,prepared", "pgbench -M modes")
	fs.StringVar(&clients, "clients", "1,16,64,256", "pgbench client counts")
	fs.IntVar(&o.stormClients, "storm-clients", 1000, "clients of the many-clients storm")
	fs.IntVar(&o.idleClients, "idle-clients", 10000, "idle clients of the memory scenario")
	fs.StringVar(&sessions, "mcp-sessions", "1,8,32", "concurrent MCP sessions")
	fs.StringVar(&mcpTargets, "mcp-targets", strings.Join(mcpTargetKeys, ","), "MCP servers to run: "+strings.Join(mcpTargetKeys, ","))
	fs.IntVar(&o.mcpProfile, "mcp-profile", 0, "profile pgmoat (HTTP) over its first MCP run with this many sessions (CPU and allocations, written next to the report); 0: no profile")
	fs.StringVar(&tables, "tables", "100,200,1000,5000", "schema sizes of the introspection scenario (200 is the schema the tools/list token budget is held to)")
	fs.IntVar(&o.pool, "pool", 20, "backend pool size of pgmoat and PgBouncer")
	fs.IntVar(&o.pgbenchScale, "scale", 10, "pgbench -i scale")
	fs.IntVar(&o.shopScale, "shop-scale", 1, "shop demo scale")
	fs.StringVar(&o.benchtime, "benchtime", "1s", "go test -benchtime for the policy benchmarks")
	fs.BoolVar(&o.verbose, "v", false, "print every command run")
	fs.StringVar(&o.pgmoatBin, "pgmoat-bin", "", "benchmark this pgmoat binary instead of building ./cmd/pgmoat")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if o.scenarios, err = parseNames(only, allScenarios); err != nil {
		return o, fmt.Errorf("-only: %w", err)
	}
	if o.targets, err = parseNames(targets, allTargets); err != nil {
		return o, fmt.Errorf("-targets: %w", err)
	}
	if o.mcpTargets, err = parseNames(mcpTargets, mcpTargetKeys); err != nil {
		return o, fmt.Errorf("-mcp-targets: %w", err)
	}
	if o.modes, err = parseNames(modes, []string{"simple", "extended", "prepared"}); err != nil {
		return o, fmt.Errorf("-modes: %w", err)
	}
	for _, l := range []struct {
		flag string
		in   string
		out  *[]int
	}{{"-clients", clients, &o.clients}, {"-mcp-sessions", sessions, &o.mcpSessions}, {"-tables", tables, &o.tables}} {
		if *l.out, err = parseInts(l.in); err != nil {
			return o, fmt.Errorf("%s: %w", l.flag, err)
		}
	}
	if o.rounds < 1 || o.pool < 1 || o.duration < time.Second || o.mcpDuration < 500*time.Millisecond {
		return o, fmt.Errorf("-rounds and -pool must be positive, -duration at least 1s, -mcp-duration at least 500ms")
	}
	return o, nil
}

func parseNames(s string, known []string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !slices.Contains(known, f) {
			return nil, fmt.Errorf("unknown name %q (known: %s)", f, strings.Join(known, ", "))
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty list")
	}
	return out, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty list")
	}
	return out, nil
}

func (o options) wants(scenario string) bool { return slices.Contains(o.scenarios, scenario) }

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
)

func main() {
	o, err := parseOptions(os.Args[1:])
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runBench(ctx, o, os.Stdout)
	stop()
	os.Exit(code)
}

// env is one run: its options, what it started and what it measured.
type env struct {
	o    options
	w    io.Writer
	root string // module root, where go builds run
	tmp  string // everything the run writes outside the results
	sup  *supervisor
	rep  *report

	cluster        *pgcluster.Cluster
	pgmoatBin      string
	pgmoatBuildErr error
	introBin       string
	introBuildErr  error
	policyBin      string
	policyBuildErr error
	npmDir         string
	npmErr         error
	tokensDir      string // the token counter, installed (tokens.go)
	tokensErr      error

	eps         map[string]endpoint
	pgmoat      *pgmoatInstance // the instance in front of the pgbench database
	unsupported map[string]string

	mu           sync.Mutex
	stepN, steps int
}

func runBench(ctx context.Context, o options, w io.Writer) int {
	e, err := newEnv(o, w)
	if err != nil {
		fmt.Fprintf(w, "bench: %v\n", err)
		return 1
	}
	defer e.close()
	if err := e.setUp(ctx); err != nil {
		fmt.Fprintf(w, "bench: set-up failed: %v\n", err)
		return 1
	}
	e.measure(ctx)
	e.rep.Finished = time.Now().UTC()
	if ctx.Err() != nil {
		fmt.Fprintln(w, "bench: interrupted; no report written, cleaning up")
		return 130
	}
	if err := e.rep.write(o.out); err != nil {
		fmt.Fprintf(w, "bench: write report: %v\n", err)
		return 1
	}
	fmt.Fprintf(w, "report written to %s (report.md, report.json, charts) in %s\n",
		o.out, e.rep.Finished.Sub(e.rep.Started).Round(time.Second))
	return 0
}

func newEnv(o options, w io.Writer) (*env, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	if !filepath.IsAbs(o.out) {
		if o.out, err = filepath.Abs(o.out); err != nil {
			return nil, err
		}
	}
	if _, err := raiseFileLimit(); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "pgmoat-bench-")
	if err != nil {
		return nil, err
	}
	// PgBouncer runs as the server account and must reach its directory.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	e := &env{o: o, w: w, root: root, tmp: tmp, sup: &supervisor{}, eps: map[string]endpoint{},
		unsupported: map[string]string{}, steps: plannedSteps(o)}
	e.rep = &report{Started: time.Now().UTC(), Settings: settings{
		Duration: o.duration.String(), MCPDuration: o.mcpDuration.String(), Rounds: o.rounds, Pool: o.pool,
		PgbenchScale: o.pgbenchScale, ShopScale: o.shopScale, Scenarios: o.scenarios,
	}}
	return e, nil
}

// close stops every process and removes every file the run made, results
// excepted.
func (e *env) close() {
	e.sup.stopAll()
	if e.cluster != nil {
		if err := e.cluster.Close(); err != nil {
			fmt.Fprintf(e.w, "bench: stop PostgreSQL: %v\n", err)
		}
	}
	if err := os.RemoveAll(e.tmp); err != nil {
		fmt.Fprintf(e.w, "bench: remove %s: %v\n", e.tmp, err)
	}
}

// setUp builds the binaries and installs the npm peers and the token
// counter while PostgreSQL loads, then starts the pgbench targets.
func (e *env) setUp(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); e.build(ctx) }()
	go func() { defer wg.Done(); e.installPeers(ctx) }()
	go func() { defer wg.Done(); e.installTokenizer(ctx) }()
	err := e.startCluster(ctx)
	if err == nil && (e.needsPgbenchTargets() || e.o.wants(scMemory) || e.o.wants(scFaults)) {
		err = e.loadPgbench(ctx)
	}
	if err == nil && (e.o.wants(scMCP)) {
		err = e.loadShop(ctx)
	}
	wg.Wait()
	if err != nil {
		return err
	}
	e.rep.Machine = describeMachine(e)
	if e.needsPgbenchTargets() {
		e.startTargets(ctx)
	}
	return ctx.Err()
}

func (e *env) needsPgbenchTargets() bool {
	return e.o.wants(scThroughput) || e.o.wants(scStorms) || e.o.wants(scProfile) || e.o.wants(scReplicas)
}

// startTargets brings up the pgbench endpoints; a target that cannot
// start is skipped, never the run.
func (e *env) startTargets(ctx context.Context) {
	e.eps[tDirect] = endpoint{name: tDirect, addr: fmt.Sprintf("%s:%d", e.cluster.Host(), e.cluster.Port()),
		user: benchRole, password: benchPassword, db: pgbenchDB}
	if proc, addr, err := e.startPgBouncer(ctx, authSCRAM); err != nil {
		e.rep.skip("throughput", tPgBouncer, "%v", err)
		e.say("  skipping PgBouncer: %v", err)
	} else {
		e.eps[tPgBouncer] = endpoint{name: tPgBouncer, addr: addr, user: benchRole, password: benchPassword, db: pgbenchDB,
			pid: proc.cmd.Process.Pid}
	}
	in, err := e.startPgmoat(ctx, "pgmoat-pgbench", pgbenchDB, benchRole, benchPassword, authSCRAM)
	if err != nil {
		e.rep.skip("throughput", tPgmoat, "%v", err)
		e.say("  skipping pgmoat: %v", err)
		return
	}
	e.pgmoat = in
	e.eps[tPgmoat] = endpoint{name: tPgmoat, addr: in.proxyAddr, user: proxyUser, password: proxyPassword, db: pgbenchDB,
		pid: in.proc.cmd.Process.Pid}
}

// measure runs the chosen scenarios, the most load-sensitive first.
func (e *env) measure(ctx context.Context) {
	scenarios := []struct {
		name string
		run  func(context.Context)
	}{
		{scThroughput, func(ctx context.Context) { e.probePreparedOnPgBouncer(ctx); e.throughput(ctx) }},
		{scStorms, e.storms},
		{scProfile, e.profile},
		{scMemory, e.memory},
		{scMCP, e.mcpScenario},
		{scIntrospect, e.introspection},
		{scPolicy, e.policy},
		{scReplicas, e.replicas},
		{scFaults, e.faults}, // last: it restarts the server
	}
	for _, s := range scenarios {
		if ctx.Err() != nil {
			return
		}
		if !e.o.wants(s.name) {
			continue
		}
		e.say("== %s", s.name)
		s.run(ctx)
	}
}

// plannedSteps is the number of progress steps the options imply.
func plannedSteps(o options) int {
	n := 0
	targets := len(o.targets)
	if o.wants(scThroughput) {
		n += len(o.modes) * len(o.clients) * targets * o.rounds
		if straceBin() != "" { // one traced run per pooler and cell
			n += len(o.modes) * len(o.clients) * (targets - boolInt(contains(o.targets, tDirect)))
			if contains(o.targets, tPgBouncer) && contains(o.modes, "prepared") {
				n -= len(o.clients)
			}
		}
		if contains(o.targets, tPgBouncer) && contains(o.modes, "prepared") {
			n += 1 - len(o.clients)*o.rounds
		}
	}
	if o.wants(scStorms) {
		n += 2 * targets * o.rounds
	}
	if o.wants(scProfile) {
		n++
	}
	if o.wants(scMemory) {
		n += len(faultTargets(o)) * len(memoryAuths)
	}
	if o.wants(scMCP) {
		n += len(o.mcpTargets) * len(o.mcpSessions) * o.rounds
	}
	if o.wants(scIntrospect) {
		n += len(o.tables)
	}
	if o.wants(scPolicy) {
		n++
	}
	if o.wants(scReplicas) {
		n += 1 + 2*o.rounds
	}
	if o.wants(scFaults) {
		n += len(faultTargets(o)) * o.rounds
	}
	return n
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

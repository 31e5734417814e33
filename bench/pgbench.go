package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// endpoint is where pgbench connects for one target.
type endpoint struct {
	name     string
	addr     string // host:port
	user     string
	password string
	db       string
	// pid is the pooler's process, whose CPU time each run reports; 0
	// for direct runs.
	pid int
}

// pgbenchJob is one pgbench invocation.
type pgbenchJob struct {
	mode     string // simple, extended, prepared
	clients  int
	connect  bool // -C: a new connection per transaction
	duration time.Duration
}

// seconds is pgbench's -T. pgbench starts its clock before its clients
// have connected and reports nothing when connecting outlasts -T, so many
// clients get headroom for their SCRAM logins; the TPS pgbench reports
// leaves the connection time out either way.
func (j pgbenchJob) seconds() int {
	return max(int(j.duration.Round(time.Second).Seconds()), 1) + j.clients/100
}

func (j pgbenchJob) args(ep endpoint, logPrefix string) []string {
	host, port, _ := strings.Cut(ep.addr, ":")
	args := []string{"-n", "-S", "-M", j.mode, "-c", strconv.Itoa(j.clients), "-j", strconv.Itoa(min(j.clients, 2)),
		"-T", strconv.Itoa(j.seconds()),
		"--log", "--log-prefix=" + logPrefix, "-h", host, "-p", port, "-U", ep.user}
	if j.connect {
		args = append(args, "-C")
	}
	return append(args, ep.db)
}

// runPgbench runs one job and reads its summary and latency logs. It
// also reports the CPU the pooler and PostgreSQL spent per transaction
// over a window that leaves out the clients' logins and the run's last
// moments (see window).
func (e *env) runPgbench(ctx context.Context, ep endpoint, j pgbenchJob) run {
	return e.runPgbenchWith(ctx, ep, j, e.cpuProbe(ep))
}

// probe measures something over a window of a pgbench run: start is
// called at the window's start, stop at its end.
type probe struct {
	start func()
	stop  func(r *run, tx int64)
}

// cpuProbe samples the pooler's and the server's CPU time.
func (e *env) cpuProbe(ep endpoint) probe {
	var before cpuSample
	return probe{
		start: func() { before = e.sampleCPU(ep.pid) },
		stop: func(r *run, tx int64) {
			after := e.sampleCPU(ep.pid)
			if !before.ok || !after.ok {
				return
			}
			r.ServerUsPerTx = perTx(before.server, after.server, tx)
			if ep.pid != 0 {
				r.PoolerUsPerTx = perTx(before.pooler, after.pooler, tx)
			}
		},
	}
}

// window is the part of a run a probe measures: from after the clients'
// logins (SCRAM costs CPU on every side, which is not the per-transaction
// cost; 5 ms a client is generous on a 2-core machine) to just before the
// run's end.
func (j pgbenchJob) window() (from, to time.Duration) {
	total := time.Duration(j.seconds()) * time.Second
	from = min(300*time.Millisecond+time.Duration(j.clients)*5*time.Millisecond, total/2)
	return from, total - 200*time.Millisecond
}

func (e *env) runPgbenchWith(ctx context.Context, ep endpoint, j pgbenchJob, pr probe) run {
	logDir, err := os.MkdirTemp(e.tmp, "pgbench-log-")
	if err != nil {
		return failedRun(err)
	}
	defer func() { _ = os.RemoveAll(logDir) }()
	ctx, cancel := context.WithTimeout(ctx, time.Duration(j.seconds())*time.Second+2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "pgbench", j.args(ep, filepath.Join(logDir, "tx"))...)
	cmd.Dir = logDir
	cmd.Env = append(os.Environ(), "PGPASSWORD="+ep.password, "PGSSLMODE=disable", "PGAPPNAME=pgbench")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	e.verbosef("pgbench %s", strings.Join(cmd.Args[1:], " "))
	started := time.Now()
	from, to := j.window()
	var t0, t1 time.Time
	measured := make(chan struct{})
	stopWindow := make(chan struct{})
	go func() {
		defer close(measured)
		if !sleepUntil(started.Add(from), stopWindow) {
			return
		}
		t0 = time.Now()
		pr.start()
		sleepUntil(started.Add(to), stopWindow)
		t1 = time.Now()
	}()
	runErr := cmd.Run()
	close(stopWindow)
	<-measured
	sum, err := parsePgbench(&stdout)
	if err != nil {
		return failedRun(err)
	}
	r := run{pgbenchSummary: sum, P50Ms: nan, P99Ms: nan, PoolerUsPerTx: nan, ServerUsPerTx: nan}
	if runErr != nil || !sum.HasSummary {
		r.Error = pgbenchError(runErr, stderr.String(), sum)
	}
	lat, err := readLatencyLogs(logDir)
	if err != nil {
		r.Error = strings.TrimSpace(r.Error + "; " + err.Error())
		return r
	}
	r.P50Ms, r.P99Ms = lat.quantileMs(50), lat.quantileMs(99)
	if !t0.IsZero() {
		pr.stop(&r, lat.between(t0, t1))
	}
	return r
}

// sleepUntil waits for t; it reports false when stop closed first.
func sleepUntil(t time.Time, stop <-chan struct{}) bool {
	select {
	case <-time.After(time.Until(t)):
		return true
	case <-stop:
		return false
	}
}

func failedRun(err error) run {
	return run{pgbenchSummary: pgbenchSummary{TPS: nan, LatAvgMs: nan, ConnMs: nan}, P50Ms: nan, P99Ms: nan,
		PoolerUsPerTx: nan, ServerUsPerTx: nan, Error: err.Error()}
}

// pgbenchError condenses a failed run to its first server or client error.
func pgbenchError(runErr error, stderr string, sum pgbenchSummary) string {
	for _, line := range strings.Split(stderr, "\n") {
		line = strings.TrimSpace(line)
		if strings.Contains(line, "error") || strings.Contains(line, "ERROR") || strings.Contains(line, "FATAL") {
			return truncate(line, 240)
		}
	}
	if sum.AbortReason != "" {
		return sum.AbortReason
	}
	if runErr != nil {
		return fmt.Sprintf("pgbench: %v: %s", runErr, truncate(strings.TrimSpace(stderr), 240))
	}
	if sum.Processed == 0 && strings.TrimSpace(stderr) == "" {
		return "no transaction completed: connecting the clients took the whole run (raise -duration)"
	}
	return "pgbench printed no summary: " + truncate(strings.TrimSpace(stderr), 240)
}

func readLatencyLogs(dir string) (*latencyLog, error) {
	files, err := filepath.Glob(filepath.Join(dir, "tx.*"))
	if err != nil {
		return nil, err
	}
	lat := &latencyLog{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		err = parseLatencyLog(fh, lat)
		_ = fh.Close()
		if err != nil {
			return nil, err
		}
	}
	lat.sort()
	return lat, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// pgbenchVersion is the first line of `pgbench --version`.
func pgbenchVersion() string {
	out, err := exec.Command("pgbench", "--version").Output()
	if err != nil {
		return "not installed"
	}
	return strings.TrimSpace(firstLine(string(out)))
}

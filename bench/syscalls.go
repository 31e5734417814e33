package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// syscallCounts are a pooler's system calls per transaction, by kind.
type syscallCounts struct {
	Reads  num    `json:"reads"`  // read, recvfrom, recvmsg, readv (EAGAIN included)
	Writes num    `json:"writes"` // write, sendto, sendmsg, writev
	Epoll  num    `json:"epoll"`  // epoll_wait, epoll_pwait, epoll_ctl
	Futex  num    `json:"futex"`
	Other  num    `json:"other"` // nanosleep, sched_yield, ...
	Total  num    `json:"total"`
	Error  string `json:"error,omitempty"`
}

// straceBin is strace when installed ("" otherwise).
func straceBin() string {
	p, err := exec.LookPath("strace")
	if err != nil {
		return ""
	}
	return p
}

// countSyscalls runs job once more against a pooler with strace -c -f
// attached over the measurement window, and divides its counts by the
// transactions that ended inside the window. strace slows the pooler
// down; the counts per transaction are what it is for, not the speed.
func (e *env) countSyscalls(ctx context.Context, ep endpoint, job pgbenchJob) *syscallCounts {
	bin := straceBin()
	if bin == "" || ep.pid == 0 {
		return nil
	}
	out := filepath.Join(e.tmp, fmt.Sprintf("strace-%s-%s-%d.txt", ep.name, job.mode, job.clients))
	var tracer *exec.Cmd
	res := &syscallCounts{Reads: nan, Writes: nan, Epoll: nan, Futex: nan, Other: nan, Total: nan}
	pr := probe{
		start: func() {
			tracer = exec.CommandContext(ctx, bin, "-c", "-f", "-p", strconv.Itoa(ep.pid), "-o", out)
			if err := tracer.Start(); err != nil {
				res.Error = err.Error()
				tracer = nil
			}
		},
		stop: func(_ *run, tx int64) {
			if tracer == nil {
				return
			}
			_ = tracer.Process.Signal(syscall.SIGINT)
			_ = tracer.Wait()
			if res.Error != "" {
				return
			}
			f, err := os.Open(out)
			if err != nil {
				res.Error = err.Error()
				return
			}
			defer func() { _ = f.Close() }()
			counts, err := parseStrace(f)
			if err != nil {
				res.Error = err.Error()
				return
			}
			*res = counts.perTx(tx)
			e.keepStrace(out, tx)
		},
	}
	r := e.runPgbenchWith(ctx, ep, job, pr)
	if r.Error != "" && res.Error == "" {
		res.Error = r.Error
	}
	// A tracer still attached (the run ended before the window did) is
	// stopped by runPgbenchWith's probe; make sure it is gone.
	if tracer != nil && tracer.ProcessState == nil {
		_ = tracer.Process.Kill()
		_ = tracer.Wait()
	}
	time.Sleep(100 * time.Millisecond) // the traced process resumes at full speed
	return res
}

// straceTotals are raw call counts by kind.
type straceTotals struct{ reads, writes, epoll, futex, other int64 }

func (t straceTotals) perTx(tx int64) syscallCounts {
	if tx <= 0 {
		return syscallCounts{Reads: nan, Writes: nan, Epoll: nan, Futex: nan, Other: nan, Total: nan, Error: "no transaction ended while traced"}
	}
	d := func(n int64) num { return num(float64(n) / float64(tx)) }
	return syscallCounts{Reads: d(t.reads), Writes: d(t.writes), Epoll: d(t.epoll), Futex: d(t.futex), Other: d(t.other),
		Total: d(t.reads + t.writes + t.epoll + t.futex + t.other)}
}

// parseStrace reads the table strace -c writes: "% time seconds
// usecs/call calls errors syscall", the errors column empty when none.
func parseStrace(r io.Reader) (straceTotals, error) {
	var t straceTotals
	sc := bufio.NewScanner(r)
	seen := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			continue
		}
		if _, err := strconv.ParseFloat(f[0], 64); err != nil {
			continue
		}
		name := f[len(f)-1]
		if name == "total" {
			continue
		}
		calls, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil {
			return t, fmt.Errorf("strace line %q: %w", sc.Text(), err)
		}
		seen = true
		switch name {
		case "read", "recvfrom", "recvmsg", "readv":
			t.reads += calls
		case "write", "sendto", "sendmsg", "writev":
			t.writes += calls
		case "epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl":
			t.epoll += calls
		case "futex":
			t.futex += calls
		default:
			t.other += calls
		}
	}
	if err := sc.Err(); err != nil {
		return t, err
	}
	if !seen {
		return t, fmt.Errorf("strace wrote no counts")
	}
	return t, nil
}

// keepStrace copies a strace -c table next to the report with the run's
// transaction count on top, so a cell's system calls can be read call by
// call (recvfrom apart from read, nanosleep apart from futex), not only
// by the report's five kinds.
func (e *env) keepStrace(table string, tx int64) {
	text, err := os.ReadFile(table)
	if err != nil || os.MkdirAll(e.o.out, 0o755) != nil {
		return
	}
	head := fmt.Sprintf("# %d transactions ended while traced; divide calls by it for calls per transaction\n", tx)
	_ = os.WriteFile(filepath.Join(e.o.out, filepath.Base(table)), append([]byte(head), text...), 0o644)
}

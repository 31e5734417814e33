package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of the CPU times in /proc/PID/stat (USER_HZ,
// 100 on every Linux the harness runs on).
const clockTick = 10 * time.Millisecond

// cpuSample is CPU time read from /proc: the pooler's own, and
// PostgreSQL's (the postmaster, its live children and the children it has
// already reaped), taken before and after a run.
type cpuSample struct {
	pooler, server time.Duration
	ok             bool
}

// procStatFields returns the fields of /proc/PID/stat after the command
// name (which may contain spaces), so field 14 of proc(5) (utime) is at
// index 11.
func procStatFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return strings.Fields(s[i+1:]), nil
}

// procCPU is a process's user+system time; with reaped it adds that of
// the children it has waited for (cutime+cstime).
func procCPU(pid int, reaped bool) (time.Duration, error) {
	if reaped {
		return statTicks(pid, 11, 12, 13, 14)
	}
	return statTicks(pid, 11, 12)
}

// statTicks sums the given fields of /proc/PID/stat (indexes as
// procStatFields returns them) as CPU time.
func statTicks(pid int, idx ...int) (time.Duration, error) {
	f, err := procStatFields(pid)
	if err != nil {
		return 0, err
	}
	var ticks int64
	for _, i := range idx {
		if i >= len(f) {
			return 0, fmt.Errorf("short /proc/%d/stat", pid)
		}
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += v
	}
	return time.Duration(ticks) * clockTick, nil
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []int
	for _, d := range dirs {
		child, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		f, err := procStatFields(child)
		if err != nil || len(f) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == pid {
			out = append(out, child)
		}
	}
	return out
}

// serverCPU is all the CPU PostgreSQL has used so far: the postmaster's,
// its backends' and auxiliary processes', and that of the children it
// reaped (backends of connections already closed). The difference of two
// readings is what the server spent in between, whoever connected.
//
// A backend reaped between the postmaster's reading and the scan of its
// children would be counted in neither (a reading after pgbench's
// backends exit could come out below the one before), so the reading is
// taken again until the postmaster reaped nothing during the scan.
func serverCPU(postmaster int) (time.Duration, error) {
	for range 10 {
		before, err := statTicks(postmaster, 13, 14)
		if err != nil {
			return 0, err
		}
		total, err := procCPU(postmaster, true)
		if err != nil {
			return 0, err
		}
		for _, c := range childrenOf(postmaster) {
			if d, err := procCPU(c, false); err == nil {
				total += d
			}
		}
		after, err := statTicks(postmaster, 13, 14)
		if err != nil {
			return 0, err
		}
		if after == before {
			return total, nil
		}
	}
	return 0, fmt.Errorf("postmaster %d kept reaping children while its CPU was read", postmaster)
}

// postmasterPID reads the first line of the cluster's postmaster.pid.
func (e *env) postmasterPID() int {
	if e.cluster == nil {
		return 0
	}
	b, err := os.ReadFile(filepath.Join(e.cluster.Dir(), "data", "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(firstLine(string(b))))
	return pid
}

// sampleCPU reads the pooler's (pid 0: none, for direct runs) and the
// server's CPU time.
func (e *env) sampleCPU(pooler int) cpuSample {
	pm := e.postmasterPID()
	if pm == 0 {
		return cpuSample{}
	}
	s := cpuSample{ok: true}
	var err error
	if s.server, err = serverCPU(pm); err != nil {
		return cpuSample{}
	}
	if pooler != 0 {
		if s.pooler, err = procCPU(pooler, false); err != nil {
			return cpuSample{}
		}
	}
	return s
}

// perTx is the CPU microseconds per transaction between two samples.
func perTx(before, after time.Duration, tx int64) num {
	if tx <= 0 {
		return nan
	}
	return num(float64((after - before).Microseconds()) / float64(tx))
}

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
	f, err := procStatFields(pid)
	if err != nil {
		return 0, err
	}
	idx := []int{11, 12}
	if reaped {
		idx = append(idx, 13, 14)
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
func serverCPU(postmaster int) (time.Duration, error) {
	total, err := procCPU(postmaster, true)
	if err != nil {
		return 0, err
	}
	for _, c := range childrenOf(postmaster) {
		if d, err := procCPU(c, false); err == nil {
			total += d
		}
	}
	return total, nil
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

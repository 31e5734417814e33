package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// groupCPU is the CPU time (user + system) used so far by each live
// process in the process groups pgids (every child the harness starts is
// a group of its own, so a group is a server and whatever it spawned).
// Processes gone since are not counted: callers take the difference per
// pid, over pids present at both ends.
func groupCPU(pgids []int) map[int]time.Duration {
	want := map[int]bool{}
	for _, g := range pgids {
		want[g] = true
	}
	out := map[int]time.Duration{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		pid, pgrp, cpu, ok := parseStat(string(b))
		if ok && want[pgrp] {
			out[pid] = cpu
		}
	}
	return out
}

// parseStat reads pid, process group and utime+stime from a
// /proc/PID/stat line. The command name (field 2) is in parentheses and
// may hold spaces, so fields are counted after its closing one.
func parseStat(s string) (pid, pgrp int, cpu time.Duration, ok bool) {
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return 0, 0, 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(s[:open]))
	if err != nil {
		return 0, 0, 0, false
	}
	f := strings.Fields(s[end+1:])
	// f[0] is field 3 (state): pgrp is field 5, utime 14, stime 15.
	if len(f) < 13 {
		return 0, 0, 0, false
	}
	pgrp, err1 := strconv.Atoi(f[2])
	ut, err2 := strconv.ParseInt(f[11], 10, 64)
	st, err3 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, 0, false
	}
	return pid, pgrp, time.Duration(ut+st) * clockTick, true
}

// cpuSpent is the CPU used between two groupCPU readings, by the
// processes present in both.
func cpuSpent(before, after map[int]time.Duration) time.Duration {
	var d time.Duration
	for pid, a := range after {
		if b, ok := before[pid]; ok && a >= b {
			d += a - b
		}
	}
	return d
}

package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// pgbenchSummary is what pgbench prints at the end of a run.
type pgbenchSummary struct {
	TPS         num    `json:"tps"`
	LatAvgMs    num    `json:"latency_avg_ms"`
	ConnMs      num    `json:"connection_ms"` // initial, or average per transaction with -C
	Processed   int64  `json:"processed"`
	Failed      int64  `json:"failed"`
	HasSummary  bool   `json:"-"`
	AbortReason string `json:"-"`
}

var (
	reTPS       = regexp.MustCompile(`^tps = ([0-9.]+)`)
	reLatAvg    = regexp.MustCompile(`^latency average = ([0-9.]+) ms`)
	reProcessed = regexp.MustCompile(`^number of transactions actually processed: ([0-9]+)`)
	reFailed    = regexp.MustCompile(`^number of failed transactions: ([0-9]+)`)
	reConn      = regexp.MustCompile(`^(?:initial|average) connection time = ([0-9.]+) ms`)
)

// parsePgbench reads pgbench's standard output (PostgreSQL 15 format).
// Lines it does not know are ignored, so -r's per-statement table and
// progress lines do no harm.
func parsePgbench(r io.Reader) (pgbenchSummary, error) {
	s := pgbenchSummary{TPS: nan, LatAvgMs: nan, ConnMs: nan}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case match(reTPS, line, func(v string) { s.TPS = parseNum(v); s.HasSummary = true }):
		case match(reLatAvg, line, func(v string) { s.LatAvgMs = parseNum(v) }):
		case match(reConn, line, func(v string) { s.ConnMs = parseNum(v) }):
		case match(reProcessed, line, func(v string) { s.Processed, _ = strconv.ParseInt(v, 10, 64) }):
		case match(reFailed, line, func(v string) { s.Failed, _ = strconv.ParseInt(v, 10, 64) }):
		case strings.HasPrefix(line, "Run was aborted"):
			s.AbortReason = line
		}
	}
	if err := sc.Err(); err != nil {
		return s, fmt.Errorf("read pgbench output: %w", err)
	}
	return s, nil
}

func match(re *regexp.Regexp, line string, set func(string)) bool {
	m := re.FindStringSubmatch(line)
	if m == nil {
		return false
	}
	set(m[1])
	return true
}

func parseNum(v string) num {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return nan
	}
	return num(f)
}

// latencyLog holds per-transaction latencies from pgbench --log files.
type latencyLog struct {
	micros []float64 // sorted ascending
	ends   []int64   // when each transaction ended, Unix microseconds
	failed int64
}

// parseLatencyLog reads one pgbench --log file. Each line is
// "client tx latency_us script epoch epoch_us [lag]"; the latency field is
// "failed" or "skipped" instead of a number for those transactions.
func parseLatencyLog(r io.Reader, into *latencyLog) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 {
			continue
		}
		switch f[2] {
		case "failed":
			into.failed++
			continue
		case "skipped":
			continue
		}
		us, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			return fmt.Errorf("pgbench log line %q: %w", sc.Text(), err)
		}
		into.micros = append(into.micros, us)
		if len(f) >= 6 {
			sec, err1 := strconv.ParseInt(f[4], 10, 64)
			usec, err2 := strconv.ParseInt(f[5], 10, 64)
			if err1 == nil && err2 == nil {
				into.ends = append(into.ends, sec*1e6+usec)
			}
		}
	}
	return sc.Err()
}

// between counts the transactions that ended in [from, to).
func (l *latencyLog) between(from, to time.Time) int64 {
	a, b := from.UnixMicro(), to.UnixMicro()
	var n int64
	for _, t := range l.ends {
		if t >= a && t < b {
			n++
		}
	}
	return n
}

func (l *latencyLog) sort() { slices.Sort(l.micros) }

// quantileMs is the p-th percentile latency in milliseconds.
func (l *latencyLog) quantileMs(p float64) num {
	v := percentile(l.micros, p)
	if math.IsNaN(v) {
		return nan
	}
	return num(v / 1000)
}

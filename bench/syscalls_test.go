package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseStrace(t *testing.T) {
	f, err := os.Open("testdata/strace-c.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	got, err := parseStrace(f)
	if err != nil {
		t.Fatal(err)
	}
	// read 45048 + recvfrom 16002; write 32355; epoll_pwait 4414 +
	// epoll_ctl 34; futex 2314; the rest (the errors column empty or not).
	want := straceTotals{reads: 61050, writes: 32355, epoll: 4448, futex: 2314, other: 7897 + 191 + 102 + 17 + 32 + 12 + 12 + 12 + 9 + 9 + 17 + 1 + 3}
	if got != want {
		t.Errorf("parseStrace = %+v, want %+v", got, want)
	}
	per := got.perTx(16000)
	if float64(per.Writes) < 2.02 || float64(per.Writes) > 2.03 {
		t.Errorf("writes per tx = %v", per.Writes)
	}
	if none := got.perTx(0); none.Error == "" {
		t.Error("no transactions should be an error, not a division by zero")
	}
}

func TestLatencyLogBetween(t *testing.T) {
	var l latencyLog
	// client tx latency_us script epoch epoch_us
	in := "0 1 900 0 100 500000\n0 2 900 0 101 0\n1 1 failed 0 101 10\n0 3 800 0 102 999999\n"
	if err := parseLatencyLog(strings.NewReader(in), &l); err != nil {
		t.Fatal(err)
	}
	from, to := time.UnixMicro(100_500_000), time.UnixMicro(102_000_000)
	if n := l.between(from, to); n != 2 {
		t.Errorf("between = %d, want 2 (the failed one is not a transaction done)", n)
	}
}

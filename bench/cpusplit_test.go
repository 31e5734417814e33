package main

import (
	"math"
	"strings"
	"testing"
)

func TestSplitTop(t *testing.T) {
	top := []byte(`File: pgmoat
Type: cpu
Showing nodes accounting for 2s, 100% of 2s total
      flat  flat%   sum%        cum   cum%
     1.00s 50.00% 50.00%      1.00s 50.00%  internal/runtime/syscall/linux.Syscall6
   500ms 25.00% 75.00%    500ms 25.00%  github.com/pgmoat/pgmoat/proxy.(*session).handle
   250ms 12.50% 87.50%    250ms 12.50%  runtime.futex
   200ms 10.00% 97.50%    200ms 10.00%  runtime.scanobject
    50ms  2.50%   100%     50ms  2.50%  strings.Index
`)
	want := map[string]float64{
		"system calls (reads, writes, epoll)": 0.5, "pgmoat (proxy, policy)": 0.25,
		"goroutine scheduling and wake-ups": 0.125, "garbage collection and allocation": 0.1,
		"pgx wire protocol": 0, "other (runtime, standard library)": 0.025,
	}
	got := splitTop(top)
	if len(got) != len(want) {
		t.Fatalf("%d kinds, want %d: %+v", len(got), len(want), got)
	}
	for _, s := range got {
		if w, ok := want[s.Kind]; !ok || math.Abs(s.Share-w) > 1e-9 {
			t.Errorf("%s: %.3f, want %.3f", s.Kind, s.Share, w)
		}
	}
	if splitTop([]byte("no samples")) != nil {
		t.Error("a profile without samples has a split")
	}
}

func TestCPUSplitIsReported(t *testing.T) {
	r := &report{Profiles: []string{"pgmoat-cpu.pprof"}, CPUSplit: []cpuShare{{Kind: "pgmoat (proxy, policy)", Share: 0.25}}}
	md := renderMarkdown(r, nil)
	if !strings.Contains(md, "| pgmoat (proxy, policy) | 25.0% |") {
		t.Errorf("the split is not in the report:\n%s", md)
	}
}

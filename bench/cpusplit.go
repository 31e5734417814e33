package main

import (
	"bufio"
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// A CPU profile names thousands of functions; what explains a CPU-per-
// transaction gap to a pooler that only relays is which kind of work the
// time goes to. cpuSplit sums the profile's flat samples by kind, the
// first matching prefix of a function's name deciding.

// cpuShare is the part of a profile's samples one kind of work took.
type cpuShare struct {
	Kind  string  `json:"kind"`
	Share float64 `json:"share"` // of all samples, 0..1
}

// cpuKinds are the kinds, in report order, with the function-name
// prefixes that make a sample one of them.
var cpuKinds = []struct {
	kind     string
	prefixes []string
}{
	{"system calls (reads, writes, epoll)", []string{"internal/runtime/syscall", "syscall.", "runtime/internal/syscall", "internal/poll.", "runtime.netpoll", "runtime.epoll"}},
	{"goroutine scheduling and wake-ups", []string{"runtime.futex", "runtime.schedule", "runtime.findRunnable", "runtime.park", "runtime.ready", "runtime.goready", "runtime.wakep", "runtime.notewakeup", "runtime.notesleep", "runtime.stopm", "runtime.startm", "runtime.mcall", "runtime.gopark", "runtime.runqgrab", "runtime.usleep", "runtime.nanotime", "runtime.procyield", "runtime.osyield", "runtime.lock", "runtime.unlock", "runtime.casgstatus", "runtime.execute", "runtime.checkTimers", "runtime.stealWork", "runtime.resetspinning", "runtime.runqsteal", "runtime.(*timer", "runtime.(*timers"}},
	{"garbage collection and allocation", []string{"runtime.gc", "runtime.scan", "runtime.mark", "runtime.greyobject", "runtime.findObject", "runtime.mallocgc", "runtime.(*mspan", "runtime.(*mheap", "runtime.(*mcache", "runtime.(*gcWork", "runtime.heapBits", "runtime.typePointers", "runtime.wbBuf", "runtime.bgsweep", "runtime.sweepone", "runtime.memclr", "runtime.nextFreeFast", "gcWriteBarrier", "runtime.spanOf"}},
	{"pgmoat (proxy, policy)", []string{"github.com/pgmoat/pgmoat/"}},
	{"pgx wire protocol", []string{"github.com/jackc/"}},
}

// cpuSplit runs `go tool pprof -top` over the whole profile and sums the
// flat samples by kind; what matches no kind is "other".
func (e *env) cpuSplit(ctx context.Context, profile string) ([]cpuShare, error) {
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=1000000", e.pgmoatBin, filepath.Join(e.o.out, profile)).Output()
	if err != nil {
		return nil, err
	}
	return splitTop(out), nil
}

// splitTop sums the flat column of `go tool pprof -top` lines by kind.
func splitTop(top []byte) []cpuShare {
	sums := make([]float64, len(cpuKinds)+1)
	var total float64
	sc := bufio.NewScanner(bytes.NewReader(top))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || !strings.HasSuffix(f[1], "%") {
			continue
		}
		flat, ok := parseSeconds(f[0])
		if !ok {
			continue
		}
		name := strings.Join(f[5:], " ")
		total += flat
		sums[kindOf(name)] += flat
	}
	if total == 0 {
		return nil
	}
	out := make([]cpuShare, 0, len(sums))
	for i, s := range sums {
		kind := "other (runtime, standard library)"
		if i < len(cpuKinds) {
			kind = cpuKinds[i].kind
		}
		out = append(out, cpuShare{Kind: kind, Share: s / total})
	}
	return out
}

// kindOf is the index in cpuKinds of the kind name belongs to, or
// len(cpuKinds) for none.
func kindOf(name string) int {
	for i, k := range cpuKinds {
		for _, p := range k.prefixes {
			if strings.HasPrefix(name, p) {
				return i
			}
		}
	}
	return len(cpuKinds)
}

// parseSeconds reads a pprof duration such as 1.25s or 30ms.
func parseSeconds(s string) (float64, bool) {
	for _, u := range []struct {
		suffix string
		scale  float64
	}{{"ms", 1e-3}, {"us", 1e-6}, {"µs", 1e-6}, {"ns", 1e-9}, {"s", 1}, {"min", 60}, {"hrs", 3600}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f * u.scale, err == nil
		}
	}
	return 0, false
}

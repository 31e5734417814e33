// Command memjudge judges several large statements at once and reports
// the process's peak resident memory, for the engine's memory tests:
// C allocations of the parser count, which Go's heap profile cannot see.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/pgmoat/pgmoat/policy"
)

func main() {
	n := flag.Int("n", 10, "statements judged at once")
	size := flag.Int("size", 1<<20, "bytes per statement")
	budget := flag.Int("budget", 0, "Options.MaxJudgeBytes (0: the default)")
	wait := flag.Duration("wait", 0, "Options.JudgeWait (0: the default)")
	flag.Parse()
	e, err := policy.New(policy.Options{MaxJudgeBytes: *budget, JudgeWait: *wait})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	before := status()
	var wg sync.WaitGroup
	rules := make([]string, *n)
	for i := range *n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := e.Decide(policy.Identity{}, wide(*size, i))
			rules[i] = v.Rule
		}()
	}
	wg.Wait()
	after := status()
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{
		"baseline_hwm_kb": before["VmHWM"], "hwm_kb": after["VmHWM"], "rss_kb": after["VmRSS"], "rules": rules,
	})
}

// wide is a SELECT of about size bytes whose select list holds one
// literal per three bytes: the most parse-tree nodes per byte the input
// checks let through, and a text the LIMIT rewrite must deparse.
func wide(size, salt int) string {
	var b strings.Builder
	b.Grow(size + 16)
	b.WriteString("select " + strconv.Itoa(salt))
	for b.Len() < size-2 {
		b.WriteString(",1")
	}
	return b.String()
}

// status reads the kB figures of /proc/self/status.
func status() map[string]int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil
	}
	out := map[string]int{}
	for line := range strings.SplitSeq(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 2 && f[1] == "kB" {
			out[k], _ = strconv.Atoi(f[0])
		}
	}
	return out
}

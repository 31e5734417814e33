package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// profileMCP starts fetching a CPU profile and an allocation profile
// (the allocations made during the window, not since start) of t's
// server over the next MCP duration, and returns the function that waits
// for both and writes them, with their tops, next to the report. The
// profiler costs the server a little CPU of its own: the run's figures
// are the report's, the profile says where the time goes.
func (e *env) profileMCP(ctx context.Context, t mcpTarget, sessions int) (done func()) {
	secs := max(1, int(e.o.mcpDuration/time.Second))
	base := "http://" + t.pprofAddr + "/debug/pprof/"
	name := fmt.Sprintf("pgmoat-mcp-http-%d", sessions)
	files := []struct{ url, pprof, top, sample string }{
		{fmt.Sprintf("%sprofile?seconds=%d", base, secs), name + "-cpu.pprof", name + "-cpu-top.txt", ""},
		{fmt.Sprintf("%sallocs?seconds=%d", base, secs), name + "-allocs.pprof", name + "-allocs-top.txt", "-sample_index=alloc_space"},
	}
	if err := os.MkdirAll(e.o.out, 0o755); err != nil { // the report's directory is made at the end
		e.say("      profile: %v", err)
		return func() {}
	}
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i, f := range files {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = fetch(ctx, f.url, filepath.Join(e.o.out, f.pprof)) }()
	}
	return func() {
		wg.Wait()
		for i, f := range files {
			if errs[i] != nil {
				e.say("      profile %s: %v", f.pprof, errs[i])
				continue
			}
			e.rep.Profiles = append(e.rep.Profiles, f.pprof)
			if e.pprofTop(ctx, f.pprof, f.top, f.sample) == nil {
				e.rep.Profiles = append(e.rep.Profiles, f.top)
			}
		}
	}
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// warmupCalls per session before timing starts: the first calls pay for
// connections, plans and JIT in the servers.
const warmupCalls = 5

// mcpScenario is scenario 4: calls per second and latency of one indexed
// lookup per MCP server and session count, servers alternating per round.
func (e *env) mcpScenario(ctx context.Context) {
	groups, err := e.lookupGroups(ctx)
	if err != nil {
		e.rep.skip(scMCP, "", "no customers to look up: %v", err)
		return
	}
	all, stop := e.mcpTargets(ctx)
	defer stop()
	var targets []mcpTarget
	for _, t := range all {
		if e.o.wantsMCP(t.name) {
			targets = append(targets, t)
		}
	}
	broken := map[string]bool{}
	for _, t := range targets {
		if size, err := e.toolsList(ctx, t, groups[0]); err != nil {
			e.rep.skip(scMCP, t.name, "%v", err)
			e.say("  skipping %s: %v", t.name, err)
			broken[t.name] = true
		} else {
			e.rep.ToolsList = append(e.rep.ToolsList, size)
		}
	}
	for _, n := range e.o.mcpSessions {
		cells := make([]mcpCell, len(targets))
		for i, t := range targets {
			cells[i] = mcpCell{Target: t.name, Sessions: n}
		}
		for round := range e.o.rounds {
			for i, t := range targets {
				if broken[t.name] || ctx.Err() != nil {
					continue
				}
				e.step("mcp %s sessions=%d (round %d/%d)", t.name, n, round+1, e.o.rounds)
				r := e.mcpRun(ctx, t, n, groups, round == 0 && n == e.o.mcpProfile)
				if r.Error != "" {
					e.say("      failed: %s", r.Error)
				} else {
					e.say("      %.0f calls/s, p50 %.2f ms, p99 %.2f ms, %.0f µs CPU per call, %d errors", float64(r.CallsPerSec), float64(r.P50Ms), float64(r.P99Ms), float64(r.CPUPerCallUs), r.Errors)
				}
				cells[i].Runs = append(cells[i].Runs, r)
			}
		}
		for i := range cells {
			if broken[cells[i].Target] {
				continue
			}
			cells[i].summarize()
			e.rep.MCP = append(e.rep.MCP, cells[i])
		}
	}
}

// toolsList opens one session, checks that the lookup returns a full
// page and measures the server's tools/list answer, bytes and tokens.
func (e *env) toolsList(ctx context.Context, t mcpTarget, group []int32) (toolsListSize, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	s, err := t.connect(ctx)
	if err != nil {
		return toolsListSize{}, fmt.Errorf("connect: %w", err)
	}
	defer func() { _ = s.Close() }()
	res, err := s.ListTools(ctx, nil)
	if err != nil {
		return toolsListSize{}, fmt.Errorf("tools/list: %w", err)
	}
	b, err := json.Marshal(res)
	if err != nil {
		return toolsListSize{}, err
	}
	tools := make([]json.RawMessage, len(res.Tools))
	for i, tool := range res.Tools {
		if tools[i], err = json.Marshal(tool); err != nil {
			return toolsListSize{}, err
		}
	}
	if err := checkPage(ctx, s, t, group); err != nil {
		return toolsListSize{}, err
	}
	return e.sizeToolsList(ctx, t.name, len(b), tools), nil
}

// mcpRun opens n sessions, warms them up, then has each call the lookup
// back to back for the MCP duration.
func (e *env) mcpRun(ctx context.Context, t mcpTarget, n int, groups [][]int32, profile bool) mcpRun {
	res := mcpRun{CallsPerSec: nan, P50Ms: nan, P99Ms: nan, CPUPerCallUs: nan}
	sessions, err := openSessions(ctx, t, n)
	defer closeSessions(sessions)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	for i, s := range sessions {
		for k := range warmupCalls {
			if err := callOnce(ctx, s, t, groups[(i+k)%len(groups)]); err != nil {
				res.Error = fmt.Sprintf("warm-up call: %v", err)
				return res
			}
		}
	}
	var profiled func()
	if profile && t.pprofAddr != "" {
		profiled = e.profileMCP(ctx, t, n)
	}
	before := groupCPU(t.pgids())
	lat, errs, elapsed := drive(ctx, t, sessions, groups, e.o.mcpDuration)
	cpu := cpuSpent(before, groupCPU(t.pgids()))
	if profiled != nil {
		profiled()
	}
	slices.Sort(lat)
	res.Calls, res.Errors = int64(len(lat)), errs
	if len(lat) > 0 {
		res.CPUPerCallUs = num(float64(cpu.Microseconds()) / float64(len(lat)))
	}
	res.CallsPerSec = num(float64(len(lat)) / elapsed.Seconds())
	res.P50Ms, res.P99Ms = num(percentile(lat, 50)), num(percentile(lat, 99))
	return res
}

// drive runs every session's call loop until d has passed and returns the
// latencies of successful calls in milliseconds.
func drive(ctx context.Context, t mcpTarget, sessions []*sdk.ClientSession, groups [][]int32, d time.Duration) ([]float64, int64, time.Duration) {
	var (
		mu   sync.Mutex
		all  []float64
		errs int64
		wg   sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for i, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []float64
			var bad int64
			for k := i; time.Now().Before(deadline) && ctx.Err() == nil; k += len(sessions) {
				t0 := time.Now()
				if err := callOnce(ctx, s, t, groups[k%len(groups)]); err != nil {
					bad++
					continue
				}
				lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
			}
			mu.Lock()
			all, errs = append(all, lat...), errs+bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	return all, errs, time.Since(start)
}

func callOnce(ctx context.Context, s *sdk.ClientSession, t mcpTarget, customers []int32) error {
	res, err := s.CallTool(ctx, t.call(customers))
	if err != nil {
		return err
	}
	if res.IsError {
		return fmt.Errorf("tool error: %s", contentText(res))
	}
	return nil
}

func contentText(res *sdk.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return truncate(b.String(), 300)
}

// openSessions connects n sessions in parallel (stdio servers take a while
// to start).
func openSessions(ctx context.Context, t mcpTarget, n int) ([]*sdk.ClientSession, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out := make([]*sdk.ClientSession, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); out[i], errs[i] = t.connect(ctx) }()
	}
	wg.Wait()
	var ok []*sdk.ClientSession
	for _, s := range out {
		if s != nil {
			ok = append(ok, s)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return ok, fmt.Errorf("open %d sessions: %w", n, err)
	}
	return ok, nil
}

func closeSessions(sessions []*sdk.ClientSession) {
	var wg sync.WaitGroup
	for _, s := range sessions {
		wg.Add(1)
		go func() { defer wg.Done(); _ = s.Close() }()
	}
	wg.Wait()
}

// checkPage makes the lookup of group and checks that it returns lookupPage rows,
// so that every server is measured on the same page.
func checkPage(ctx context.Context, s *sdk.ClientSession, t mcpTarget, group []int32) error {
	res, err := s.CallTool(ctx, t.call(group))
	if err != nil {
		return fmt.Errorf("lookup: %w", err)
	}
	if res.IsError {
		return fmt.Errorf("lookup: tool error: %s", contentText(res))
	}
	if n := pageRows(res); n != lookupPage {
		return fmt.Errorf("lookup returned %d rows, want %d: %s", n, lookupPage, contentText(res))
	}
	return nil
}

// pageRows counts the rows of a lookup's answer, whatever the server's
// format: the longest array of objects in the structured content, else
// in the JSON text of the first text block that holds one.
func pageRows(res *sdk.CallToolResult) int {
	if res.StructuredContent != nil {
		if b, err := json.Marshal(res.StructuredContent); err == nil {
			if n := longestObjectArray(b); n >= 0 {
				return n
			}
		}
	}
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			if n := longestObjectArray([]byte(tc.Text)); n >= 0 {
				return n
			}
		}
	}
	return -1
}

// longestObjectArray is the length of the longest array of objects in
// the JSON text b; -1 when b is not JSON or holds none.
func longestObjectArray(b []byte) int {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return -1
	}
	best := -1
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case []any:
			if len(v) > 0 {
				if _, ok := v[0].(map[string]any); ok {
					best = max(best, len(v))
				}
			}
			for _, x := range v {
				walk(x)
			}
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	return best
}

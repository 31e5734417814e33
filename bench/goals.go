package main

import (
	"fmt"
	"math"
)

// goal is one of the targets, checked against a run.
type goal struct {
	Name     string `json:"name"`
	Measured string `json:"measured"`
	Status   string `json:"status"` // met, missed, not measured
}

const (
	goalMet         = "met"
	goalMissed      = "MISSED"
	goalNotMeasured = "not measured"
)

func status(ok bool) string {
	if ok {
		return goalMet
	}
	return goalMissed
}

// findCell returns the median run of one throughput cell.
func findCell(cells []cell, mode string, clients int, target string) (cell, bool) {
	for _, c := range cells {
		if c.Mode == mode && c.Clients == clients && c.Target == target {
			return c, true
		}
	}
	return cell{}, false
}

func cellTPS(cells []cell, mode string, clients int, target string) float64 {
	c, ok := findCell(cells, mode, clients, target)
	if !ok || c.Unsupported != "" {
		return math.NaN()
	}
	return float64(c.Median.TPS)
}

// goals evaluates the targets. They are reported, never asserted.
func goals(r *report) []goal {
	var out []goal
	t := r.Throughput
	{
		m, b := cellTPS(t, "extended", 64, tPgmoat), cellTPS(t, "extended", 64, tPgBouncer)
		out = append(out, ratioGoal("pgmoat TPS ≥ PgBouncer TPS (-M extended, 64 clients)", m, b, 1.0, "PgBouncer"))
	}
	for _, c := range []int{64, 256} {
		p, x := cellTPS(t, "prepared", c, tPgmoat), cellTPS(t, "extended", c, tPgmoat)
		g := ratioGoal(fmt.Sprintf("pgmoat -M prepared works at %d clients with ≥ its -M extended TPS", c), p, x, 1.0, "extended")
		if cl, ok := findCell(t, "prepared", c, tPgmoat); ok && (cl.Median.Failed > 0 || cl.Median.Error != "") {
			g.Status = goalMissed
			g.Measured += fmt.Sprintf("; %d failed transactions %s", cl.Median.Failed, cl.Median.Error)
		}
		out = append(out, g)
	}
	for _, mode := range []string{"simple", "extended", "prepared"} {
		m, d := cellTPS(t, mode, 16, tPgmoat), cellTPS(t, mode, 16, tDirect)
		out = append(out, ratioGoal(fmt.Sprintf("pgmoat ≥ 80%% of direct TPS (-M %s, 16 clients)", mode), m, d, 0.8, "direct"))
	}
	out = append(out, mcpGoals(r)...)
	out = append(out, memoryGoal(r))
	return out
}

func ratioGoal(name string, a, b, want float64, of string) goal {
	q := ratio(a, b)
	if math.IsNaN(q) {
		return goal{Name: name, Measured: "–", Status: goalNotMeasured}
	}
	return goal{Name: name, Measured: fmt.Sprintf("%.0f vs %.0f tps (%.2f× %s)", a, b, q, of), Status: status(q >= want)}
}

func mcpGoals(r *report) []goal {
	peer := math.NaN()
	for _, c := range r.MCP {
		if c.Sessions == 8 && (c.Target == mServerPostgres || c.Target == mDBHub) && c.Median.CallsPerSec.ok() {
			if math.IsNaN(peer) || float64(c.Median.CallsPerSec) > peer {
				peer = float64(c.Median.CallsPerSec)
			}
		}
	}
	var out []goal
	for _, name := range []string{mPgmoatHTTP, mPgmoatStdio} {
		g := goal{Name: name + ": ≥ 2× the faster peer's calls/s at 8 sessions, p99 < 10 ms", Measured: "–", Status: goalNotMeasured}
		for _, c := range r.MCP {
			if c.Target != name || c.Sessions != 8 || !c.Median.CallsPerSec.ok() || math.IsNaN(peer) {
				continue
			}
			cps, p99 := float64(c.Median.CallsPerSec), float64(c.Median.P99Ms)
			g.Measured = fmt.Sprintf("%.0f calls/s vs %.0f (%.2f×), p99 %.2f ms", cps, peer, cps/peer, p99)
			g.Status = status(cps >= 2*peer && p99 < 10)
		}
		out = append(out, g)
	}
	return append(out, mcpCPUGoal(r))
}

// mcpCPUGoal is pgmoat's server CPU per call over HTTP at 8 sessions.
func mcpCPUGoal(r *report) goal {
	g := goal{Name: mPgmoatHTTP + ": ≤ 150 µs of server CPU per call at 8 sessions", Measured: "–", Status: goalNotMeasured}
	for _, c := range r.MCP {
		if c.Target == mPgmoatHTTP && c.Sessions == 8 && c.Median.CPUPerCallUs.ok() {
			cpu := float64(c.Median.CPUPerCallUs)
			g.Measured, g.Status = fmt.Sprintf("%.0f µs per call", cpu), status(cpu <= 150)
		}
	}
	return g
}

func memoryGoal(r *report) goal {
	g := goal{Name: "pgmoat ≤ 16 KiB per idle client", Measured: "–", Status: goalNotMeasured}
	for _, m := range r.Memory {
		if m.Target == tPgmoat && m.KBPerClient.ok() {
			g.Measured = fmt.Sprintf("%.2f KiB per client (%d clients)", float64(m.KBPerClient), m.Clients)
			g.Status = status(float64(m.KBPerClient) <= 16)
		}
	}
	return g
}

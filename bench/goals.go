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
	out = append(out, cpuGoals(t)...)
	out = append(out, mcpGoals(r)...)
	out = append(out, memoryGoals(r)...)
	return out
}

func cellCPU(cells []cell, mode string, clients int, target string) float64 {
	c, ok := findCell(cells, mode, clients, target)
	if !ok || c.Unsupported != "" {
		return math.NaN()
	}
	return float64(c.Median.PoolerUsPerTx)
}

// cpuGoals: pgmoat's CPU per transaction at most PgBouncer's -M extended
// one, for -M extended and -M prepared (which PgBouncer cannot run).
func cpuGoals(t []cell) []goal {
	var out []goal
	for _, mode := range []string{"extended", "prepared"} {
		for _, c := range []int{16, 64, 256} {
			m, b := cellCPU(t, mode, c, tPgmoat), cellCPU(t, "extended", c, tPgBouncer)
			q := ratio(m, b)
			g := goal{Name: fmt.Sprintf("pgmoat CPU/tx ≤ PgBouncer's -M extended (-M %s, %d clients)", mode, c), Measured: "–", Status: goalNotMeasured}
			if !math.IsNaN(q) {
				g.Measured = fmt.Sprintf("%.1f vs %.1f µs/tx (%.2f×)", m, b, q)
				g.Status = status(q <= 1)
			}
			out = append(out, g)
		}
	}
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

// memoryGoals: at most 4 KiB per idle authenticated client, for each
// authentication method measured, at 10,000 clients.
func memoryGoals(r *report) []goal {
	var out []goal
	for _, auth := range memoryAuths {
		g := goal{Name: fmt.Sprintf("pgmoat ≤ 4 KiB per idle %s client at 10,000 clients", auth), Measured: "–", Status: goalNotMeasured}
		for _, m := range r.Memory {
			if m.Target == tPgmoat && authText(m.Auth) == auth && m.KBPerClient.ok() {
				g.Measured = fmt.Sprintf("%.2f KiB per client (%d clients)", float64(m.KBPerClient), m.Clients)
				g.Status = status(float64(m.KBPerClient) <= 4 && m.Clients >= 10000)
				if b := peerMemory(r, auth); b > 0 {
					g.Measured += fmt.Sprintf("; %.2f× PgBouncer's", float64(m.KBPerClient)/b)
				}
			}
		}
		out = append(out, g)
	}
	return out
}

func peerMemory(r *report, auth string) float64 {
	for _, m := range r.Memory {
		if m.Target == tPgBouncer && authText(m.Auth) == auth && m.KBPerClient.ok() {
			return float64(m.KBPerClient)
		}
	}
	return 0
}

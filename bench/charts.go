package main

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// series is one bar group member: a name and one value per category
// (NaN where nothing was measured).
type series struct {
	name   string
	values []float64
}

// writeCharts draws the SVG charts of a report and returns their file
// names.
func writeCharts(r *report, dir string) ([]string, error) {
	var names []string
	add := func(name, title, ylabel string, cats []string, ss []series) error {
		if len(cats) == 0 || len(ss) == 0 {
			return nil
		}
		if err := barChart(filepath.Join(dir, name), title, ylabel, cats, ss); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		names = append(names, name)
		return nil
	}
	for _, mode := range modesOf(r.Throughput) {
		cats, ss := throughputSeries(r.Throughput, mode)
		if err := add("throughput-"+mode+".svg", "pgbench -S -M "+mode, "transactions per second (median)", cats, ss); err != nil {
			return names, err
		}
	}
	cats, ss := mcpSeries(r.MCP)
	if err := add("mcp.svg", "MCP lookups", "calls per second (median)", cats, ss); err != nil {
		return names, err
	}
	cats, mem := memorySeries(r.Memory)
	if err := add("memory.svg", "Memory per idle client", "KiB per client", cats, mem); err != nil {
		return names, err
	}
	return names, nil
}

// memorySeries has one category per authentication method, one series
// per target.
func memorySeries(ms []memoryResult) ([]string, []series) {
	var auths, targets []string
	for _, m := range ms {
		if a := authText(m.Auth); !slices.Contains(auths, a) {
			auths = append(auths, a)
		}
		if !slices.Contains(targets, m.Target) {
			targets = append(targets, m.Target)
		}
	}
	cats := make([]string, len(auths))
	for i, a := range auths {
		cats[i] = "idle " + a + " clients"
	}
	var ss []series
	for _, t := range targets {
		vals := make([]float64, len(auths))
		for i := range vals {
			vals[i] = math.NaN()
		}
		for _, m := range ms {
			if m.Target == t {
				vals[slices.Index(auths, authText(m.Auth))] = float64(m.KBPerClient)
			}
		}
		ss = append(ss, series{name: t, values: vals})
	}
	return cats, ss
}

func throughputSeries(cells []cell, mode string) ([]string, []series) {
	clients := clientsOf(cells, mode)
	cats := make([]string, len(clients))
	for i, c := range clients {
		cats[i] = fmt.Sprintf("%d clients", c)
	}
	var ss []series
	for _, t := range allTargets {
		s := series{name: t}
		found := false
		for _, c := range clients {
			cl, ok := findCell(cells, mode, c, t)
			found = found || ok
			v := float64(cl.Median.TPS)
			if !ok || cl.Unsupported != "" {
				v = 0
			}
			s.values = append(s.values, v)
		}
		if found {
			ss = append(ss, s)
		}
	}
	return cats, ss
}

func mcpSeries(cells []mcpCell) ([]string, []series) {
	var sessions []int
	var targets []string
	for _, c := range cells {
		if !containsInt(sessions, c.Sessions) {
			sessions = append(sessions, c.Sessions)
		}
		if !contains(targets, c.Target) {
			targets = append(targets, c.Target)
		}
	}
	cats := make([]string, len(sessions))
	for i, s := range sessions {
		cats[i] = fmt.Sprintf("%d sessions", s)
	}
	var ss []series
	for _, t := range targets {
		s := series{name: t, values: make([]float64, len(sessions))}
		for _, c := range cells {
			if c.Target == t {
				for i, n := range sessions {
					if n == c.Sessions {
						s.values[i] = float64(c.Median.CallsPerSec)
					}
				}
			}
		}
		ss = append(ss, s)
	}
	return cats, ss
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// barChart draws grouped bars: one group per category, one bar per series.
func barChart(path, title, ylabel string, cats []string, ss []series) error {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.Y.Min = 0
	width := vg.Points(float64(60 / len(ss)))
	for i, s := range ss {
		vals := make(plotter.Values, len(s.values))
		for j, v := range s.values {
			if v != v { // NaN: nothing measured
				v = 0
			}
			vals[j] = v
		}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return err
		}
		bars.LineStyle.Width = 0
		bars.Color = plotutil.Color(i)
		bars.Offset = width * vg.Length(2*i-len(ss)+1) / 2
		p.Add(bars)
		p.Legend.Add(s.name, bars)
	}
	p.Legend.Top = true
	p.NominalX(cats...)
	// Room for the outer bars and, above the tallest one, for the legend.
	p.X.Min, p.X.Max = -0.5, float64(len(cats))-0.5
	p.Y.Max = 1.25 * maxValue(ss)
	return p.Save(7*vg.Inch, 4*vg.Inch, path)
}

func maxValue(ss []series) float64 {
	m := 1.0
	for _, s := range ss {
		for _, v := range s.values {
			if v == v && v > m {
				m = v
			}
		}
	}
	return m
}

package telemetry

import (
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/proxy"
)

// ToolStats is SHOW TOOLS: one line per tool called so far, by name.
func (o *Observers) ToolStats() []proxy.ToolStats { return o.tools.snapshot() }

// toolStats keeps per-tool counts and a window of recent latencies.
type toolStats struct {
	mu       sync.Mutex
	tools    map[string]*toolWindow
	duration *prometheus.HistogramVec
	calls    *prometheus.CounterVec
}

// windowSize is how many recent calls per tool p50/p99 are computed over.
const windowSize = 2048

type toolWindow struct {
	calls, errors, rows int64
	recent              []time.Duration // ring of the last windowSize calls
	next                int
}

func newToolStats(reg prometheus.Registerer) *toolStats {
	t := &toolStats{
		tools: map[string]*toolWindow{},
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pgmoat_mcp_tool_duration_seconds",
			Help:    "MCP tool call latency, by tool.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"tool"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pgmoat_mcp_tool_calls_total", Help: "MCP tool calls, by tool and result (ok or error).",
		}, []string{"tool", "result"}),
	}
	reg.MustRegister(t.duration, t.calls)
	return t
}

func (t *toolStats) record(rec mcp.CallRecord) {
	result := "ok"
	if rec.IsError {
		result = "error"
	}
	t.duration.WithLabelValues(rec.Tool).Observe(rec.Duration.Seconds())
	t.calls.WithLabelValues(rec.Tool, result).Inc()
	t.mu.Lock()
	defer t.mu.Unlock()
	w := t.tools[rec.Tool]
	if w == nil {
		w = &toolWindow{}
		t.tools[rec.Tool] = w
	}
	w.calls++
	w.rows += int64(rec.Rows)
	if rec.IsError {
		w.errors++
	}
	if len(w.recent) < windowSize {
		w.recent = append(w.recent, rec.Duration)
	} else {
		w.recent[w.next] = rec.Duration
		w.next = (w.next + 1) % windowSize
	}
}

// snapshot is SHOW TOOLS: one line per tool called so far.
func (t *toolStats) snapshot() []proxy.ToolStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]proxy.ToolStats, 0, len(t.tools))
	for name, w := range t.tools {
		sorted := append([]time.Duration(nil), w.recent...)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
		out = append(out, proxy.ToolStats{
			Name: name, Calls: w.calls, Errors: w.errors,
			P50: quantile(sorted, 0.50), P99: quantile(sorted, 0.99),
			RowsPerCall: float64(w.rows) / float64(max(w.calls, 1)),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// quantile of sorted durations (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

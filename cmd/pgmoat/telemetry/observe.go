package telemetry

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/policy"
)

// Observers is what both doors report to: one Prometheus registry (served
// at /metrics), the per-tool call statistics the admin console shows, the
// log, and the tracer provider.
type Observers struct {
	// Registry is handed to the proxy, which registers its own metrics.
	Registry *prometheus.Registry
	Logger   *slog.Logger
	tools    *toolStats
	traces   trace.TracerProvider // nil: tracing off
	// shutdownTraces flushes and stops the exporter, when tracing is on.
	shutdownTraces func(context.Context) error
	// logValues are the arguments whose values may be logged
	// ("argument" or "tool.argument"); RELOAD swaps them.
	logValues atomic.Pointer[map[string]bool]
}

// New makes the observers, logging to logger (nil: no call records).
func New(logger *slog.Logger) *Observers {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Observers{Registry: reg, tools: newToolStats(reg), Logger: logger}
}

// AllowValues opts arguments in to value logging (mcp.log_values),
// replacing the earlier list.
func (o *Observers) AllowValues(names []string) {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	o.logValues.Store(&m)
}

// MetricsHandler serves the registry.
func (o *Observers) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{})
}

var (
	descVerdictCache = prometheus.NewDesc("pgmoat_policy_verdict_cache_total", "Policy verdict-cache lookups, by result (hit or miss).", []string{"result"}, nil)
	descShapeCache   = prometheus.NewDesc("pgmoat_mcp_shape_cache_total", "MCP statement-shape cache lookups, by result.", []string{"result"}, nil)
	descResultCache  = prometheus.NewDesc("pgmoat_mcp_result_cache_total", "MCP result-cache lookups, by result.", []string{"result"}, nil)
	descReloads      = prometheus.NewDesc("pgmoat_schema_reloads_total", "Tool sets swapped in after a schema change.", nil, nil)
	descMCPAccept    = prometheus.NewDesc("pgmoat_mcp_accept_errors_total", "Failed accepts of MCP HTTP connections (out of file descriptors, above all).", nil, nil)
	descQueryShapes  = prometheus.NewDesc("pgmoat_policy_shape_cache_hits_total", "Simple-protocol Query texts answered from the policy's shape cache (neither a hit nor a miss of the verdict cache).", nil, nil)
)

// WatchEngine exports the verdict cache's counters. Call it once.
func (o *Observers) WatchEngine(e *policy.Engine) {
	o.Registry.MustRegister(engineCollector{e})
}

// WatchMCP exports the MCP server's cache and reload counters, read at
// scrape time. Call it once, when the MCP server is built (it takes
// OnCall from these observers, so it cannot come first).
func (o *Observers) WatchMCP(stats func() mcp.Stats) {
	o.Registry.MustRegister(mcpCollector{stats})
}

type engineCollector struct{ e *policy.Engine }

func (c engineCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descVerdictCache
	ch <- descQueryShapes
}

func (c engineCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.e.CacheStats()
	counter(ch, descVerdictCache, st.Hits, "hit")
	counter(ch, descVerdictCache, st.Misses, "miss")
	counter(ch, descQueryShapes, st.ShapeHits)
}

type mcpCollector struct{ stats func() mcp.Stats }

func (c mcpCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descShapeCache
	ch <- descResultCache
	ch <- descReloads
	ch <- descMCPAccept
}

func (c mcpCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	counter(ch, descShapeCache, st.ShapeHits, "hit")
	counter(ch, descShapeCache, st.ShapeMisses, "miss")
	counter(ch, descResultCache, st.ResultHits, "hit")
	counter(ch, descResultCache, st.ResultMisses, "miss")
	counter(ch, descReloads, st.Reloads)
	counter(ch, descMCPAccept, st.AcceptErrors)
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v uint64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

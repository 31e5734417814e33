package main

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/policy"
	"github.com/pgmoat/pgmoat/proxy"
)

// observers is what both doors report to: one Prometheus registry (served
// at /metrics) and the per-tool call statistics the admin console shows.
type observers struct {
	registry *prometheus.Registry
	tools    *toolStats
	logger   *slog.Logger

	mu       sync.Mutex
	reload   func(context.Context) (string, error) // set once the MCP side reads the schema
	engine   *policy.Engine                        // for verdict-cache counters
	mcpStats func() mcp.Stats                      // set once MCP serves
	// authStatus reports the OAuth key set in SHOW CONFIG; set once MCP
	// serves over HTTP.
	authStatus func() [][2]string
	slow       *slowLog             // set once MCP serves
	traces     trace.TracerProvider // nil: tracing off
	// shutdownTraces flushes and stops the exporter, when tracing is on.
	shutdownTraces func(context.Context) error
	// logValues are the arguments whose values may be logged
	// ("argument" or "tool.argument"); RELOAD swaps them.
	logValues atomic.Pointer[map[string]bool]
	// profiles keeps the engine's profiles in step with RELOAD and the
	// schema (set by serve before either door starts; nil for stdio).
	profiles *profileSync
}

// setAuthStatus and authRows carry the MCP authenticator's live state
// (the provider's keys) to SHOW CONFIG.
func (o *observers) setAuthStatus(f func() [][2]string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.authStatus = f
}

func (o *observers) authRows() [][2]string {
	o.mu.Lock()
	f := o.authStatus
	o.mu.Unlock()
	if f == nil {
		return nil
	}
	return f()
}

// allowValues opts arguments in to value logging (mcp.log_values),
// replacing the earlier list.
func (o *observers) allowValues(names []string) {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	o.logValues.Store(&m)
}

// watchEngine exports the verdict cache's counters.
func (o *observers) watchEngine(e *policy.Engine) {
	o.mu.Lock()
	o.engine = e
	o.mu.Unlock()
}

// watchMCP exports the MCP server's cache and reload counters.
func (o *observers) watchMCP(stats func() mcp.Stats) {
	o.mu.Lock()
	o.mcpStats = stats
	o.mu.Unlock()
}

var (
	descVerdictCache = prometheus.NewDesc("pgmoat_policy_verdict_cache_total", "Policy verdict-cache lookups, by result (hit or miss).", []string{"result"}, nil)
	descShapeCache   = prometheus.NewDesc("pgmoat_mcp_shape_cache_total", "MCP statement-shape cache lookups, by result.", []string{"result"}, nil)
	descResultCache  = prometheus.NewDesc("pgmoat_mcp_result_cache_total", "MCP result-cache lookups, by result.", []string{"result"}, nil)
	descReloads      = prometheus.NewDesc("pgmoat_schema_reloads_total", "Tool sets swapped in after a schema change.", nil, nil)
)

// cacheCollector reads the engines' counters at scrape time.
type cacheCollector struct{ o *observers }

func (c cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descVerdictCache
	ch <- descShapeCache
	ch <- descResultCache
	ch <- descReloads
}

func (c cacheCollector) Collect(ch chan<- prometheus.Metric) {
	c.o.mu.Lock()
	engine, mcpStats := c.o.engine, c.o.mcpStats
	c.o.mu.Unlock()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	if engine != nil {
		st := engine.CacheStats()
		counter(descVerdictCache, st.Hits, "hit")
		counter(descVerdictCache, st.Misses, "miss")
	}
	if mcpStats != nil {
		st := mcpStats()
		counter(descShapeCache, st.ShapeHits, "hit")
		counter(descShapeCache, st.ShapeMisses, "miss")
		counter(descResultCache, st.ResultHits, "hit")
		counter(descResultCache, st.ResultMisses, "miss")
		counter(descReloads, st.Reloads)
	}
}

// setReload names what the admin console's RELOAD runs.
func (o *observers) setReload(f func(context.Context) (string, error)) {
	o.mu.Lock()
	o.reload = f
	o.mu.Unlock()
}

// errNoSchema is runReload's answer when MCP does not serve, so no
// schema is loaded to re-read.
var errNoSchema = errors.New("no schema is loaded by this process (MCP is not serving)")

// runReload re-reads the schema, for RELOAD and SIGHUP after the config.
func (o *observers) runReload(ctx context.Context) (string, error) {
	o.mu.Lock()
	f := o.reload
	o.mu.Unlock()
	if f == nil {
		return "", errNoSchema
	}
	return f(ctx)
}

func newObservers(logger *slog.Logger) *observers {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	o := &observers{registry: reg, tools: newToolStats(reg), logger: logger}
	reg.MustRegister(cacheCollector{o})
	return o
}

// metricsHandler serves the registry.
func (o *observers) metricsHandler() http.Handler {
	return promhttp.HandlerFor(o.registry, promhttp.HandlerOpts{})
}

// onCall records a finished MCP tool call: a log record (no argument
// values), the metrics and the SHOW TOOLS statistics.
func (o *observers) onCall(rec mcp.CallRecord) {
	if o == nil {
		return
	}
	o.tools.record(rec)
	if o.logger != nil {
		attrs := []any{"request_id", callRequestID(rec), "session_id", rec.SessionID, "tool", rec.Tool, "user_id", rec.UserID,
			"duration_ms", float64(rec.Duration.Microseconds()) / 1000, "rows", rec.Rows,
			"truncated", rec.Truncated, "error", rec.IsError,
			"shape_cache_hit", rec.ShapeCacheHit, "result_cache_hit", rec.ResultCacheHit,
			"sql", rec.SQL, "arguments", o.redact(rec.Tool, rec.Arguments)}
		if rec.HTTPRequestID != "" {
			attrs = append(attrs, "http_request_id", rec.HTTPRequestID)
		}
		if rec.DenialRule != "" {
			attrs = append(attrs, "verdict", "deny", "rule", rec.DenialRule)
		}
		o.logger.Info("tool call", attrs...)
	}
}

// maxLoggedID caps a client-chosen id in the log, as the X-Request-Id
// header is capped.
const maxLoggedID = 128

// callRequestID is the call's JSON-RPC id, or a generated one when the
// call had none (a notification) or came over a transport that does not
// carry it. A client's string id is logged quoted ("abc"), so it cannot
// pass for a generated one.
func callRequestID(rec mcp.CallRecord) string {
	if rec.RequestID != "" {
		if len(rec.RequestID) > maxLoggedID {
			return rec.RequestID[:maxLoggedID] // the client chooses its length
		}
		return rec.RequestID
	}
	return rand.Text()[:16]
}

// redact keeps the argument names and replaces every value not opted in
// by mcp.log_values.
func (o *observers) redact(tool string, args map[string]any) map[string]any {
	out := make(map[string]any, len(args))
	var allowed map[string]bool
	if p := o.logValues.Load(); p != nil {
		allowed = *p
	}
	for name, v := range args {
		if allowed[name] || allowed[tool+"."+name] {
			out[name] = v
		} else {
			out[name] = "[redacted]"
		}
	}
	return out
}

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

// newSlowLog starts capturing slow statements for SHOW SLOW and the
// log; the proxy and the MCP side share one log, whichever starts first
// makes it.
func (o *observers) newSlowLog(x *proxy.Executor, engine *policy.Engine, logger *slog.Logger) *slowLog {
	if o == nil {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.slow == nil {
		o.slow = &slowLog{x: x, threshold: engineThresholds(engine), interval: time.Second, logger: logger}
	}
	return o.slow
}

// slowSnapshot is SHOW SLOW.
func (o *observers) slowSnapshot() []proxy.SlowStatement {
	o.mu.Lock()
	l := o.slow
	o.mu.Unlock()
	if l == nil {
		return nil
	}
	return l.snapshot()
}

// closeSlow stops slow-statement EXPLAINs and waits for those in flight,
// before the pool closes.
func (o *observers) closeSlow() {
	if o == nil {
		return
	}
	o.mu.Lock()
	l := o.slow
	o.mu.Unlock()
	if l != nil {
		l.close()
	}
}

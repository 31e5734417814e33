package proxy

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the proxy's Prometheus instruments. A nil *metrics records
// nothing, so a server without a registry pays only a nil check.
type metrics struct {
	statements *prometheus.CounterVec   // by kind and verdict
	duration   *prometheus.HistogramVec // by kind: from sending to the backend to its answer
	denials    *prometheus.CounterVec   // by rule
	errors     *prometheus.CounterVec   // by SQLSTATE, as the client saw them
	injections prometheus.Counter       // round trips spent applying settings

	// The children of statements and duration by label, looked up once:
	// WithLabelValues hashes its labels on every call, and these are
	// counted on every statement.
	allowedByKind, deniedByKind, durationByKind sync.Map // kind → Counter / Observer
}

// newMetrics registers the proxy's instruments and a collector for the
// pool and client gauges.
func newMetrics(reg prometheus.Registerer, s *Server) *metrics {
	if reg == nil {
		return nil
	}
	m := &metrics{
		statements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pgmoat_proxy_statements_total", Help: "Statements received from proxy clients, by statement kind and verdict.",
		}, []string{"kind", "verdict"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pgmoat_proxy_statement_duration_seconds",
			Help:    "Time from forwarding a statement (simple Query or extended batch) to the backend's ReadyForQuery, by kind.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"kind"}),
		denials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pgmoat_policy_denials_total", Help: "Statements denied by the policy engine, by rule.",
		}, []string{"door", "rule"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pgmoat_proxy_errors_total", Help: "ErrorResponses sent to proxy clients, by SQLSTATE.",
		}, []string{"sqlstate"}),
		injections: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pgmoat_proxy_injection_round_trips_total", Help: "Round trips spent putting a borrower's identity and timeout in force on a backend.",
		}),
	}
	reg.MustRegister(m.statements, m.duration, m.denials, m.errors, m.injections, &poolCollector{srv: s})
	return m
}

func (m *metrics) statement(kind, verdict string) {
	if m == nil {
		return
	}
	byKind := &m.allowedByKind
	if verdict != "allow" {
		byKind = &m.deniedByKind
	}
	if c, ok := byKind.Load(kind); ok {
		c.(prometheus.Counter).Inc()
		return
	}
	c := m.statements.WithLabelValues(kind, verdict)
	byKind.Store(kind, c)
	c.Inc()
}

func (m *metrics) observe(kind string, d time.Duration) {
	if m == nil {
		return
	}
	if o, ok := m.durationByKind.Load(kind); ok {
		o.(prometheus.Observer).Observe(d.Seconds())
		return
	}
	o := m.duration.WithLabelValues(kind)
	m.durationByKind.Store(kind, o)
	o.Observe(d.Seconds())
}

func (m *metrics) denial(rule string) {
	if m != nil {
		m.denials.WithLabelValues("proxy", rule).Inc()
	}
}

func (m *metrics) clientError(code string) {
	if m != nil {
		m.errors.WithLabelValues(code).Inc()
	}
}

func (m *metrics) injection() {
	if m != nil {
		m.injections.Inc()
	}
}

// poolCollector reads the pool and client counts at scrape time.
type poolCollector struct{ srv *Server }

var (
	descPoolConns = prometheus.NewDesc("pgmoat_pool_connections", "Backend connections by state.", []string{"state"}, nil)
	descPoolWait  = prometheus.NewDesc("pgmoat_pool_waiting", "Borrowers waiting for a backend.", nil, nil)
	descPoolAcq   = prometheus.NewDesc("pgmoat_pool_acquired_total", "Backends lent.", nil, nil)
	descPoolWaitS = prometheus.NewDesc("pgmoat_pool_wait_seconds_total", "Time borrowers spent waiting for a backend.", nil, nil)
	descPoolExh   = prometheus.NewDesc("pgmoat_pool_exhausted_total", "Borrowers refused with 53300 after the acquire timeout.", nil, nil)
	descPoolNew   = prometheus.NewDesc("pgmoat_pool_created_total", "Backend connections opened.", nil, nil)
	descClients   = prometheus.NewDesc("pgmoat_proxy_client_connections", "Client connections open.", nil, nil)
	descParked    = prometheus.NewDesc("pgmoat_proxy_parked_clients", "Idle client connections parked without a goroutine (included in pgmoat_proxy_client_connections).", nil, nil)
	descPoolGone  = prometheus.NewDesc("pgmoat_pool_closed_total", "Backend connections closed (lost, expired, broken or at shutdown).", nil, nil)
	descPoolLost  = prometheus.NewDesc("pgmoat_pool_lost_total", "Backend connections found dead: closed by the server while idle, or failing under a borrower.", nil, nil)
	descPoolFail  = prometheus.NewDesc("pgmoat_pool_connect_failures_total", "Backend connects that failed (refused, timed out, authentication).", nil, nil)
	descStartupTO = prometheus.NewDesc("pgmoat_proxy_startup_timeouts_total", "Clients that did not finish startup and authentication within proxy.startup_timeout.", nil, nil)
	descShutdown  = prometheus.NewDesc("pgmoat_proxy_shutdown_disconnects_total", "Clients disconnected because pgmoat was shutting down.", nil, nil)
	descStartups  = prometheus.NewDesc("pgmoat_proxy_startups", "Client connections logging in now (TLS, startup packet, authentication), up to proxy.max_startups.", nil, nil)
	descStartupRf = prometheus.NewDesc("pgmoat_proxy_startups_refused_total", "Client connections refused with 53300 because proxy.max_startups were logging in already.", nil, nil)

	// Per host (the primary and each replica); the pgmoat_pool_* series
	// are the sums over hosts.
	hostLabels      = []string{"host", "role"}
	descHostIn      = prometheus.NewDesc("pgmoat_host_in_rotation", "1 when the host serves lendings now, 0 when it is out of rotation.", hostLabels, nil)
	descHostLag     = prometheus.NewDesc("pgmoat_host_replay_lag_seconds", "A replica's replay lag at its last health check.", hostLabels, nil)
	descHostConns   = prometheus.NewDesc("pgmoat_host_connections", "Backend connections of the host by state.", append(hostLabels, "state"), nil)
	descHostAcq     = prometheus.NewDesc("pgmoat_host_acquired_total", "Backends of the host lent.", hostLabels, nil)
	descHostLostCnt = prometheus.NewDesc("pgmoat_host_lost_total", "Backends of the host found dead.", hostLabels, nil)
	descAcceptErr   = prometheus.NewDesc("pgmoat_proxy_accept_errors_total", "Failed accepts of client connections (out of file descriptors, above all).", nil, nil)
)

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPoolConns, descPoolWait, descPoolAcq, descPoolWaitS, descPoolExh, descPoolNew, descClients, descParked,
		descPoolGone, descPoolLost, descPoolFail, descStartupTO, descShutdown, descHostIn, descHostLag, descHostConns, descHostAcq, descHostLostCnt,
		descAcceptErr, descStartups, descStartupRf} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	c.collectHosts(ch)
	st := c.srv.pool.Totals()
	ch <- prometheus.MustNewConstMetric(descPoolConns, prometheus.GaugeValue, float64(st.Idle), "idle")
	ch <- prometheus.MustNewConstMetric(descPoolConns, prometheus.GaugeValue, float64(st.InUse-st.Connecting), "in_use")
	ch <- prometheus.MustNewConstMetric(descPoolConns, prometheus.GaugeValue, float64(st.Connecting), "connecting")
	ch <- prometheus.MustNewConstMetric(descPoolWait, prometheus.GaugeValue, float64(st.Waiting))
	ch <- prometheus.MustNewConstMetric(descPoolAcq, prometheus.CounterValue, float64(st.Acquired))
	ch <- prometheus.MustNewConstMetric(descPoolWaitS, prometheus.CounterValue, st.WaitTotal.Seconds())
	ch <- prometheus.MustNewConstMetric(descPoolExh, prometheus.CounterValue, float64(st.Exhausted))
	ch <- prometheus.MustNewConstMetric(descPoolNew, prometheus.CounterValue, float64(st.Created))
	ch <- prometheus.MustNewConstMetric(descClients, prometheus.GaugeValue, float64(c.srv.Clients()))
	ch <- prometheus.MustNewConstMetric(descParked, prometheus.GaugeValue, float64(c.srv.park.count()))
	ch <- prometheus.MustNewConstMetric(descPoolGone, prometheus.CounterValue, float64(st.Closed))
	ch <- prometheus.MustNewConstMetric(descPoolLost, prometheus.CounterValue, float64(st.Lost))
	ch <- prometheus.MustNewConstMetric(descPoolFail, prometheus.CounterValue, float64(st.ConnectFailures))
	ch <- prometheus.MustNewConstMetric(descStartupTO, prometheus.CounterValue, float64(c.srv.startupTimeouts.Load()))
	ch <- prometheus.MustNewConstMetric(descShutdown, prometheus.CounterValue, float64(c.srv.shutdownDisconnects.Load()))
	ch <- prometheus.MustNewConstMetric(descAcceptErr, prometheus.CounterValue, float64(c.srv.acceptErrors.Load()))
	ch <- prometheus.MustNewConstMetric(descStartups, prometheus.GaugeValue, float64(c.srv.startups.Load()))
	ch <- prometheus.MustNewConstMetric(descStartupRf, prometheus.CounterValue, float64(c.srv.startupsRefused.Load()))
}

// collectHosts writes the per-host series.
func (c *poolCollector) collectHosts(ch chan<- prometheus.Metric) {
	for _, h := range c.srv.pool.Hosts() {
		in := 0.0
		if h.InRotation {
			in = 1
		}
		ch <- prometheus.MustNewConstMetric(descHostIn, prometheus.GaugeValue, in, h.Host, h.Role)
		if h.Role == roleReplica && h.Lag >= 0 {
			ch <- prometheus.MustNewConstMetric(descHostLag, prometheus.GaugeValue, h.Lag.Seconds(), h.Host, h.Role)
		}
		st := h.Stats
		ch <- prometheus.MustNewConstMetric(descHostConns, prometheus.GaugeValue, float64(st.Idle), h.Host, h.Role, "idle")
		ch <- prometheus.MustNewConstMetric(descHostConns, prometheus.GaugeValue, float64(st.InUse-st.Connecting), h.Host, h.Role, "in_use")
		ch <- prometheus.MustNewConstMetric(descHostConns, prometheus.GaugeValue, float64(st.Connecting), h.Host, h.Role, "connecting")
		ch <- prometheus.MustNewConstMetric(descHostAcq, prometheus.CounterValue, float64(st.Acquired), h.Host, h.Role)
		ch <- prometheus.MustNewConstMetric(descHostLostCnt, prometheus.CounterValue, float64(st.Lost), h.Host, h.Role)
	}
}

package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// When the primary serves lendings while replicas are configured
// (PoolConfig.Primary).
const (
	// PrimaryFallback: only when no replica is in rotation (the default).
	PrimaryFallback = "fallback"
	// PrimaryNever: not at all; with no replica in rotation a lending
	// fails with a *NoHostError.
	PrimaryNever = "never"
	// PrimaryAlways: always, in rotation beside the replicas.
	PrimaryAlways = "always"
)

// Roles a host plays, as SHOW HOSTS and the metrics name them.
const (
	rolePrimary = "primary"
	roleReplica = "replica"
)

// DefaultMaxReplicaLag is the replay lag past which a replica leaves
// rotation when PoolConfig.MaxReplicaLag is unset.
const DefaultMaxReplicaLag = 5 * time.Second

// NoHostError is a lending refused because no host may serve it: no
// replica is in rotation and the primary does not serve
// (PrimaryNever), or every host tried failed to connect. Clients see
// 08006 with the reason each replica is out.
type NoHostError struct {
	Reasons []string // "host: why", one per replica
}

func (e *NoHostError) Error() string {
	return "pgmoat: backend.no_host: no replica is in rotation and backend.primary is never (" +
		strings.Join(e.Reasons, "; ") + "); retry, raise backend.max_replica_lag, or set backend.primary: fallback"
}

// router picks the host of each lending when replicas are configured. It
// lives on the primary's Pool; each replica has a Pool of its own (its
// own sizes, role check and cancel addresses), which the router lends
// from whole: a transaction is one lending, so it never spans hosts.
//
// A replica's health is written by the health goroutine (health.go) and
// by whoever finds one of its backends dead (markOut), and read by
// every lending: an immutable hostHealth behind an atomic pointer.
type router struct {
	primary  *Pool
	replicas []*replica
	mode     string
	maxLag   time.Duration
	interval time.Duration
	log      *slog.Logger

	samples lsnSamples // the health goroutine's alone
	// primaryConn is the health goroutine's connection to the primary.
	primaryConn *healthConn

	firstRound chan struct{} // closed after the first health round
	stop, done chan struct{}
	closeOnce  sync.Once
}

// replica is one replica host: its pool and what the router knows of it.
type replica struct {
	pool   *Pool
	health atomic.Pointer[hostHealth]
	conn   *healthConn // the health goroutine's
	// logMu orders the rotation log records of the health goroutine and
	// of markOut, so "left" and "joined" are told in the order they
	// happened.
	logMu sync.Mutex
}

// hostHealth is one verdict on a replica; never modified once published.
type hostHealth struct {
	checked    time.Time
	inRotation bool
	recovering bool
	lag        time.Duration // replay lag; -1 when unknown
	why        string        // why it is out of rotation
}

// newRouter builds the router over primary and the replica pools.
func newRouter(primary *Pool, replicas []*Pool, cfg PoolConfig) *router {
	r := &router{primary: primary, mode: cfg.Primary, maxLag: cfg.MaxReplicaLag, interval: cfg.HealthInterval,
		log: cfg.Logger, primaryConn: &healthConn{cfg: primary.connCfg},
		firstRound: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	for _, p := range replicas {
		rep := &replica{pool: p, conn: &healthConn{cfg: p.connCfg}}
		rep.health.Store(&hostHealth{lag: -1, why: "not checked yet"})
		p.onLost = func(why error) { r.markOut(rep, "backend lost: "+why.Error()) }
		r.replicas = append(r.replicas, rep)
	}
	return r
}

// lend lends from the host pick chooses. When a replica cannot be
// reached (its connect failed) it leaves rotation at once and the
// lending goes on to the next host, within the borrower's context.
func (r *router) lend(ctx context.Context, br borrower, prepare func(*backend) error) (*backend, error) {
	tried := map[*Pool]bool{}
	var lastErr error
	for {
		h, err := r.pick(tried)
		if err != nil {
			if lastErr != nil {
				return nil, lastErr
			}
			return nil, err
		}
		bk, err := h.lendHere(ctx, br, prepare)
		if err == nil || ctx.Err() != nil || !r.failedOver(h, err) {
			return bk, err
		}
		tried[h], lastErr = true, err
	}
}

// failedOver takes a replica whose connect failed out of rotation and
// says whether to try another host.
func (r *router) failedOver(h *Pool, err error) bool {
	rep := r.replicaOf(h)
	var be *BackendError
	var ue *UnsafeRoleError
	if rep == nil || !(errors.As(err, &be) || errors.As(err, &ue)) {
		return false
	}
	r.markOut(rep, "connect failed: "+err.Error())
	return true
}

func (r *router) replicaOf(h *Pool) *replica {
	for _, rep := range r.replicas {
		if rep.pool == h {
			return rep
		}
	}
	return nil
}

// pick chooses the host of one lending: among the replicas in rotation
// (and the primary when it always serves), the one with the least
// outstanding work (lent backends, connects and waiters over its max),
// one of equally busy ones at random. With no replica in rotation the
// primary serves, unless it never does.
func (r *router) pick(skip map[*Pool]bool) (*Pool, error) {
	cands := make([]*Pool, 0, len(r.replicas)+1)
	for _, rep := range r.replicas {
		if !skip[rep.pool] && rep.health.Load().inRotation {
			cands = append(cands, rep.pool)
		}
	}
	if r.mode == PrimaryAlways || (len(cands) == 0 && r.mode != PrimaryNever) {
		if !skip[r.primary] {
			cands = append(cands, r.primary)
		}
	}
	if len(cands) == 0 {
		return nil, &NoHostError{Reasons: r.outReasons()}
	}
	// A random start: a rotating one would fall in step with clients
	// whose statements take two lendings each (Parse and Describe, then
	// Bind and Execute, outside a transaction).
	start := rand.IntN(len(cands))
	best, bestLoad := (*Pool)(nil), 0.0
	for i := range cands {
		h := cands[(start+i)%len(cands)]
		if load := h.load(); best == nil || load < bestLoad {
			best, bestLoad = h, load
		}
	}
	return best, nil
}

// outReasons says why each replica out of rotation is out.
func (r *router) outReasons() []string {
	var out []string
	for _, rep := range r.replicas {
		if h := rep.health.Load(); !h.inRotation {
			out = append(out, rep.pool.host+": "+h.why)
		}
	}
	return out
}

// load is the host's outstanding work relative to its size: backends
// lent or being opened, and borrowers waiting, over its max.
func (p *Pool) load() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return float64(len(p.lent)+p.connecting+p.waiters.Len()) / float64(p.cfg.Max)
}

// markOut takes a replica out of rotation now; the next health check
// that finds it fit brings it back.
func (r *router) markOut(rep *replica, why string) {
	rep.logMu.Lock()
	defer rep.logMu.Unlock()
	old := rep.health.Load()
	if !old.inRotation {
		return
	}
	rep.health.Store(&hostHealth{checked: old.checked, recovering: old.recovering, lag: old.lag, why: why})
	r.log.Warn("host left rotation", "host", rep.pool.host, "role", roleReplica, "reason", why)
}

// publish records a health check's verdict and logs a change of
// rotation.
func (r *router) publish(rep *replica, h *hostHealth) {
	rep.logMu.Lock()
	defer rep.logMu.Unlock()
	old := rep.health.Load()
	rep.health.Store(h)
	switch {
	case h.inRotation && !old.inRotation:
		r.log.Info("host joined rotation", "host", rep.pool.host, "role", roleReplica, "lag_ms", h.lag.Milliseconds())
	case !h.inRotation && old.inRotation:
		r.log.Warn("host left rotation", "host", rep.pool.host, "role", roleReplica, "reason", h.why)
	}
}

// hosts lists the pools of every host, the primary first.
func (p *Pool) hosts() []*Pool {
	if p.router == nil {
		return []*Pool{p}
	}
	out := []*Pool{p}
	for _, rep := range p.router.replicas {
		out = append(out, rep.pool)
	}
	return out
}

// HostStatus is one host as SHOW HOSTS and the metrics show it.
type HostStatus struct {
	Host string // host:port of its DSN
	Role string // "primary" or "replica"
	// InRotation says the host serves lendings now. The primary is in
	// rotation when it serves (always, or as the fallback with no
	// replica in rotation).
	InRotation bool
	// Lag is a replica's replay lag at its last check; -1 unknown.
	Lag time.Duration
	// Why says why a replica is out of rotation.
	Why     string
	Checked time.Time
	Stats   PoolStats
	Max     int
}

// Hosts describes every host, the primary first.
func (p *Pool) Hosts() []HostStatus {
	out := []HostStatus{{Host: p.host, Role: rolePrimary, InRotation: true, Stats: p.Stats(), Max: p.cfg.Max}}
	if p.router == nil {
		return out
	}
	anyIn := false
	for _, rep := range p.router.replicas {
		h := rep.health.Load()
		anyIn = anyIn || h.inRotation
		out = append(out, HostStatus{Host: rep.pool.host, Role: roleReplica, InRotation: h.inRotation, Lag: h.lag,
			Why: h.why, Checked: h.checked, Stats: rep.pool.Stats(), Max: rep.pool.cfg.Max})
	}
	switch p.router.mode {
	case PrimaryNever:
		out[0].InRotation, out[0].Why = false, "backend.primary is never"
	case PrimaryFallback:
		if anyIn {
			out[0].InRotation, out[0].Why = false, "fallback: a replica is in rotation"
		}
	}
	return out
}

// Totals sums the statistics of every host's pool.
func (p *Pool) Totals() PoolStats {
	var t PoolStats
	for _, h := range p.hosts() {
		s := h.Stats()
		t.Open += s.Open
		t.Idle += s.Idle
		t.InUse += s.InUse
		t.Waiting += s.Waiting
		t.Acquired += s.Acquired
		t.Created += s.Created
		t.Closed += s.Closed
		t.Exhausted += s.Exhausted
		t.Connecting += s.Connecting
		t.Lost += s.Lost
		t.ConnectFailures += s.ConnectFailures
		t.CappedWaits += s.CappedWaits
		t.WaitTotal += s.WaitTotal
		t.Paused = t.Paused || s.Paused
	}
	return t
}

// hostName is how a host is named in SHOW HOSTS, logs and metrics: the
// address of its DSN, never its credentials.
func hostName(host string, port uint16) string {
	if strings.HasPrefix(host, "/") {
		return host + ":" + strconv.Itoa(int(port))
	}
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

// replicaConfig is a replica's pool configuration: its own DSN and sizes,
// the rest as the primary's.
func replicaConfig(primary, rc PoolConfig) PoolConfig {
	c := primary
	c.DSN = rc.DSN
	c.Replicas = nil
	inherit := func(v *int, from int) {
		if *v == 0 {
			*v = from
		}
	}
	c.Min, c.Max, c.MaxPerIdentity = rc.Min, rc.Max, rc.MaxPerIdentity
	inherit(&c.Max, primary.Max)
	inherit(&c.Min, min(primary.Min, c.Max))
	inherit(&c.MaxPerIdentity, min(primary.MaxPerIdentity, c.Max))
	if rc.AcquireTimeout != 0 {
		c.AcquireTimeout = rc.AcquireTimeout
	}
	if rc.MaxLifetime != 0 {
		c.MaxLifetime = rc.MaxLifetime
	}
	if rc.IdleTimeout != 0 {
		c.IdleTimeout = rc.IdleTimeout
	}
	return c
}

// newReplicaPools opens the replicas' pools and the router over them.
func (p *Pool) addReplicas(cfg PoolConfig) error {
	var pools []*Pool
	for i, rc := range cfg.Replicas {
		rp, err := newHostPool(replicaConfig(cfg, rc), roleReplica)
		if err != nil {
			for _, q := range pools {
				q.Close()
			}
			return fmt.Errorf("replica %d: %w", i+1, err)
		}
		pools = append(pools, rp)
	}
	p.router = newRouter(p, pools, cfg)
	go p.router.watch()
	return nil
}

// warmReplicas opens each replica's Min connections, which runs its own
// role check. An unsafe role refuses the start, as on the primary; a
// replica that cannot be reached only stays out of rotation (logged),
// and its pool keeps trying to fill. It then waits for the first health
// round, so lendings go to the replicas from the start.
func (r *router) warmReplicas(ctx context.Context) error {
	for _, rep := range r.replicas {
		err := rep.pool.Warm(ctx)
		var ue *UnsafeRoleError
		if errors.As(err, &ue) {
			return fmt.Errorf("replica %s: %w", rep.pool.host, err)
		}
		if err != nil {
			r.log.Warn("replica unreachable at start; out of rotation until it answers", "host", rep.pool.host, "err", err.Error())
			rep.pool.keepFilled()
		}
	}
	select {
	case <-r.firstRound:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// keepFilled makes the pool keep Min connections open from now on, as a
// successful Warm does.
func (p *Pool) keepFilled() {
	p.mu.Lock()
	p.warmed = true
	p.mu.Unlock()
}

// close stops the health goroutine and closes the replicas' pools.
func (r *router) close() {
	r.closeOnce.Do(func() {
		close(r.stop)
		<-r.done
		for _, rep := range r.replicas {
			rep.pool.Close()
		}
	})
}

package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmoat/pgmoat/policy"
)

// PoolConfig sizes the backend pool. Zero values mean the defaults.
type PoolConfig struct {
	// DSN of the read-only login role all backends connect as.
	DSN            string
	Min            int           // default 5
	Max            int           // default 20
	AcquireTimeout time.Duration // default 2s
	MaxLifetime    time.Duration // default 1h
	IdleTimeout    time.Duration // default 10m; only connections above Min are closed
	ConnectTimeout time.Duration // default 5s
	// MaxMessageSize bounds the backend messages pgmoat reads whole to
	// decode (a row description, a command tag, a parameter status);
	// default 64 MiB. Rows, notices and notifications stream through
	// and an error is cut to 64 KiB (rawmsg.go), so neither is bound by
	// it: a value the server may send never ends a session.
	MaxMessageSize int
	// MaxPerIdentity caps the backends one identity (user id and
	// profile) holds at once, across both doors (proxy sessions and
	// Executor calls); default DefaultMaxPerIdentity(Max). Borrowers over
	// it wait like any other and get IdentityCapError at the acquire
	// timeout.
	MaxPerIdentity int
	// BehindPooler says the DSN reaches PostgreSQL through a
	// transaction-mode pooler, where no session state survives a
	// transaction: settings are then applied per transaction
	// (set_config(..., true)) and no server-side prepared statements are
	// kept.
	BehindPooler bool
	// AllowUnsafeRole lets the pool use a backend role that fails
	// CheckBackendRole (superuser, BYPASSRLS, writes, ...). Without it
	// the pool's first connection refuses such a role with an
	// *UnsafeRoleError, so no door that opens backends can skip the check.
	AllowUnsafeRole bool
	// OnUnsafeRole is told, once, when the role failed the check and
	// AllowUnsafeRole let it through: for a warning in the log.
	OnUnsafeRole func(*UnsafeRoleError)
	// Logger receives one info record (rate-limited) per lost backend,
	// failed connect and exhausted wait; nil discards them.
	Logger *slog.Logger
	// Replicas are streaming replicas of DSN's server (hosts.go). Each
	// has a pool of its own, sized by its Min, Max, MaxPerIdentity,
	// AcquireTimeout, MaxLifetime and IdleTimeout where set and by this
	// configuration's otherwise; the rest is this configuration's.
	// Lendings then go to a replica in rotation, the primary serving
	// as Primary says.
	Replicas []PoolConfig
	// MaxReplicaLag is the replay lag past which a replica leaves
	// rotation; default DefaultMaxReplicaLag.
	MaxReplicaLag time.Duration
	// Primary is PrimaryFallback (default), PrimaryNever or
	// PrimaryAlways.
	Primary string
	// HealthInterval is how often each replica is checked; default
	// DefaultHealthInterval.
	HealthInterval time.Duration
}

func (c PoolConfig) withDefaults() PoolConfig {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Min, 5)
	def(&c.Max, 20)
	if c.Min > c.Max {
		c.Min = c.Max
	}
	defDur(&c.AcquireTimeout, 2*time.Second)
	defDur(&c.MaxLifetime, time.Hour)
	defDur(&c.IdleTimeout, 10*time.Minute)
	defDur(&c.ConnectTimeout, 5*time.Second)
	def(&c.MaxMessageSize, 64<<20)
	def(&c.MaxPerIdentity, DefaultMaxPerIdentity(c.Max))
	c.MaxPerIdentity = min(c.MaxPerIdentity, c.Max)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	defDur(&c.MaxReplicaLag, DefaultMaxReplicaLag)
	defDur(&c.HealthInterval, DefaultHealthInterval)
	if c.Primary == "" {
		c.Primary = PrimaryFallback
	}
	return c
}

// DefaultMaxPerIdentity is the per-identity cap of a pool of poolMax
// backends: three quarters of it, rounded down, and at least 1.
func DefaultMaxPerIdentity(poolMax int) int { return max(1, poolMax*3/4) }

// ErrPoolExhausted is returned when no backend became free within the
// acquire timeout. Clients see it as SQLSTATE 53300.
var ErrPoolExhausted = errors.New("pgmoat: pool.exhausted: no backend connection became free in time; retry, or raise backend.pool.max / acquire_timeout")

// IdentityCapError is returned when a borrower waited the acquire timeout
// because its identity already held its share of the pool. It is an
// ErrPoolExhausted (errors.Is), so both doors answer 53300, with a
// message that names the cap.
type IdentityCapError struct {
	Identity policy.Identity
	Cap      int
}

func (e *IdentityCapError) Error() string {
	return fmt.Sprintf("pgmoat: pool.max_per_identity: user id %q (profile %s) already holds %d backend connections, "+
		"its limit; finish or commit its open transactions, or raise backend.pool.max_per_identity", e.Identity.UserID, e.Identity.ProfileName(), e.Cap)
}

// Is makes the error an ErrPoolExhausted.
func (e *IdentityCapError) Is(target error) bool { return target == ErrPoolExhausted }

// ConnectTimeoutError is a borrower's acquire timeout spent connecting to
// a server that did not answer in time (a hung or unreachable host). It
// is an ErrPoolExhausted (errors.Is), so clients get 53300 at the acquire
// timeout, as they do when every backend is busy.
type ConnectTimeoutError struct {
	Waited time.Duration
	Err    error
}

func (e *ConnectTimeoutError) Error() string {
	return fmt.Sprintf("pgmoat: pool.connect_timeout: no backend connection within backend.pool.acquire_timeout (%s): "+
		"the server did not complete a connection in time (%v); check that PostgreSQL is up and responsive",
		e.Waited.Round(time.Millisecond), e.Err)
}

// Is makes the error an ErrPoolExhausted.
func (e *ConnectTimeoutError) Is(target error) bool { return target == ErrPoolExhausted }
func (e *ConnectTimeoutError) Unwrap() error        { return e.Err }

// ErrPoolClosed is returned by Acquire after Close.
var ErrPoolClosed = errors.New("pgmoat: pool.closed: the server is shutting down")

// errWaitCanceled ends a wait for a backend whose client cancelled the
// statement it was for (borrower.stop), which so never reached a
// server: answered as PostgreSQL answers a cancelled statement.
var errWaitCanceled = errorf(codeQueryCanceled, "pgmoat: pool.wait_canceled: canceling statement due to user request; it was waiting for a free backend connection and never reached the server")

// Pool lends backend connections to proxy sessions and to the Executor.
// Waiters are served first come, first served, except that a waiter whose
// identity holds its cap (PoolConfig.MaxPerIdentity) lets those behind it
// go first.
//
// Everything under mu is the pool's. A backend's own fields belong to
// whoever holds it: the pool while it is idle, its borrower while it is
// lent (see backend); the pool reads a lent backend only through what its
// borrower publishes (backend.shown) and through the immutable fields.
type Pool struct {
	cfg     PoolConfig
	connCfg *pgconn.Config
	guard   *roleGuard // checks the role on the first connection
	events  *eventLog  // rate-limited records of pool events
	// bg is the context of the pool's own connects (refilling to Min);
	// Close cancels it.
	bg       context.Context
	cancelBg context.CancelFunc
	// refill asks the maintenance goroutine to top the pool up now.
	refill chan struct{}

	mu      sync.Mutex
	idle    []*backend  // most recently released last
	open    int         // connections open or being opened
	waiters waiterQueue // oldest first
	closed  bool
	stats   PoolStats
	// serverParams are the ParameterStatus values of the first backend.
	serverParams map[string]string
	// paused holds new acquisitions (admin console PAUSE) until Resume.
	paused bool
	// lent are the backends currently borrowed, for SHOW SERVERS.
	lent map[*backend]struct{}
	// held counts, per identity, the backends lent to it or being
	// opened for it; pgmoat's own borrowings ("") are not counted.
	held map[string]int
	// epoch numbers the server's lives as the pool has seen them: each
	// backend is stamped with the epoch it was opened in, and a backend
	// found dead ends its epoch, taking the idle backends of that epoch
	// or older with it (an outage killed them all).
	epoch uint64
	// connecting counts connections being opened (in open, not yet
	// backends), for SHOW POOLS and SHOW SERVERS.
	connecting int
	// warmed: Warm succeeded, so the pool keeps Min connections open.
	warmed bool

	// host names the pool's server (hostName) and role says whether it
	// is the primary or a replica; both immutable.
	host, role string
	// router, on the primary's pool when replicas are configured, picks
	// the host of each lending (hosts.go); nil otherwise. Immutable
	// after NewPool.
	router *router
	// onLost, on a replica's pool, takes the host out of rotation when
	// one of its backends is found dead. Immutable after NewPool.
	onLost func(error)

	stop chan struct{}
	done chan struct{}
}

// PoolStats is a snapshot of the pool for the admin console and metrics.
type PoolStats struct {
	Open, Idle, InUse, Waiting int
	Acquired, Created, Closed  uint64
	Exhausted                  uint64
	// Connecting is the number of connections being opened.
	Connecting int
	// Lost counts backends found dead (closed by the server, or failing
	// under a borrower); ConnectFailures counts connects that failed.
	Lost, ConnectFailures uint64
	// CappedWaits counts borrowers that timed out because their identity
	// held its cap (they are in Exhausted too).
	CappedWaits uint64
	WaitTotal   time.Duration
	Paused      bool
}

// borrower is who asks for a backend: key is the settings it wants (so an
// idle backend already carrying them is preferred), who its identity's
// key for the cap ("" for pgmoat's own use, never capped). replays says
// the borrower finds a backend dead by its first read and sends its
// first batch again on another (a proxy session, replay.go): it is lent
// an idle backend without the liveness peek, which would cost it a
// system call per transaction. A token on stop ends the borrower's wait
// for a backend (waitStopped): its client cancelled the statement the
// backend was for.
type borrower struct {
	key     string
	who     string
	id      policy.Identity
	replays bool
	stop    <-chan struct{}
}

// borrowerFor builds the borrower of id wanting settings key.
func borrowerFor(id policy.Identity, key string) borrower {
	return borrower{key: key, who: identityKey(id), id: id}
}

// identityKey is the key of id's cap: its user id and profile.
func identityKey(id policy.Identity) string {
	return id.UserID + "\x00" + id.ProfileName()
}

// NewPool parses the DSN and starts the maintenance goroutine. It does not
// connect; Warm opens the minimum number of connections.
func NewPool(cfg PoolConfig) (*Pool, error) {
	cfg = cfg.withDefaults()
	switch cfg.Primary {
	case PrimaryFallback, PrimaryNever, PrimaryAlways:
	default:
		return nil, fmt.Errorf("proxy: PoolConfig.Primary %q is not fallback, never or always", cfg.Primary)
	}
	p, err := newHostPool(cfg, rolePrimary)
	if err != nil || len(cfg.Replicas) == 0 {
		return p, err
	}
	if err := p.addReplicas(cfg); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// newHostPool opens the pool of one host.
func newHostPool(cfg PoolConfig, role string) (*Pool, error) {
	connCfg, err := pgconn.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("backend DSN: %w", err)
	}
	connCfg.ConnectTimeout = cfg.ConnectTimeout
	if connCfg.RuntimeParams == nil {
		connCfg.RuntimeParams = map[string]string{}
	}
	// Clients never choose these: every backend starts read-only and
	// named, whatever the DSN says. A transaction-mode pooler refuses
	// startup settings; there each transaction is made read-only itself.
	if !cfg.BehindPooler {
		connCfg.RuntimeParams["default_transaction_read_only"] = "on"
	}
	connCfg.RuntimeParams["application_name"] = "pgmoat"
	// The policy reads statements as UTF-8 with backslashes literal in
	// '...'; the server must lex them so (see encoding.go).
	connCfg.RuntimeParams["client_encoding"] = "UTF8"
	connCfg.RuntimeParams["standard_conforming_strings"] = "on"
	p := &Pool{cfg: cfg, connCfg: connCfg, guard: &roleGuard{allow: cfg.AllowUnsafeRole, onUnsafe: cfg.OnUnsafeRole},
		events: newEventLog(cfg.Logger), refill: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}),
		lent: map[*backend]struct{}{}, held: map[string]int{},
		host: hostName(connCfg.Host, connCfg.Port), role: role}
	p.bg, p.cancelBg = context.WithCancel(context.Background())
	go p.maintain()
	return p, nil
}

// Config returns the effective pool configuration.
func (p *Pool) Config() PoolConfig { return p.cfg }

// Warm opens connections up to Min and reports the first failure, so a
// wrong DSN or password is found at start-up rather than at first query.
// From then on the pool keeps Min connections open, reconnecting after
// the server restarts.
func (p *Pool) Warm(ctx context.Context) error {
	var backends []*backend
	defer func() {
		for _, b := range backends {
			p.release(b)
		}
	}()
	patience := max(p.cfg.AcquireTimeout, p.cfg.ConnectTimeout)
	for range max(p.cfg.Min, 1) {
		b, err := p.acquireBy(ctx, borrower{}, time.Now().Add(patience))
		if err != nil {
			return err
		}
		backends = append(backends, b)
	}
	p.mu.Lock()
	p.warmed = true
	p.mu.Unlock()
	if p.router != nil {
		return p.router.warmReplicas(ctx)
	}
	return nil
}

// acquire lends a backend to br, preferring an idle one whose applied
// settings already match br.key, within the acquire timeout. A backend
// or a slot, once taken, counts against br's identity until release (or
// until acquire gives it up).
func (p *Pool) acquire(ctx context.Context, br borrower) (*backend, error) {
	return p.acquireBy(ctx, br, time.Now().Add(p.cfg.AcquireTimeout))
}

// acquireBy is acquire with the deadline given: waiting for a backend
// and connecting a new one both end there.
func (p *Pool) acquireBy(ctx context.Context, br borrower, deadline time.Time) (*backend, error) {
	start := time.Now()
	for {
		b, w, canOpen, err := p.take(br)
		if err != nil {
			return nil, err
		}
		if w != nil {
			if b, canOpen, err = p.wait(ctx, w, start, deadline); err != nil {
				return nil, err
			}
		}
		if canOpen {
			if b, err = p.connectFor(ctx, br, start, deadline); err != nil {
				return nil, err
			}
		} else if err := b.checkFor(br); err != nil {
			p.lost(b, err)
			p.discard(b)
			continue
		}
		p.acquired(start, b, br.who)
		return b, nil
	}
}

// connectFor opens a backend for br in a slot it was given. A connect the
// deadline cut short is the borrower's acquire timeout: 53300, not a
// backend failure.
func (p *Pool) connectFor(ctx context.Context, br borrower, start, deadline time.Time) (*backend, error) {
	b, err := p.connect(ctx, br.who, deadline)
	if err == nil || ctx.Err() != nil || time.Now().Before(deadline) {
		return b, err
	}
	var unsafe *UnsafeRoleError
	if errors.As(err, &unsafe) {
		return nil, err
	}
	var be *BackendError
	if errors.As(err, &be) {
		err = be.Err
	}
	p.mu.Lock()
	p.stats.Exhausted++
	p.mu.Unlock()
	ce := &ConnectTimeoutError{Waited: time.Since(start), Err: err}
	p.events.log("pool exhausted", "reason", "connect_timeout", "user_id", br.id.UserID, "profile", br.id.ProfileName(),
		"waited_ms", ce.Waited.Milliseconds(), "err", err.Error())
	return nil, ce
}

func (p *Pool) acquired(start time.Time, b *backend, who string) {
	p.mu.Lock()
	b.holder = who
	p.lent[b] = struct{}{}
	p.stats.Acquired++
	p.stats.WaitTotal += time.Since(start)
	p.mu.Unlock()
}

// take returns an idle backend, or permission to open one, or a waiter to
// wait on; the first two are counted for br's identity.
func (p *Pool) take(br borrower) (*backend, *waiter, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, nil, false, ErrPoolClosed
	}
	if !p.paused && p.underCap(br.who) && p.firstEligible() == nil {
		if b := p.takeIdle(br.key); b != nil {
			p.hold(br.who, b)
			return b, nil, false, nil
		}
		if p.open < p.cfg.Max {
			p.open++
			p.hold(br.who, nil)
			return nil, nil, true, nil
		}
	}
	w := newWaiter(br)
	p.waiters.PushBack(w)
	return nil, w, false, nil
}

// takeIdle removes and returns an idle backend, the most recently
// released one whose settings match key if any. Called with p.mu held.
func (p *Pool) takeIdle(key string) *backend {
	n := len(p.idle)
	if n == 0 {
		return nil
	}
	i := n - 1
	for j := n - 1; j >= 0 && key != ""; j-- {
		if p.idle[j].appliedKey == key {
			i = j
			break
		}
	}
	b := p.idle[i]
	p.idle = append(p.idle[:i], p.idle[i+1:]...)
	return b
}

// underCap reports whether who may take one more backend. Called with
// p.mu held.
func (p *Pool) underCap(who string) bool {
	return who == "" || p.held[who] < p.cfg.MaxPerIdentity
}

// hold counts a backend (or, for nil, a slot being opened) for who.
// Called with p.mu held.
func (p *Pool) hold(who string, b *backend) {
	if who != "" {
		p.held[who]++
	}
	if b != nil {
		b.holder = who
	}
}

// unhold ends what hold counted. Called with p.mu held.
func (p *Pool) unhold(who string) {
	if who == "" {
		return
	}
	if p.held[who]--; p.held[who] <= 0 {
		delete(p.held, who)
	}
}

// firstEligible is the oldest waiter whose identity is under its cap.
// Called with p.mu held.
func (p *Pool) firstEligible() *waiter {
	for w := p.waiters.Front(); w != nil; w = w.next {
		if p.underCap(w.who) {
			return w
		}
	}
	return nil
}

// dispatch hands idle backends, then free slots, to eligible waiters, the
// oldest first, until either runs out. Every change that can make a
// backend, a slot or a waiter's eligibility available ends with it.
// Called with p.mu held.
func (p *Pool) dispatch() {
	if p.closed || p.paused {
		return
	}
	for {
		w := p.firstEligible()
		if w == nil {
			return
		}
		if b := p.takeIdle(w.key); b != nil {
			p.waiters.Remove(w)
			p.hold(w.who, b)
			w.ch <- b
			continue
		}
		if p.open >= p.cfg.Max {
			return
		}
		p.waiters.Remove(w)
		p.open++
		p.hold(w.who, nil)
		w.ch <- nil
	}
}

// wait blocks until a backend is handed over, a slot is given to open one
// in (canOpen), or the acquire timeout passes. The waiter goes back to
// waiterPool unless the pool closed its channel.
func (p *Pool) wait(ctx context.Context, w *waiter, start, deadline time.Time) (b *backend, canOpen bool, err error) {
	select {
	case b, ok := <-w.ch:
		// Handed over before the wait began: no timer to arm.
		return p.waited(w, b, ok)
	default:
	}
	w.timer.Reset(time.Until(deadline))
	select {
	case b, ok := <-w.ch:
		return p.waited(w, b, ok)
	case <-w.timer.C:
		err = ErrPoolExhausted
	case <-ctx.Done():
		err = ctx.Err()
	case <-w.stop:
		return nil, false, p.waitStopped(w)
	}
	p.mu.Lock()
	removed := p.removeWaiter(w)
	exhausted := removed && err == ErrPoolExhausted
	capped := false
	open, waiting := p.open, p.waiters.Len()
	if exhausted {
		p.stats.Exhausted++
		if capped = !p.underCap(w.who); capped {
			p.stats.CappedWaits++
			err = &IdentityCapError{Identity: w.id, Cap: p.cfg.MaxPerIdentity}
		}
	}
	p.mu.Unlock()
	if exhausted {
		p.events.log("pool exhausted", "reason", map[bool]string{false: "all_busy", true: "identity_cap"}[capped],
			"user_id", w.id.UserID, "profile", w.id.ProfileName(), "waited_ms", time.Since(start).Milliseconds(),
			"open", open, "max", p.cfg.Max, "waiting", waiting)
	}
	if removed {
		w.recycle()
		return nil, false, err
	}
	// Handed something between the timeout and the lock: it is ours, use
	// it rather than fail.
	b, ok := <-w.ch
	return p.waited(w, b, ok)
}

// waited ends a wait that received b from w's channel (ok false: the
// pool closed it).
func (p *Pool) waited(w *waiter, b *backend, ok bool) (*backend, bool, error) {
	if !ok {
		return nil, false, ErrPoolClosed // a closed channel is not reused
	}
	w.recycle()
	return b, b == nil, nil
}

// waitStopped ends a wait its borrower gave up (borrower.stop). A
// backend or a slot handed over at the same moment goes back to the
// pool, for the next waiter: the borrower has no use for it.
func (p *Pool) waitStopped(w *waiter) error {
	p.mu.Lock()
	removed := p.removeWaiter(w)
	p.mu.Unlock()
	if !removed {
		b, ok := <-w.ch
		if !ok {
			return ErrPoolClosed // a closed channel is not reused
		}
		p.giveBack(w.who, b)
	}
	w.recycle()
	return errWaitCanceled
}

// giveBack undoes a hand-over to who that was not used: b goes back
// among the idle backends, as it was (nil: the slot given to open one is
// freed), for the next waiter.
func (p *Pool) giveBack(who string, b *backend) {
	p.mu.Lock()
	closed := b != nil && p.closed
	switch {
	case b == nil:
		p.unhold(who)
		p.open--
		p.dispatch()
	case !closed:
		p.unhold(b.holder)
		b.holder = ""
		p.idle = append(p.idle, b)
		p.dispatch()
	}
	p.mu.Unlock()
	if closed {
		p.discard(b) // counted for who until then
	}
}

func (p *Pool) removeWaiter(w *waiter) bool {
	return p.waiters.Remove(w)
}

// connect opens a connection for a slot already counted in p.open and
// for who, giving up at deadline (and at the configured connect timeout).
func (p *Pool) connect(ctx context.Context, who string, deadline time.Time) (*backend, error) {
	p.mu.Lock()
	p.connecting++
	p.mu.Unlock()
	cctx, cancel := context.WithDeadline(ctx, deadline)
	started := time.Now()
	b, err := openBackend(cctx, p.connCfg, p.cfg.MaxMessageSize, p.guard.verify)
	cancel()
	if err != nil {
		return nil, p.connectFailed(who, err, time.Since(started))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.connecting--
	p.stats.Created++
	b.epoch = p.epoch
	b.home = p
	if p.serverParams == nil {
		p.serverParams = b.params
	}
	return b, nil
}

// connectFailed gives back the slot of a failed connect and says so.
func (p *Pool) connectFailed(who string, err error, took time.Duration) error {
	p.mu.Lock()
	p.connecting--
	p.open--
	p.unhold(who)
	p.dispatch()
	var unsafe *UnsafeRoleError
	isUnsafe := errors.As(err, &unsafe)
	if !isUnsafe {
		p.stats.ConnectFailures++
	}
	open := p.open
	p.mu.Unlock()
	if isUnsafe {
		return unsafe
	}
	p.events.log("backend connect failed", "err", err.Error(), "took_ms", took.Milliseconds(),
		"open", open, "for_borrower", who != "")
	return &BackendError{Err: err}
}

// lendAttempts bounds how many backends one lending tries before it gives
// the borrower the error.
const lendAttempts = 3

// lend acquires a backend for br and readies it with prepare (the
// settings injection). When the backend turns out dead before the
// borrower's first statement was sent — prepare failed on a broken
// connection — it is discarded and the lending starts again on another,
// so a borrower does not pay for a connection the server dropped while
// it sat idle. The acquire deadline bounds the whole.
func (p *Pool) lend(ctx context.Context, br borrower, prepare func(*backend) error) (*backend, error) {
	if p.router != nil {
		return p.router.lend(ctx, br, prepare)
	}
	return p.lendHere(ctx, br, prepare)
}

// lendHere is lend from this host's pool.
func (p *Pool) lendHere(ctx context.Context, br borrower, prepare func(*backend) error) (*backend, error) {
	deadline := time.Now().Add(p.cfg.AcquireTimeout)
	for attempt := 1; ; attempt++ {
		bk, err := p.acquireBy(ctx, br, deadline)
		if err != nil {
			return nil, err
		}
		err = prepare(bk)
		if err == nil {
			return bk, nil
		}
		broken := bk.broken.Load()
		if broken && isConnLoss(err) {
			p.lost(bk, err)
		}
		p.release(bk) // a broken one is closed, not reused
		if !broken || attempt == lendAttempts || ctx.Err() != nil {
			return nil, err
		}
	}
}

// lost records a backend found dead while the pool or its borrower used
// it: one log record and the counter. The idle backends opened in its
// epoch or before are closed with it, because whatever killed it (a
// restart, a failover, a network cut) killed them too, and the pool is
// refilled to Min. The caller discards b.
func (p *Pool) lost(b *backend, why error) {
	b.broken.Store(true)
	p.mu.Lock()
	p.stats.Lost++
	if b.epoch == p.epoch {
		p.epoch++
	}
	var stale []*backend
	keep := p.idle[:0]
	for _, ib := range p.idle {
		if ib.epoch <= b.epoch {
			stale = append(stale, ib)
		} else {
			keep = append(keep, ib)
		}
	}
	clear(p.idle[len(keep):])
	p.idle = keep
	p.mu.Unlock()
	p.events.log("backend lost", "host", p.host, "pid", b.pid, "err", why.Error(), "age_s", int(time.Since(b.created).Seconds()),
		"idle_closed", len(stale))
	if p.onLost != nil {
		p.onLost(why)
	}
	for _, ib := range stale {
		p.discard(ib)
	}
	p.askRefill()
}

// lostLent is a lent backend that failed under its borrower: a lost
// connection (not a protocol error) is lost. One pgmoat closed because
// a write to it stalled (stallWriter) says nothing of the server, whose
// other connections stay.
func (p *Pool) lostLent(b *backend, why error) {
	if h := b.home; h != nil && h != p {
		h.lostLent(b, why)
		return
	}
	if isConnLoss(why) && !b.stalled.Load() {
		p.lost(b, why)
	}
}

// isConnLoss reports whether err means the connection itself is gone
// (end of stream, reset, closed, a FATAL) rather than a statement or
// protocol failure on a live one.
func isConnLoss(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Severity == "FATAL" || pe.Severity == "PANIC"
	}
	var ne net.Error
	return errors.Is(err, errServerClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		(errors.As(err, &ne) && !ne.Timeout())
}

// askRefill wakes the maintenance goroutine to top the pool up to Min.
func (p *Pool) askRefill() {
	select {
	case p.refill <- struct{}{}:
	default:
	}
}

// fill opens connections until Min are open, as pgmoat's own borrowing,
// and puts them in the idle set. A failed connect (logged) ends the round;
// the next tick tries again.
func (p *Pool) fill() {
	for {
		p.mu.Lock()
		if p.closed || !p.warmed || p.open >= p.cfg.Min {
			p.mu.Unlock()
			return
		}
		p.open++
		p.mu.Unlock()
		b, err := p.connect(p.bg, "", time.Now().Add(p.cfg.ConnectTimeout))
		if err != nil {
			return
		}
		p.release(b)
	}
}

// ServerParams returns the ParameterStatus values the backend server
// reported, connecting once if no connection was made yet.
func (p *Pool) ServerParams(ctx context.Context) (map[string]string, error) {
	p.mu.Lock()
	params := p.serverParams
	p.mu.Unlock()
	if params != nil {
		return params, nil
	}
	b, err := p.acquire(ctx, borrower{})
	if err != nil {
		return nil, err
	}
	p.release(b)
	return b.params, nil
}

// release gives a backend back. Backends in an unknown state, in a
// transaction, or past their lifetime are closed instead.
func (p *Pool) release(b *backend) {
	if h := b.home; h != nil && h != p {
		h.release(b) // lent from a replica by the router
		return
	}
	b.endLending()
	p.mu.Lock()
	delete(p.lent, b)
	p.unhold(b.holder)
	b.holder = ""
	p.mu.Unlock()
	if b.broken.Load() || b.txStatus != 'I' || time.Since(b.created) > p.cfg.MaxLifetime {
		p.discard(b)
		return
	}
	b.released = time.Now()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.discard(b)
		return
	}
	p.idle = append(p.idle, b)
	p.dispatch()
	p.mu.Unlock()
}

// Pause holds every new acquisition until Resume; transactions already
// running finish. Waiters still time out after the acquire timeout.
func (p *Pool) Pause() { p.setPaused(true) }

// Resume lets held acquisitions proceed.
func (p *Pool) Resume() { p.setPaused(false) }

// setPaused pauses or resumes every host's pool, the primary's last; a
// resumed pool hands its backends to the acquisitions it held.
func (p *Pool) setPaused(paused bool) {
	for _, h := range p.hosts()[1:] {
		h.setPaused(paused)
	}
	p.mu.Lock()
	p.paused = paused
	if !paused {
		p.dispatch()
	}
	p.mu.Unlock()
}

// serverRows describes every open backend of every host for SHOW
// SERVERS.
func (p *Pool) serverRows(rlsSetting string) [][]string {
	var rows [][]string
	for _, h := range p.hosts() {
		rows = append(rows, h.hostServerRows()...)
	}
	return rows
}

// hostServerRows describes this host's open backends.
func (p *Pool) hostServerRows() [][]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var rows [][]string
	row := func(b *backend, state string) {
		// Lent backends are their borrowers': only what they published,
		// the immutable fields and inForce (guarded by p.mu) are read.
		v := b.shown.Load()
		rows = append(rows, []string{strconv.FormatUint(uint64(b.pid), 10), state, b.inForce[0],
			b.inForce[1], strconv.Itoa(v.prepared), strconv.Itoa(int(time.Since(b.created).Seconds())), p.host, p.role})
	}
	for _, b := range p.idle {
		row(b, "idle")
	}
	for b := range p.lent {
		row(b, "active")
	}
	for range p.connecting {
		rows = append(rows, []string{"", "connecting", "", "", "", "", p.host, p.role})
	}
	return rows
}

// discard closes a backend and frees its slot (and its count for the
// identity that took it, if any) for a waiter.
func (p *Pool) discard(b *backend) {
	b.close()
	p.mu.Lock()
	p.unhold(b.holder) // a backend taken but found unusable
	b.holder = ""
	p.open--
	p.stats.Closed++
	p.dispatch()
	p.mu.Unlock()
}

// Stats returns a snapshot of the pool.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Open = p.open
	s.Idle = len(p.idle)
	s.InUse = p.open - len(p.idle)
	s.Waiting = p.waiters.Len()
	s.Connecting = p.connecting
	s.Paused = p.paused
	return s
}

// maintain closes idle connections past their lifetime or idle timeout
// (keeping Min) and, once the pool was warmed, tops it up to Min every
// second and whenever a lost backend asks for it.
func (p *Pool) maintain() {
	defer close(p.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
			p.expire()
			p.fill()
		case <-p.refill:
			p.fill()
		}
	}
}

func (p *Pool) expire() {
	p.mu.Lock()
	var drop []*backend
	keep := p.idle[:0]
	for _, b := range p.idle {
		tooOld := time.Since(b.created) > p.cfg.MaxLifetime
		tooIdle := time.Since(b.released) > p.cfg.IdleTimeout && p.open-len(drop) > p.cfg.Min
		if tooOld || tooIdle {
			drop = append(drop, b)
		} else {
			keep = append(keep, b)
		}
	}
	p.idle = keep
	p.mu.Unlock()
	for _, b := range drop {
		p.discard(b)
	}
}

// Close closes idle backends and refuses new acquisitions. Backends still
// lent out are closed when they come back. Safe to call twice.
func (p *Pool) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	if p.router != nil {
		defer p.router.close()
	}
	idle := p.idle
	p.idle = nil
	for _, w := range p.waiters.takeAll() {
		close(w.ch)
	}
	p.mu.Unlock()
	p.cancelBg()
	close(p.stop)
	<-p.done
	for _, b := range idle {
		p.discard(b)
	}
}

// BackendError wraps a failure to reach or log in to the backend server.
type BackendError struct{ Err error }

func (e *BackendError) Error() string { return "pgmoat: backend.unavailable: " + e.Err.Error() }
func (e *BackendError) Unwrap() error { return e.Err }

package proxy

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
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
	MaxMessageSize int           // largest backend message accepted; default 64 MiB
	// BehindPooler says the DSN reaches PostgreSQL through a
	// transaction-mode pooler, where no session state survives a
	// transaction: settings are then applied per transaction
	// (set_config(..., true)) and no server-side prepared statements are
	// kept.
	BehindPooler bool
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
	return c
}

// ErrPoolExhausted is returned when no backend became free within the
// acquire timeout. Clients see it as SQLSTATE 53300.
var ErrPoolExhausted = errors.New("pgmoat: pool.exhausted: no backend connection became free in time; retry, or raise backend.pool.max / acquire_timeout")

// ErrPoolClosed is returned by Acquire after Close.
var ErrPoolClosed = errors.New("pgmoat: pool.closed: the server is shutting down")

// Pool lends backend connections to proxy sessions and to the Executor.
// Waiters are served first come, first served.
type Pool struct {
	cfg     PoolConfig
	connCfg *pgconn.Config

	mu      sync.Mutex
	idle    []*backend // most recently released last
	open    int        // connections open or being opened
	waiters list.List  // of *waiter, oldest first
	closed  bool
	stats   PoolStats
	// serverParams are the ParameterStatus values of the first backend.
	serverParams map[string]string
	// paused holds new acquisitions (admin console PAUSE) until Resume.
	paused bool
	// lent are the backends currently borrowed, for SHOW SERVERS.
	lent map[*backend]struct{}

	stop chan struct{}
	done chan struct{}
}

// PoolStats is a snapshot of the pool for the admin console and metrics.
type PoolStats struct {
	Open, Idle, InUse, Waiting int
	Acquired, Created, Closed  uint64
	Exhausted                  uint64
	WaitTotal                  time.Duration
	Paused                     bool
}

type waiter struct {
	ch chan *backend // buffered 1: a handed-over backend, or nil for "try to open one"
}

// NewPool parses the DSN and starts the maintenance goroutine. It does not
// connect; Warm opens the minimum number of connections.
func NewPool(cfg PoolConfig) (*Pool, error) {
	cfg = cfg.withDefaults()
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
	p := &Pool{cfg: cfg, connCfg: connCfg, stop: make(chan struct{}), done: make(chan struct{}), lent: map[*backend]struct{}{}}
	go p.maintain()
	return p, nil
}

// Config returns the effective pool configuration.
func (p *Pool) Config() PoolConfig { return p.cfg }

// Warm opens connections up to Min and reports the first failure, so a
// wrong DSN or password is found at start-up rather than at first query.
func (p *Pool) Warm(ctx context.Context) error {
	var backends []*backend
	defer func() {
		for _, b := range backends {
			p.release(b)
		}
	}()
	for range max(p.cfg.Min, 1) {
		b, err := p.acquire(ctx, "")
		if err != nil {
			return err
		}
		backends = append(backends, b)
	}
	return nil
}

// acquire lends a backend, preferring an idle one whose applied settings
// already match key.
func (p *Pool) acquire(ctx context.Context, key string) (*backend, error) {
	start := time.Now()
	for {
		b, w, canOpen, err := p.take(key)
		if err != nil {
			return nil, err
		}
		if b != nil {
			if b.rd.buffered() {
				p.discard(b) // it said something nobody asked for
				continue
			}
			if time.Since(b.released) < recentlyUsed || b.alive() {
				p.acquired(start, b)
				return b, nil
			}
			p.discard(b)
			continue
		}
		if canOpen {
			b, err := p.connect(ctx)
			if err != nil {
				return nil, err
			}
			p.acquired(start, b)
			return b, nil
		}
		b, err = p.wait(ctx, w, start)
		if err != nil || b != nil {
			if b != nil && !b.alive() {
				p.discard(b)
				continue
			}
			if b != nil {
				p.acquired(start, b)
			}
			return b, err
		}
		// A slot was freed for us to open a connection in.
		b, err = p.connect(ctx)
		if err != nil {
			return nil, err
		}
		p.acquired(start, b)
		return b, nil
	}
}

func (p *Pool) acquired(start time.Time, b *backend) {
	p.mu.Lock()
	p.lent[b] = struct{}{}
	p.stats.Acquired++
	p.stats.WaitTotal += time.Since(start)
	p.mu.Unlock()
}

// take returns an idle backend, or permission to open one, or a waiter to
// wait on.
func (p *Pool) take(key string) (*backend, *waiter, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, nil, false, ErrPoolClosed
	}
	if n := len(p.idle); n > 0 && p.waiters.Len() == 0 && !p.paused {
		i := n - 1
		for j := n - 1; j >= 0 && key != ""; j-- {
			if p.idle[j].appliedKey == key {
				i = j
				break
			}
		}
		b := p.idle[i]
		p.idle = append(p.idle[:i], p.idle[i+1:]...)
		return b, nil, false, nil
	}
	if p.open < p.cfg.Max && !p.paused {
		p.open++
		return nil, nil, true, nil
	}
	w := &waiter{ch: make(chan *backend, 1)}
	p.waiters.PushBack(w)
	return nil, w, false, nil
}

// wait blocks until a backend is handed over, a slot frees up (nil, nil),
// or the acquire timeout passes.
func (p *Pool) wait(ctx context.Context, w *waiter, start time.Time) (*backend, error) {
	timer := time.NewTimer(p.cfg.AcquireTimeout - time.Since(start))
	defer timer.Stop()
	var err error
	select {
	case b, ok := <-w.ch:
		if !ok {
			return nil, ErrPoolClosed
		}
		return b, nil
	case <-timer.C:
		err = ErrPoolExhausted
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.mu.Lock()
	removed := p.removeWaiter(w)
	if err == ErrPoolExhausted {
		p.stats.Exhausted++
	}
	p.mu.Unlock()
	if !removed {
		// Handed something between the timeout and the lock: pass it on.
		if b, ok := <-w.ch; !ok {
			return nil, ErrPoolClosed
		} else if b != nil {
			p.release(b)
		} else {
			p.mu.Lock()
			p.open--
			p.wakeOpener()
			p.mu.Unlock()
		}
	}
	return nil, err
}

func (p *Pool) removeWaiter(w *waiter) bool {
	for e := p.waiters.Front(); e != nil; e = e.Next() {
		if e.Value.(*waiter) == w {
			p.waiters.Remove(e)
			return true
		}
	}
	return false
}

// connect opens a connection for a slot already counted in p.open.
func (p *Pool) connect(ctx context.Context) (*backend, error) {
	b, err := openBackend(ctx, p.connCfg, p.cfg.MaxMessageSize)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.open--
		p.wakeOpener()
		return nil, &BackendError{Err: err}
	}
	p.stats.Created++
	if p.serverParams == nil {
		p.serverParams = b.params
	}
	return b, nil
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
	b, err := p.acquire(ctx, "")
	if err != nil {
		return nil, err
	}
	p.release(b)
	return b.params, nil
}

// release gives a backend back. Backends in an unknown state, in a
// transaction, or past their lifetime are closed instead.
func (p *Pool) release(b *backend) {
	p.mu.Lock()
	delete(p.lent, b)
	p.mu.Unlock()
	if b.broken || b.txStatus != 'I' || time.Since(b.created) > p.cfg.MaxLifetime {
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
	if e := p.waiters.Front(); e != nil && !p.paused {
		p.waiters.Remove(e)
		p.mu.Unlock()
		e.Value.(*waiter).ch <- b
		return
	}
	p.idle = append(p.idle, b)
	p.mu.Unlock()
}

// Pause holds every new acquisition until Resume; transactions already
// running finish. Waiters still time out after the acquire timeout.
func (p *Pool) Pause() {
	p.mu.Lock()
	p.paused = true
	p.mu.Unlock()
}

// Resume lets held acquisitions proceed.
func (p *Pool) Resume() {
	p.mu.Lock()
	p.paused = false
	for p.waiters.Len() > 0 && len(p.idle) > 0 {
		e := p.waiters.Front()
		p.waiters.Remove(e)
		b := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		e.Value.(*waiter).ch <- b
	}
	for p.waiters.Len() > 0 && p.open < p.cfg.Max {
		p.wakeOpener()
	}
	p.mu.Unlock()
}

// serverRows describes every open backend for SHOW SERVERS.
func (p *Pool) serverRows(rlsSetting string) [][]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var rows [][]string
	row := func(b *backend, state string) {
		rows = append(rows, []string{strconv.FormatUint(uint64(b.pid), 10), state, b.inForce[0],
			b.inForce[1], strconv.Itoa(len(b.prepared)), strconv.Itoa(int(time.Since(b.created).Seconds()))})
	}
	for _, b := range p.idle {
		row(b, "idle")
	}
	for b := range p.lent {
		row(b, "active")
	}
	return rows
}

// discard closes a backend and frees its slot for a waiter.
func (p *Pool) discard(b *backend) {
	b.close()
	p.mu.Lock()
	p.open--
	p.stats.Closed++
	p.wakeOpener()
	p.mu.Unlock()
}

// wakeOpener lets the oldest waiter open a connection in a freed slot.
// Called with p.mu held.
func (p *Pool) wakeOpener() {
	if p.closed || p.paused || p.open >= p.cfg.Max {
		return
	}
	if e := p.waiters.Front(); e != nil {
		p.waiters.Remove(e)
		p.open++
		e.Value.(*waiter).ch <- nil
	}
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
	s.Paused = p.paused
	return s
}

// maintain closes idle connections past their lifetime or idle timeout
// (keeping Min) and tops the pool up to Min.
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
	idle := p.idle
	p.idle = nil
	for e := p.waiters.Front(); e != nil; e = e.Next() {
		close(e.Value.(*waiter).ch)
	}
	p.waiters.Init()
	p.mu.Unlock()
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

package proxy

import (
	"errors"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Parking: an idle client costs no goroutine.
//
// A session goroutine waiting for its client costs at least its stack
// (2 KiB, the smallest Go gives). So once a session has waited for
// longer than parkScan with no backend held and nothing owed, it parks:
// its socket goes into the parker's epoll set (one-shot, for input or
// hang-up), its goroutine returns, and the parker's map owns the session
// until the socket becomes readable. Then the parker's goroutine starts a
// fresh goroutine that resumes the session loop where it stopped: at the
// wait for the client's next message, with nothing buffered.
//
// The busy path pays nothing for it: a session does not park on its own.
// The wait it starts is published (parkWait.since, the scan count at its
// start), and the parker's scan, every parkScan, claims the waits that
// have lasted a whole scan interval with a compare-and-swap and ends them
// with a read deadline in the past; the session sees the claim when its
// read returns and parks instead of waiting again. A client that sends
// back to back is never claimed, so it pays no system call for parking.
//
// Whoever takes a parked session out of the map owns it, exactly once:
// the poller when its socket is readable (input, or the peer hanging up:
// the resumed read sees the end of stream), a waker (the stalled-writer
// sweep, the forced shutdown) right after it closed the connection (the
// resumed read fails and the session ends as any other does), or a KILL
// or the shutdown's pass, which leave a farewell (session.bid): that one
// writes the farewell itself while it owns the session, closes the
// connection and resumes the session, which sees the farewell and ends.
// A session with a farewell left never parks (park checks it under mu,
// which the farewell's take also holds). Tokens in
// the epoll set are never reused, so an event left over from an earlier
// park or a closed socket finds nothing in the map and is ignored.

// parkScan is how often the parker looks for waits to claim, and so how
// long a client stays idle, at least, before its session parks.
const parkScan = 100 * time.Millisecond

// waitClaimed is the value of parkWait.since once the parker's scan has
// claimed the wait; every other value is 0 (not waiting, or not parkable)
// or the scan count when the wait began.
const waitClaimed = -1

// errPark is what the client reader reports when the parker claimed its
// wait and nothing was read: the session parks.
var errPark = errors.New("wait claimed for parking")

// parkWait is a session's published wait for its client while it holds
// nothing. Only the client reader writes since, except for the scan's
// claim; claimMu orders a claim's deadline before the reader clears it.
type parkWait struct {
	since   atomic.Int64
	claimMu sync.Mutex
}

// parker owns the parked sessions and the scan that parks them.
type parker struct {
	srv *Server
	// ticks counts scans; a wait that began at a count two below the
	// current one has lasted a whole interval.
	ticks atomic.Int64

	mu sync.Mutex
	// active are the sessions with a goroutine, which the scan looks
	// at; parked are the others, by the token their socket carries in
	// the epoll set.
	active map[*session]struct{}
	parked map[uint64]*session
	token  uint64
	poll   *poller // started by the first park; nil where parking is not supported
	failed bool    // the poller could not start: no session parks
	closed bool
	scan   *time.Timer
}

func newParker(srv *Server) *parker {
	p := &parker{srv: srv, active: map[*session]struct{}{}, parked: map[uint64]*session{}}
	p.ticks.Store(1)
	return p
}

// enabled reports whether sessions on this platform can park at all.
func (p *parker) enabled() bool { return parkingSupported }

// join registers a new session, which runs on a goroutine.
func (p *parker) join(s *session) {
	p.mu.Lock()
	p.active[s] = struct{}{}
	p.mu.Unlock()
}

// leave forgets a session that ended.
func (p *parker) leave(s *session) {
	p.mu.Lock()
	delete(p.active, s)
	p.mu.Unlock()
}

// start runs the scan; called with the server's mu held, from Serve.
func (p *parker) start() {
	if !p.enabled() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.scan == nil && !p.closed {
		p.scan = time.AfterFunc(parkScan, p.scanWaits)
	}
}

// scanWaits claims the waits that lasted a whole interval and ends them,
// then runs again.
func (p *parker) scanWaits() {
	now := p.ticks.Add(1)
	p.mu.Lock()
	if p.closed || p.failed {
		p.mu.Unlock()
		return
	}
	var claim []*session
	for s := range p.active {
		if since := s.in.park.since.Load(); since > 0 && since <= now-2 {
			claim = append(claim, s)
		}
	}
	p.scan.Reset(parkScan)
	p.mu.Unlock()
	for _, s := range claim {
		s.in.claim(now)
	}
}

// park hands the session to the poller: reports false when the session
// must go on waiting on its goroutine (the poller could not take the
// socket, or the connection is closed: the next read says so). Once it
// reports true the session belongs to whoever takes it out of the map,
// and its goroutine must return at once without touching it.
func (p *parker) park(s *session) bool {
	p.mu.Lock()
	if p.closed || s.farewell.Load() != nil || !p.ready() {
		// A farewell left before this lock is written by the session
		// itself (bid finds it not parked): it must not park unseen.
		p.mu.Unlock()
		return false
	}
	p.token++
	tok := p.token
	p.parked[tok] = s
	s.parkToken = tok
	delete(p.active, s)
	poll := p.poll
	p.mu.Unlock()
	if err := poll.watch(s.in.raw, tok); err == nil {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.parked[tok] != s {
		return true // a waker took it meanwhile and resumes it
	}
	p.unpark(tok, s)
	return false
}

// ready starts the poller on first use; called with p.mu held.
func (p *parker) ready() bool {
	if p.poll != nil {
		return true
	}
	if p.failed {
		return false
	}
	poll, err := newPoller(p.readable)
	if err != nil {
		p.failed = true
		p.srv.log.Warn("idle clients cannot be parked; each keeps a goroutine", "err", err)
		return false
	}
	p.poll = poll
	return true
}

// unpark takes s out of the map; called with p.mu held by its new owner.
func (p *parker) unpark(tok uint64, s *session) {
	delete(p.parked, tok)
	s.parkToken = 0
	p.active[s] = struct{}{}
}

// readable is the poller's report that a parked socket has input or was
// hung up: the session resumes on a fresh goroutine.
func (p *parker) readable(tok uint64) {
	p.mu.Lock()
	s := p.parked[tok]
	if s != nil {
		p.unpark(tok, s)
	}
	p.mu.Unlock()
	if s != nil {
		go s.run()
	}
}

// wake resumes s if it is parked, after its connection was closed: its
// read fails and it ends. Calling it for a session that is not parked
// does nothing.
func (p *parker) wake(s *session) {
	if p.take(s) {
		go s.run()
	}
}

// take takes s out of the map if it is parked, and reports whether it
// did: the caller then owns the session and must run it again.
func (p *parker) take(s *session) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	tok := s.parkToken
	parked := tok != 0 && p.parked[tok] == s
	if parked {
		p.unpark(tok, s)
	}
	return parked
}

// count is the number of sessions parked now.
func (p *parker) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.parked)
}

// parkedSessions lists the sessions parked now.
func (p *parker) parkedSessions() []*session {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Collect(maps.Values(p.parked))
}

// stopScan stops the scan for good: at shutdown no session parks again.
func (p *parker) stopScan() {
	p.mu.Lock()
	p.closed = true
	if p.scan != nil {
		p.scan.Stop()
	}
	p.mu.Unlock()
}

// close stops the poller once every session has ended.
func (p *parker) close() {
	p.mu.Lock()
	poll := p.poll
	p.poll = nil
	p.mu.Unlock()
	if poll != nil {
		poll.close()
	}
}

// claim ends the client reader's wait, called by the scan numbered now:
// only a wait that began two counts before is claimed (the reader may
// have started another since the scan looked), and its read deadline is
// set before the reader may clear it (claimMu).
func (cr *clientReader) claim(now int64) {
	w := &cr.park
	w.claimMu.Lock()
	defer w.claimMu.Unlock()
	since := w.since.Load()
	if since > 0 && since <= now-2 && w.since.CompareAndSwap(since, waitClaimed) {
		_ = cr.deadline.SetReadDeadline(time.Unix(1, 0))
	}
}

// unclaim ends a published wait once the read returned, and reports
// whether the scan had claimed it. A claimed wait's deadline is cleared,
// so that it cuts no later read short.
func (cr *clientReader) unclaim() bool {
	w := &cr.park
	if w.since.Swap(0) != waitClaimed {
		return false
	}
	w.claimMu.Lock() // the claim's deadline is set once the lock is free
	_ = cr.deadline.SetReadDeadline(time.Time{})
	w.claimMu.Unlock()
	return true
}

package proxy

import "time"

// DefaultIdleTransactionTimeout is how long a client may hold a backend
// while pgmoat waits for its next message, inside a transaction block or
// an unfinished extended-protocol batch, before the transaction is rolled
// back and the client disconnected. A minute is long for a program
// between two statements of one transaction and short enough that one
// client's forgotten BEGIN does not keep a backend (and a snapshot that
// holds back vacuum) for long.
const DefaultIdleTransactionTimeout = time.Minute

// codeIdleInTransaction is PostgreSQL's own SQLSTATE for
// idle_in_transaction_session_timeout.
const codeIdleInTransaction = "25P03"

// idleTimedOut is the value of session.idleSince once the sweeper has
// ended the wait; every other value is 0 (not idle) or a UnixNano time.
const idleTimedOut = -1

// Idle transactions: the session goroutine publishes, in idleSince, when
// it started waiting for its client while holding a backend, and takes it
// back (Swap) as soon as a message or an error arrives. The server's
// sweeper reads it on a timer and, past the timeout, claims the wait with
// a compare-and-swap and wakes the session's read by a deadline in the
// past. Whichever of the two gets there first decides; the session alone
// writes to its client and ends the lending (cleanup rolls the transaction
// back and gives the backend back clean).

// armIdle publishes the start of a wait for the client when a backend is
// held; it reports whether it did, and whether the session holds nothing
// at all (no backend, nothing owed), so that the wait may end in parking
// (park.go).
func (s *session) armIdle() (held, parkable bool) {
	held = s.bk != nil
	parkable = !held && len(s.expect) == 0 && !s.clientGone
	if held {
		s.idleSince.Store(time.Now().UnixNano())
	}
	return held, parkable
}

// disarmIdle ends the wait and reports whether the sweeper had already
// claimed it.
func (s *session) disarmIdle() (timedOut bool) {
	return s.idleSince.Swap(0) == idleTimedOut
}

// idleTimeout tells the client its transaction was ended, as PostgreSQL
// does for idle_in_transaction_session_timeout: FATAL, then the
// connection closes (cleanup rolls back and returns the backend).
func (s *session) idleTimeout() {
	d := s.srv.cfg.IdleTransactionTimeout
	s.srv.log.Info("idle transaction timed out; rolling it back and disconnecting the client", "user", s.user, "user_id", s.id.UserID, "timeout", d)
	s.fatal(fatalf(codeIdleInTransaction, "pgmoat: transaction.idle_timeout: this connection held a backend inside a transaction (or an unfinished batch) "+
		"with no statement running for longer than "+d.String()+"; the transaction was rolled back and the connection is closed. "+
		"Reconnect, and COMMIT or ROLLBACK as soon as the transaction's statements are done (or raise proxy.idle_transaction_timeout)"))
}

// sweepInterval is how often the server looks for idle transactions: a
// tenth of the timeout, between 10ms and 1s, so a wait ends at most that
// much after its timeout.
func sweepInterval(timeout time.Duration) time.Duration {
	return min(max(timeout/10, 10*time.Millisecond), time.Second)
}

// startSweep starts the idle-transaction sweeper once. Called with s.mu
// held.
func (s *Server) startSweep() {
	if s.sweep == nil && !s.closing {
		s.sweep = time.AfterFunc(sweepInterval(s.cfg.IdleTransactionTimeout), s.sweepIdle)
	}
}

// stopSweep stops the sweeper for good. Called with s.mu held, after
// closing is set (so a running sweep does not re-arm).
func (s *Server) stopSweep() {
	if s.sweep != nil {
		s.sweep.Stop()
	}
}

// stalledWriter is what a session's output buffer writes through: it
// publishes in writeSince when a write to the client is under way, so
// that the sweeper can tell a client that stopped reading its results.
// Such a client keeps its backend blocked on a full socket for as long as
// it likes; past the idle-transaction timeout its connection is closed,
// the session drains what the backend still sends and gives it back.
type stalledWriter struct{ s *session }

func (w stalledWriter) Write(p []byte) (int, error) {
	w.s.writeSince.Store(time.Now().UnixNano())
	n, err := w.s.conn.Write(p)
	w.s.writeSince.Store(0)
	return n, err
}

// sweepIdle claims every wait older than the timeout and wakes its
// session, closes the connections of clients that stopped reading for as
// long, then runs again after the interval.
func (s *Server) sweepIdle() {
	limit := s.cfg.IdleTransactionTimeout.Nanoseconds()
	now := time.Now().UnixNano()
	var expired, stalled []*session
	s.mu.Lock()
	for _, sess := range s.sessions {
		since := sess.idleSince.Load()
		if since > 0 && now-since >= limit && sess.idleSince.CompareAndSwap(since, idleTimedOut) {
			expired = append(expired, sess)
		}
		if w := sess.writeSince.Load(); w > 0 && now-w >= limit {
			stalled = append(stalled, sess)
		}
	}
	if !s.closing {
		s.sweep.Reset(sweepInterval(s.cfg.IdleTransactionTimeout))
	}
	s.mu.Unlock()
	for _, sess := range expired {
		_ = sess.conn.SetReadDeadline(time.Now()) // the session sees the claim when its read returns
	}
	for _, sess := range stalled {
		s.log.Info("client stopped reading its results; disconnecting it", "user", sess.user, "user_id", sess.id.UserID, "timeout", s.cfg.IdleTransactionTimeout)
		sess.closeConn() // the blocked write fails; the session drains the backend and ends
	}
}

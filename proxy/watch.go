package proxy

import (
	"sync"
	"syscall"
	"time"
)

// clientWatchDelay is how long a statement runs before the session starts
// watching its client for a hang-up: short statements never pay for it.
const clientWatchDelay = 500 * time.Millisecond

// clientWatch notices a client that hangs up while its statement runs,
// and cancels the statement instead of letting it run on for nobody. One
// per session, its timer reused from statement to statement so that the
// hot path allocates nothing. A TLS client is not watched (its close
// alert cannot be told from data without decrypting).
type clientWatch struct {
	rc    syscall.RawConn // nil: not watchable
	timer *time.Timer

	mu    sync.Mutex
	state watchState
	done  chan struct{} // closed when a running watch ends
}

type watchState uint8

const (
	watchIdle watchState = iota
	watchArmed
	watchRunning
)

// start arms the watch for the statement about to be waited on; stop
// must follow before the session reads from the client again.
func (s *session) startWatch() {
	w := &s.work.watch
	if w.timer == nil {
		sc, ok := s.conn.(syscall.Conn)
		if !ok {
			return
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			return
		}
		w.rc = rc
		w.timer = time.AfterFunc(time.Hour, s.runWatch)
		w.timer.Stop()
	}
	w.mu.Lock()
	w.state = watchArmed
	w.mu.Unlock()
	w.timer.Reset(clientWatchDelay)
}

// runWatch waits, on the timer's goroutine, for the client to hang up or
// say something.
func (s *session) runWatch() {
	w := &s.work.watch
	w.mu.Lock()
	if w.state != watchArmed {
		w.mu.Unlock()
		return
	}
	w.state = watchRunning
	w.done = make(chan struct{})
	done := w.done
	w.mu.Unlock()
	defer close(done)
	if hungUp(w.rc) {
		s.srv.log.Info("client hung up mid-statement; cancelling it", "user", s.user, "user_id", s.id.UserID)
		s.abandonLending()
	}
}

// abandonGrace is how long a lending whose client is gone (hung up,
// killed, or cut off at shutdown) may take to end once its statement is
// cancelled, before pgmoat closes the backend connection instead: a
// backend that owes an answer it will never send must not keep its slot
// in the pool, nor keep pgmoat from shutting down.
const abandonGrace = 2 * time.Second

// abandonLending cancels what the backend runs for a client that is gone
// and, if the lending has not ended after abandonGrace, closes the
// backend: the session's read of it fails, and the backend is discarded.
func (s *session) abandonLending() {
	s.cancelBackend()
	bk := s.held.Load()
	if bk == nil {
		return
	}
	time.AfterFunc(abandonGrace, func() {
		// Under cancelMu, which the backend's release takes, so that
		// it cannot be handed back and lent to someone else between the
		// check and the close.
		s.cancelMu.Lock()
		defer s.cancelMu.Unlock()
		if s.held.Load() == bk {
			bk.broken.Store(true)
			_ = bk.conn.Close()
		}
	})
}

// stopWatch disarms the watch and, when it was running, ends its wait;
// the client's next message, if one came, stays unread.
func (s *session) stopWatch() {
	w := &s.work.watch
	if w.timer == nil {
		return
	}
	w.timer.Stop()
	w.mu.Lock()
	running, done := w.state == watchRunning, w.done
	w.state = watchIdle
	w.mu.Unlock()
	if running {
		_ = s.conn.SetReadDeadline(time.Unix(1, 0)) // ends the watcher's wait
		<-done
		_ = s.conn.SetReadDeadline(time.Time{})
	}
}

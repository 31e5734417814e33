package proxy

import (
	"sync"
	"syscall"
	"time"
)

// clientWatchDelay is how long a statement runs before the session starts
// watching its client for a hang-up: short statements never pay for it.
const clientWatchDelay = 500 * time.Millisecond

// watchClient notices a client that hangs up while its statement runs,
// and cancels the statement instead of letting it run on for nobody. It
// starts watching after clientWatchDelay. The returned stop must be
// called before the session reads from the client again; it leaves the
// client's next message, if one came, unread. A TLS client is not
// watched (its close alert cannot be told from data without decrypting).
func (s *session) watchClient() (stop func()) {
	sc, ok := s.conn.(syscall.Conn)
	if !ok {
		return func() {}
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return func() {}
	}
	const (
		waiting = iota
		watching
		stopped
	)
	var mu sync.Mutex
	state := waiting
	done := make(chan struct{})
	timer := time.AfterFunc(clientWatchDelay, func() {
		mu.Lock()
		if state == stopped {
			mu.Unlock()
			return
		}
		state = watching
		mu.Unlock()
		defer close(done)
		if hungUp(rc) {
			s.srv.log.Info("client hung up mid-statement; cancelling it", "user", s.user, "user_id", s.id.UserID)
			s.cancelBackend()
		}
	})
	return func() {
		timer.Stop()
		mu.Lock()
		running := state == watching
		state = stopped
		mu.Unlock()
		if running {
			_ = s.conn.SetReadDeadline(time.Unix(1, 0)) // ends the watcher's wait
			<-done
			_ = s.conn.SetReadDeadline(time.Time{})
		}
	}
}

package proxy

import (
	"errors"
	"log/slog"
	"net"
	"syscall"
	"time"
)

// Accept back-off bounds: as net/http, 5 ms doubling to 1 s.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// temporaryAccept reports whether an Accept error passes: out of file
// descriptors or kernel memory, a connection that went away while it
// waited in the queue, an interrupted call, a timeout. Such an error
// says nothing about the listener, which keeps working once the cause
// passes; anything else (a closed listener) ends Serve.
func temporaryAccept(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR, syscall.EAGAIN,
		syscall.EPERM, syscall.EPROTO:
		return true
	}
	return false
}

// acceptBackoff is the wait between failed Accepts of one listener,
// owned by that listener's Serve goroutine. Each failure is counted
// (pgmoat_proxy_accept_errors_total) and is one warning record, as
// rate-limited as the pool's events; when accepting works again one
// record says how many failed.
type acceptBackoff struct {
	srv    *Server
	addr   string
	delay  time.Duration
	failed int
}

// wait sleeps after a temporary error, longer each time in a row.
func (b *acceptBackoff) wait(err error) {
	if b.delay == 0 {
		b.delay = acceptBackoffMin
	} else {
		b.delay = min(2*b.delay, acceptBackoffMax)
	}
	b.failed++
	b.srv.acceptFailed(b.addr, err, b.delay)
	time.Sleep(b.delay)
}

// ok ends a burst of failures.
func (b *acceptBackoff) ok() {
	if b.failed == 0 {
		return
	}
	b.srv.log.Info("proxy: accepting clients again", "listen", b.addr, "failed_accepts", b.failed)
	b.delay, b.failed = 0, 0
}

// acceptFailed counts and records one failed Accept; retry is the
// back-off before the next, 0 when the error ends Serve.
func (s *Server) acceptFailed(addr string, err error, retry time.Duration) {
	s.acceptErrors.Add(1)
	s.events.logAt(slog.LevelWarn, "accept error", "listen", addr, "err", err.Error(), "retry_in_ms", retry.Milliseconds())
}

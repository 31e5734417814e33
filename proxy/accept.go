package proxy

import (
	"errors"
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
// owned by that listener's Serve goroutine. It logs the first failure
// of a burst and, when accepting works again, how many failed.
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
		b.srv.log.Warn("proxy: accepting clients failed; retrying with back-off",
			"listen", b.addr, "err", err)
	} else {
		b.delay = min(2*b.delay, acceptBackoffMax)
	}
	b.failed++
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

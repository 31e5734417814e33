package mcp

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"
)

// Accept back-off bounds, as net/http's own: 5 ms doubling to 1 s.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// Accept-error records: at most acceptLogBurst in each acceptLogWindow,
// the next one after saying how many were left out.
const (
	acceptLogWindow = 10 * time.Second
	acceptLogBurst  = 5
)

// Listener wraps the HTTP server's listener so that every failed Accept
// is counted (Stats.AcceptErrors) and is one warning record,
// rate-limited, and a temporary one (out of file descriptors, above all)
// is retried here with back-off rather than handed to http.Server, which
// would log each one again, unthrottled. An error that is not temporary
// (the listener closed) is returned, counted unless Close caused it.
func (s *Server) Listener(ln net.Listener) net.Listener {
	return &acceptListener{Listener: ln, stats: &s.stats, log: s.opts.Logger, now: time.Now, closed: make(chan struct{})}
}

// acceptListener is the listener Server.Listener returns. Accept is
// called from one goroutine (http.Server's accept loop); mu guards the
// record budget, which Close does not touch.
type acceptListener struct {
	net.Listener
	stats *counters
	log   *slog.Logger
	now   func() time.Time

	closeOnce sync.Once
	closed    chan struct{} // closed by Close: ends a back-off at once

	mu         sync.Mutex
	window     time.Time
	written    int
	suppressed int
}

func (l *acceptListener) Accept() (net.Conn, error) {
	var delay time.Duration
	failed := 0
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			if failed > 0 {
				l.log.Info("mcp: accepting connections again", "listen", l.Addr().String(), "failed_accepts", failed)
			}
			return c, nil
		}
		select {
		case <-l.closed:
			return nil, err
		default:
		}
		failed++
		if !temporaryAccept(err) {
			l.failed(err, 0)
			return nil, err
		}
		delay = min(max(2*delay, acceptBackoffMin), acceptBackoffMax)
		l.failed(err, delay)
		select {
		case <-time.After(delay):
		case <-l.closed:
			return nil, net.ErrClosed
		}
	}
}

func (l *acceptListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// failed counts one failed Accept and writes its record unless the
// window's budget is spent; retry is the back-off before the next try,
// 0 when there is none.
func (l *acceptListener) failed(err error, retry time.Duration) {
	l.stats.acceptErrors.Add(1)
	now := l.now()
	l.mu.Lock()
	if now.Sub(l.window) >= acceptLogWindow {
		l.window, l.written = now, 0
	}
	if l.written >= acceptLogBurst {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	l.written++
	suppressed := l.suppressed
	l.suppressed = 0
	l.mu.Unlock()
	attrs := []any{"listen", l.Addr().String(), "err", err.Error(), "retry_in_ms", retry.Milliseconds()}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	l.log.Warn("mcp: accept error", attrs...)
}

// temporaryAccept reports whether an Accept error passes (the proxy's
// listener judges them the same way): out of file descriptors or kernel
// memory, a connection that went away while it waited in the queue, an
// interrupted call, a timeout.
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

package proxy

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"
)

// Accept back-off bounds: as net/http, 5 ms doubling to 1 s.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// AcceptOptions say how a back-off listener (NewBackoffListener) reports
// its failed Accepts.
type AcceptOptions struct {
	// Logger receives one warning record per failed Accept, as
	// rate-limited as the pool's events, and one info record when
	// accepting works again after failures. Nil discards them.
	Logger *slog.Logger
	// FailedMsg and RecoveredMsg are those records' messages, by default
	// "accept error" and "accepting connections again".
	FailedMsg, RecoveredMsg string
	// Failed, when set, is called once for every failed Accept (to count
	// it), except the error that the listener's own Close causes.
	Failed func()
}

// NewBackoffListener wraps ln so that a temporary Accept error (out of
// file descriptors, above all) is retried with back-off, 5 ms doubling to
// 1 s, instead of being returned: the server accepting on it (Serve, or
// the MCP door's http.Server) keeps serving once the cause passes, delays
// new clients instead of stopping, and does not log each error itself,
// unthrottled. An error that is not temporary (ln closed) is returned.
// Close ends a back-off at once. Accept is for one goroutine at a time, a
// server's accept loop.
func NewBackoffListener(ln net.Listener, o AcceptOptions) net.Listener {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.FailedMsg == "" {
		o.FailedMsg = "accept error"
	}
	if o.RecoveredMsg == "" {
		o.RecoveredMsg = "accepting connections again"
	}
	return &backoffListener{Listener: ln, opts: o, events: newEventLog(o.Logger), closed: make(chan struct{})}
}

// backoffListener is the listener NewBackoffListener returns. Its back-off
// state lives in Accept's frame; events guards its own record budget.
type backoffListener struct {
	net.Listener
	opts   AcceptOptions
	events *eventLog

	closeOnce sync.Once
	closed    chan struct{} // closed by Close: ends a back-off at once
}

func (l *backoffListener) Accept() (net.Conn, error) {
	var delay time.Duration
	failed := 0
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			if failed > 0 {
				l.opts.Logger.Info(l.opts.RecoveredMsg, "listen", l.Addr().String(), "failed_accepts", failed)
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
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-l.closed:
			t.Stop()
			return nil, net.ErrClosed
		}
	}
}

func (l *backoffListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// failed counts and records one failed Accept; retry is the back-off
// before the next try, 0 when there is none.
func (l *backoffListener) failed(err error, retry time.Duration) {
	if l.opts.Failed != nil {
		l.opts.Failed()
	}
	l.events.logAt(slog.LevelWarn, l.opts.FailedMsg, "listen", l.Addr().String(), "err", err.Error(), "retry_in_ms", retry.Milliseconds())
}

// temporaryAccept reports whether an Accept error passes: out of file
// descriptors or kernel memory, a connection that went away while it
// waited in the queue, an interrupted call, a timeout. Such an error
// says nothing about the listener, which keeps working once the cause
// passes; anything else (a closed listener) is returned to the server.
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

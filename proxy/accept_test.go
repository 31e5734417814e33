package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// exhaustedListener fails its first Accepts as a process out of file
// descriptors does, then accepts for real.
type exhaustedListener struct {
	net.Listener
	failures atomic.Int32
}

func (l *exhaustedListener) Accept() (net.Conn, error) {
	if l.failures.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// checkAcceptRecords wants, for failures failed Accepts of the listener
// at addr, one warning record (failedMsg, naming the listener and the
// error: too many open files) within the records' budget and the rest
// suppressed, and one recoveredMsg record counting them all.
func checkAcceptRecords(t *testing.T, recs []map[string]any, failedMsg, recoveredMsg, addr string, failures int) {
	t.Helper()
	var failed, recovered int
	for _, rec := range recs {
		switch rec["msg"] {
		case failedMsg:
			failed++
			if e, _ := rec["err"].(string); rec["level"] != "WARN" || rec["listen"] != addr || !strings.Contains(e, "too many open files") {
				t.Errorf("accept error record: %v", rec)
			}
		case recoveredMsg:
			recovered++
			if rec["failed_accepts"] != float64(failures) {
				t.Errorf("recovery record: %v", rec)
			}
		}
	}
	if failed != eventBurst || recovered != 1 {
		t.Errorf("%d failure and %d recovery records for %d failures, want %d (the rest suppressed) and 1", failed, recovered, failures, eventBurst)
	}
}

// TestServeSurvivesRunningOutOfDescriptors: EMFILE from Accept backs off
// and retries instead of ending Serve (and with it pgmoat serve); each
// failure is counted and is one warning, rate-limited, and the recovery
// is one record.
func TestServeSurvivesRunningOutOfDescriptors(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	f := newFixture(t, fixtureOptions{logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &exhaustedListener{Listener: inner}
	l.failures.Store(6) // 5+10+20+40+80+160 ms of back-off
	served := make(chan error, 1)
	go func() { served <- f.server.Serve(l) }()

	host, port, _ := net.SplitHostPort(inner.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%s user=alice password=alice dbname=%s sslmode=disable", host, port, f.db))
	if err != nil {
		t.Fatalf("connect after the accept failures: %v", err)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n == 0 {
		t.Fatalf("query after the accept failures: %d, %v", n, err)
	}
	conn.Close(ctx)
	select {
	case err := <-served:
		t.Fatalf("Serve returned: %v", err)
	default:
	}

	if n := gathered(t, f.reg, "pgmoat_proxy_accept_errors_total"); n != 6 {
		t.Errorf("accept errors counted: %v, want 6", n)
	}
	checkAcceptRecords(t, buf.records(t), "accept error", "proxy: accepting clients again", inner.Addr().String(), 6)
	if err := f.server.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve after Close: %v", err)
	}
}

func TestTemporaryAcceptErrors(t *testing.T) {
	t.Parallel()
	op := func(err error) error {
		return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", err)}
	}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{op(syscall.EMFILE), true},
		{op(syscall.ENFILE), true},
		{op(syscall.ECONNABORTED), true},
		{op(syscall.ENOBUFS), true},
		{op(os.ErrDeadlineExceeded), true},
		{op(syscall.EBADF), false},
		{net.ErrClosed, false},
		{errors.New("something else"), false},
	} {
		if got := temporaryAccept(tc.err); got != tc.want {
			t.Errorf("%v: temporary %v, want %v", tc.err, got, tc.want)
		}
	}
}

// brokenListener fails every Accept with an error that is not temporary.
type brokenListener struct{ net.Listener }

func (l brokenListener) Accept() (net.Conn, error) {
	return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", syscall.EBADF)}
}

// An Accept error that ends Serve is counted and recorded too.
func TestFatalAcceptErrorIsCounted(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	f := newFixture(t, fixtureOptions{logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	if err := f.server.Serve(brokenListener{inner}); !errors.Is(err, syscall.EBADF) {
		t.Fatalf("Serve: %v, want EBADF", err)
	}
	if n := gathered(t, f.reg, "pgmoat_proxy_accept_errors_total"); n != 1 {
		t.Errorf("accept errors counted: %v, want 1", n)
	}
	if n := countRecords(t, &buf, "accept error"); n != 1 {
		t.Errorf("%d accept error records, want 1", n)
	}
}

// Under an http.Server (the MCP door), the back-off listener counts each
// failed Accept through its hook, writes a warning for each within the
// records' budget under the door's own messages, backs off and serves the
// next client; http.Server never sees the error nor logs it.
func TestBackoffListenerUnderHTTPServer(t *testing.T) {
	t.Parallel()
	var logs, serverLog syncBuffer
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &exhaustedListener{Listener: inner}
	fl.failures.Store(7)
	var failures atomic.Int64
	ln := NewBackoffListener(fl, AcceptOptions{
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)), FailedMsg: "mcp: accept error",
		RecoveredMsg: "mcp: accepting connections again", Failed: func() { failures.Add(1) },
	})
	hs := &http.Server{
		Handler:  http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }),
		ErrorLog: slog.NewLogLogger(slog.NewJSONHandler(&serverLog, nil), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + inner.Addr().String() + "/")
	if err != nil {
		t.Fatalf("request after the accept failures: %v", err)
	}
	resp.Body.Close()
	if got := failures.Load(); got != 7 {
		t.Errorf("failures counted: %d, want 7", got)
	}
	recs := logs.records(t)
	checkAcceptRecords(t, recs, "mcp: accept error", "mcp: accepting connections again", inner.Addr().String(), 7)
	if len(recs) != eventBurst+1 {
		t.Errorf("records other than the accept errors and the recovery: %v", recs)
	}
	if err := hs.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	if got := failures.Load(); got != 7 {
		t.Errorf("closing counted as an accept error: %d", got)
	}
	serverLog.mu.Lock()
	defer serverLog.mu.Unlock()
	if serverLog.b.Len() != 0 {
		t.Errorf("http.Server logged the errors itself: %s", serverLog.b.String())
	}
}

// Closing the listener ends a back-off at once: a shutdown does not wait
// out a second of it.
func TestBackoffListenerCloseEndsBackoff(t *testing.T) {
	t.Parallel()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &exhaustedListener{Listener: inner}
	fl.failures.Store(1 << 30)
	var failures atomic.Int64
	l := NewBackoffListener(fl, AcceptOptions{Failed: func() { failures.Add(1) }})
	done := make(chan error, 1)
	go func() { _, err := l.Accept(); done <- err }()
	// Nine failures in, the back-off is at 1 s and up.
	waitUntil(t, 20*time.Second, "nine failed accepts", func() bool { return failures.Load() >= 9 })
	start := time.Now()
	_ = l.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("Close took %v to end the back-off", d)
	}
}

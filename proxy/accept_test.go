package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
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
	var failed, recovered int
	for _, rec := range buf.records(t) {
		switch rec["msg"] {
		case "accept error":
			failed++
			if rec["level"] != "WARN" || rec["listen"] != inner.Addr().String() || rec["err"] == nil {
				t.Errorf("accept error record: %v", rec)
			}
		case "proxy: accepting clients again":
			recovered++
			if rec["failed_accepts"] != 6.0 {
				t.Errorf("recovery record: %v", rec)
			}
		}
	}
	if failed != eventBurst || recovered != 1 {
		t.Errorf("%d failure and %d recovery records for 6 failures, want %d (the rest suppressed) and 1", failed, recovered, eventBurst)
	}
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

package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer is a log sink the accept loop and the test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// messages are the msg fields of the JSON records written so far.
func (b *lockedBuffer) messages(t *testing.T) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.b.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, rec)
	}
	return out
}

// emfileListener fails its first Accepts as a process out of file
// descriptors does, then accepts for real.
type emfileListener struct {
	net.Listener
	failures atomic.Int32
}

func (l *emfileListener) Accept() (net.Conn, error) {
	if l.failures.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// Out of descriptors, the MCP listener counts each failed Accept, writes
// a warning for each within the records' budget, backs off and serves
// the next client; http.Server never sees the error.
func TestListenerCountsAndRetriesAcceptErrors(t *testing.T) {
	var logs lockedBuffer
	s := &Server{opts: ServerOptions{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &emfileListener{Listener: inner}
	fl.failures.Store(7)
	var serverLog lockedBuffer
	hs := &http.Server{
		Handler:  http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }),
		ErrorLog: slog.NewLogLogger(slog.NewJSONHandler(&serverLog, nil), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(s.Listener(fl)) }()

	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + inner.Addr().String() + "/")
	if err != nil {
		t.Fatalf("request after the accept failures: %v", err)
	}
	resp.Body.Close()
	if got := s.Stats().AcceptErrors; got != 7 {
		t.Errorf("AcceptErrors = %d, want 7", got)
	}
	var warned, recovered int
	for _, rec := range logs.messages(t) {
		switch rec["msg"] {
		case "mcp: accept error":
			warned++
			if rec["level"] != "WARN" || rec["listen"] != inner.Addr().String() || !strings.Contains(rec["err"].(string), "too many open files") {
				t.Errorf("accept error record: %v", rec)
			}
		case "mcp: accepting connections again":
			recovered++
			if rec["failed_accepts"] != 7.0 {
				t.Errorf("recovery record: %v", rec)
			}
		}
	}
	if warned != acceptLogBurst || recovered != 1 {
		t.Errorf("%d accept error and %d recovery records, want %d and 1", warned, recovered, acceptLogBurst)
	}
	if strings.Contains(serverLog.String(), "Accept error") {
		t.Errorf("http.Server logged the errors itself: %s", serverLog.String())
	}
	if err := hs.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	if got := s.Stats().AcceptErrors; got != 7 {
		t.Errorf("closing counted as an accept error: %d", got)
	}
}

// Closing the listener ends a back-off at once: a shutdown does not wait
// out a second of it.
func TestListenerCloseEndsBackoff(t *testing.T) {
	s := &Server{opts: ServerOptions{Logger: slog.New(slog.DiscardHandler)}}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &emfileListener{Listener: inner}
	fl.failures.Store(1 << 30)
	l := s.Listener(fl)
	done := make(chan error, 1)
	go func() { _, err := l.Accept(); done <- err }()
	for s.Stats().AcceptErrors < 9 { // back-off at 1 s and up
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	_ = l.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("Close took %v to end the back-off", d)
	}
}

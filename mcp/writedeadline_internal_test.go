package mcp

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// A client that posts a request and never reads the answer: the handler
// writing a large response gets a timeout error once a write has waited
// the write timeout, and returns, instead of blocking for ever.
func TestPostResponseToAClientThatStopsReading(t *testing.T) {
	const d = 200 * time.Millisecond
	writeErr := make(chan error, 1)
	srv := httptest.NewServer(writeDeadline(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		chunk := make([]byte, 64<<10)
		for range 1024 { // 64 MiB, far more than the sockets hold
			if _, err := w.Write(chunk); err != nil {
				writeErr <- err
				return
			}
		}
		writeErr <- nil
	}), d))
	defer srv.Close()

	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.(*net.TCPConn).SetReadBuffer(4 << 10)
	if _, err := io.WriteString(c, "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-writeErr:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("write to a client that does not read: %v, want a deadline error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the handler is still writing to a client that does not read")
	}
}

// The deadline is per write, not per request: a POST that takes longer
// than it before answering is answered, and so is a GET that does on the
// same keep-alive connection afterwards.
func TestWriteDeadlineCutsOnlyStalledWrites(t *testing.T) {
	const d = 100 * time.Millisecond
	srv := httptest.NewServer(writeDeadline(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		time.Sleep(3 * d) // a slow tool call, or a stream idle for a while
		_, _ = io.WriteString(w, r.Method+" answered")
	}), d))
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for _, req := range []string{
		"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
		"GET /mcp HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%.4s: %v", req, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if method, _, _ := strings.Cut(req, " "); err != nil || string(body) != method+" answered" {
			t.Fatalf("%s: %q, %v", method, body, err)
		}
	}
}

package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
)

// initialize opens a raw HTTP MCP session as token without keeping the
// connection: status, session id and body of the answer.
func initialize(t *testing.T, url, token string) (int, string, string) {
	t.Helper()
	id := ""
	code, body := rawPost(t, url, token, "", initBody("2025-06-18"))
	if code == http.StatusOK {
		id = lastSession
		if c, b := rawPost(t, url, token, id, initializedBody); c/100 != 2 {
			t.Fatalf("initialized: %d %s", c, b)
		}
	}
	return code, id, body
}

// lastSession is the session id of the last rawPost answer (the test's
// goroutine alone uses it).
var lastSession string

var noKeepAlive = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func rawPost(t *testing.T, url, token, session, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
		req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	}
	resp, err := noKeepAlive.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	lastSession = resp.Header.Get("Mcp-Session-Id")
	return resp.StatusCode, string(b)
}

// TestAbandonedMCPSessionsExpire: sessions nobody ends go after
// mcp.session_idle_timeout, goroutines and all, and one token holds at
// most mcp.max_sessions_per_token of them meanwhile.
// It counts the process's goroutines, so it does not run in parallel.
func TestAbandonedMCPSessionsExpire(t *testing.T) {
	f := newShopFixture(t)
	cfg := *f.cfg
	cfg.MCP.SessionIdleTimeout = config.Duration(time.Second)
	cfg.MCP.MaxSessionsPerToken = 10
	url := f.serveHTTP(t, &cfg)
	if code, _, body := initialize(t, url, "bob-token"); code != http.StatusOK { // warm: the pool, lazily started goroutines
		t.Fatalf("bob: %d %s", code, body)
	}
	before := waitGoroutines(t, -1, 0)

	var abandoned []string
	for range 10 {
		code, id, body := initialize(t, url, "alice-token")
		if code != http.StatusOK {
			t.Fatalf("session %d: %d %s", len(abandoned)+1, code, body)
		}
		abandoned = append(abandoned, id)
	}
	if grown := runtime.NumGoroutine() - before; grown < 10 {
		t.Fatalf("10 open sessions cost %d goroutines; the test cannot see them go", grown)
	}
	code, _, body := initialize(t, url, "alice-token")
	if code != http.StatusTooManyRequests || !strings.Contains(body, "pgmoat: mcp.max_sessions_per_token:") {
		t.Fatalf("11th session: %d %s", code, body)
	}
	if code, _, body := initialize(t, url, "bob-token"); code != http.StatusOK {
		t.Fatalf("another token over alice's cap: %d %s", code, body)
	}

	// Nobody touches the sessions: within the idle timeout (and some
	// slack) they close and their goroutines end.
	waitGoroutines(t, before, 15*time.Second)
	for _, id := range abandoned {
		if code, body := rawPost(t, url, "alice-token", id, `{"jsonrpc":"2.0","id":2,"method":"ping"}`); code != http.StatusNotFound {
			t.Fatalf("expired session %s answered %d %s", id, code, body)
		}
	}
	if code, _, body := initialize(t, url, "alice-token"); code != http.StatusOK {
		t.Fatalf("a new session after the old expired: %d %s", code, body)
	}
}

// waitGoroutines waits until at most atMost goroutines run (atMost < 0:
// until the count stops changing) and returns the count.
func waitGoroutines(t *testing.T, atMost int, within time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(within)
	last := -1
	for {
		n := runtime.NumGoroutine()
		switch {
		case atMost < 0 && n == last:
			return n
		case atMost >= 0 && n <= atMost:
			return n
		case atMost >= 0 && time.Now().After(deadline):
			var dump strings.Builder
			_ = pprof.Lookup("goroutine").WriteTo(&dump, 1)
			t.Fatalf("%d goroutines after %v, want at most %d:\n%s", n, within, atMost, dump.String())
		}
		last = n
		time.Sleep(100 * time.Millisecond)
	}
}

// TestMCPHTTPConnectionBounds: a request without a valid token is
// answered 401 while its body is still unfinished, and its connection
// closed; a token holder's unfinished body is cut at mcp.http.body_timeout
// (408); a connection that sends nothing is closed at
// mcp.http.read_header_timeout. None of them waits for the client.
func TestMCPHTTPConnectionBounds(t *testing.T) {
	t.Parallel()
	f := newShopFixture(t)
	cfg := *f.cfg
	cfg.MCP.HTTP.ReadHeaderTimeout = config.Duration(500 * time.Millisecond)
	cfg.MCP.HTTP.BodyTimeout = config.Duration(3 * time.Second)
	u, err := url.Parse(f.serveHTTP(t, &cfg))
	if err != nil {
		t.Fatal(err)
	}
	half := func(auth string) net.Conn {
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_, err = io.WriteString(c, "POST /mcp HTTP/1.1\r\nHost: "+u.Host+"\r\nContent-Type: application/json\r\n"+
			"Accept: application/json, text/event-stream\r\n"+auth+"Content-Length: 1000\r\n\r\n{\"jsonrpc\":")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	answer := func(c net.Conn, within time.Duration) (status string, closed bool) {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(within))
		r := bufio.NewReader(c)
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("no answer within %v: %v", within, err)
		}
		_, err = io.Copy(io.Discard, r)
		return strings.TrimSpace(line), err == nil // EOF: the server closed it
	}

	for _, auth := range []string{"", "Authorization: Bearer not-a-token\r\n"} {
		status, closed := answer(half(auth), 2*time.Second)
		if !strings.Contains(status, " 401 ") || !closed {
			t.Errorf("%q: %s, closed %v; want 401 before the body and the connection closed", auth, status, closed)
		}
	}
	status, closed := answer(half("Authorization: Bearer alice-token\r\n"), 10*time.Second)
	if !strings.Contains(status, " 408 ") || !closed {
		t.Errorf("an unfinished body with a token: %s, closed %v; want 408 and closed", status, closed)
	}

	silent, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	_ = silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := silent.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("a silent connection: read %d, %v; want it closed at read_header_timeout", n, err)
	}
}

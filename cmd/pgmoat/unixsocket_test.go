package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnixSocketListener serves the proxy on proxy.unix_socket beside TCP:
// psql reaches it with -h <dir>, a stale socket file is replaced, one in
// use is refused, and the file is gone after shutdown.
func TestUnixSocketListener(t *testing.T) {
	t.Parallel()
	f := newShopFixture(t)
	cfg := f.cfg
	cfg.Proxy.Listen, cfg.MCP.Listen = loopbackAddr(t), loopbackAddr(t)
	dir, err := os.MkdirTemp("", "pgmoat-sock")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	cfg.Proxy.UnixSocket = dir
	_, port, _ := net.SplitHostPort(cfg.Proxy.Listen)
	path := filepath.Join(dir, ".s.PGSQL."+port)

	// A socket file nobody listens on, as a killed process leaves it.
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	_ = stale.Close()

	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- serve(ctx, out, cfg) }()
	out.waitFor(t, "MCP listening")
	if !strings.Contains(out.String(), "unix socket "+path) {
		t.Errorf("serve does not say where the socket is:\n%s", out.String())
	}
	got := psqlAt(t, net.JoinHostPort(dir, port), "alice", f.db, "SELECT count(*) > 0 FROM customers;\nSHOW statement_timeout;\n")
	mustContain(t, "psql over the unix socket", got, "t\n", "5s")
	mustContain(t, "denied over the unix socket", psqlAt(t, net.JoinHostPort(dir, port), "alice", f.db, "DELETE FROM customers;\n"),
		"statement.kind")

	// A file that is not a socket is never removed.
	other := loopbackAddr(t)
	_, otherPort, _ := net.SplitHostPort(other)
	plain := filepath.Join(dir, ".s.PGSQL."+otherPort)
	if err := os.WriteFile(plain, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := listenUnix(dir, other); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("a plain file in the way: %v", err)
	}
	if b, err := os.ReadFile(plain); err != nil || string(b) != "keep me" {
		t.Errorf("the plain file was touched: %q %v", b, err)
	}

	// A second server on the same socket is refused, and says why.
	if _, err := listenUnix(dir, cfg.Proxy.Listen); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("a socket in use: %v", err)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("socket file after shutdown: %v", err)
	}
}

package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/mcpdoor"
	"github.com/pgmoat/pgmoat/mcp"
)

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

// The HTTP door is served on the proxy's back-off listener with the MCP
// server's hook: out of descriptors it keeps serving, and each failed
// Accept counts in the MCP door's own figure (pgmoat_mcp_accept_errors_total).
func TestMCPDoorBacksOffAndCountsAcceptErrors(t *testing.T) {
	t.Parallel()
	f := newShopFixture(t)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &emfileListener{Listener: inner}
	ln.failures.Store(3)
	logger := discardLogger()
	authn, err := mcpdoor.NewAuthenticator(f.cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(authn.Close)
	door, err := newMCPStack(context.Background(), f.cfg, f.engine, f.pool, logger, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := door.ServeHTTP(f.cfg, ln, authn, nil, logger, io.Discard)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	resp := post(t, "http://"+inner.Addr().String()+mcp.Path, map[string]string{"Authorization": "Bearer alice-token"}, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("initialize after the accept failures: %s", resp.Status)
	}
	if got := door.Server.Stats().AcceptErrors; got != 3 {
		t.Fatalf("MCP accept errors counted: %d, want 3", got)
	}
}

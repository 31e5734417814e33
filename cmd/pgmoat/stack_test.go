package main

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
)

// TestListenClosesWhatItOpened: when the MCP address cannot be listened
// on, the proxy's listener opened before it is closed again, so a failed
// start leaves no port taken.
func TestListenClosesWhatItOpened(t *testing.T) {
	t.Parallel()
	cfg := config.Demo("host=127.0.0.1 port=1")
	cfg.Proxy.Listen = loopbackAddr(t)
	cfg.MCP.Listen = "127.0.0.1:99999"
	var opened cleanup
	_, err := listen(cfg, &opened)
	if err == nil || !strings.Contains(err.Error(), "mcp.listen") {
		t.Fatalf("err %v, want one naming mcp.listen", err)
	}
	opened.run()
	l, err := net.Listen("tcp", cfg.Proxy.Listen)
	if err != nil {
		t.Fatalf("the proxy's port is still taken after the failed start: %v", err)
	}
	_ = l.Close()
}

// TestStartStackValidatesBeforeConnecting: a bad mcp section is reported
// before the backend is dialed (port 1 refuses) and before anything
// listens.
func TestStartStackValidatesBeforeConnecting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(*config.Config)
		want string
	}{
		{"cursor secret", func(c *config.Config) { c.MCP.CursorSecret = "short" }, "mcp.cursor_secret"},
		{"data wrapper", func(c *config.Config) { c.MCP.DataWrapper = "xml" }, "mcp.data_wrapper"},
		{"jwt key file", func(c *config.Config) {
			c.MCP.JWT = &config.JWT{PublicKeyFile: "/nonexistent/issuer.pem"}
		}, "mcp.jwt.public_key_file"},
		{"tls", func(c *config.Config) { c.Proxy.TLS = config.TLS{Cert: "/nonexistent/cert", Key: "/nonexistent/key"} }, "proxy.tls"},
	} {
		cfg := config.Demo("host=127.0.0.1 port=1")
		cfg.Proxy.Listen = loopbackAddr(t)
		tc.edit(cfg)
		st, err := startStack(context.Background(), &strings.Builder{}, cfg)
		if st != nil || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.want)
		}
		if l, err := net.Listen("tcp", cfg.Proxy.Listen); err != nil {
			t.Errorf("%s: the proxy's port is taken: %v", tc.name, err)
		} else {
			_ = l.Close()
		}
	}
}

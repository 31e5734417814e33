package proxy

import (
	"io"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/policy"
)

// A startup packet sent in plain text right behind an SSLRequest, before
// the proxy's 'S', is not taken as if it came over TLS: the proxy reads
// no further than the request, so the packet reaches the TLS handshake,
// which fails, and nobody is asked for a password.
func TestRedAuthPlainTextBehindSSLRequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	engine, err := policy.New(policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(Config{Engine: engine, Pool: f.pool, TLS: selfSigned(t), Users: map[string]User{
		"alice": {Password: testVerifier("alice"), Identity: policy.Identity{UserID: "1"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveOn(t, srv)
	r := redDial(t, addr)
	ssl, _ := (&pgproto3.SSLRequest{}).Encode(nil)
	startup, _ := (&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber,
		Parameters: map[string]string{"user": "alice", "database": f.db}}).Encode(nil)
	if _, err := r.c.Write(append(ssl, startup...)); err != nil {
		t.Fatal(err)
	}
	_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	out, _ := io.ReadAll(r.c)
	if len(out) == 0 || out[0] != 'S' {
		t.Fatalf("answer to the SSLRequest: %q", out)
	}
	for i := 1; i+1 < len(out); i++ {
		if out[i] == 'R' && out[i+1] == 0 {
			t.Fatalf("an authentication request followed the plain-text packet: %q", out)
		}
	}
}

package proxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmoat/pgmoat/policy"
)

func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
}

// TestTLSAndMD5: SSLRequest is answered with TLS when a certificate is
// configured, and md5 authentication works when chosen.
func TestTLSAndMD5(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	engine, err := policy.New(policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(Config{Engine: engine, Pool: f.pool, TLS: selfSigned(t), Auth: AuthMD5, Users: map[string]User{
		"alice": {Password: "alice", Identity: policy.Identity{UserID: "1"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	tf := &proxyFixture{db: f.db, addr: serveOn(t, srv)}
	ctx := context.Background()

	cfg, err := pgx.ParseConfig(tf.dsn("alice"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLSConfig = &tls.Config{InsecureSkipVerify: true} // sslmode=require: encrypted, not verified
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("TLS + md5: %v", err)
	}
	defer conn.Close(ctx)
	if _, ok := conn.PgConn().Conn().(*tls.Conn); !ok {
		t.Fatalf("connection is not TLS: %T", conn.PgConn().Conn())
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 50 {
		t.Fatalf("over TLS: %d %v", n, err)
	}
	bad, _ := pgx.ParseConfig(tf.dsn("alice"))
	bad.Password = "wrong"
	bad.TLSConfig = &tls.Config{InsecureSkipVerify: true}
	if _, err := pgx.ConnectConfig(ctx, bad); err == nil {
		t.Fatal("md5 accepted a wrong password")
	}
}

// TestTLSSessionsAreForgotten: a TLS client's connection leaves the
// server's tracked set when its session ends, as a plain one does, so
// TLS sessions do not pile up in it for the life of the server.
func TestTLSSessionsAreForgotten(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	engine, err := policy.New(policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(Config{Engine: engine, Pool: f.pool, TLS: selfSigned(t), Auth: AuthMD5, Users: map[string]User{
		"alice": {Password: "alice", Identity: policy.Identity{UserID: "1"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	tf := &proxyFixture{db: f.db, addr: serveOn(t, srv)}
	ctx := context.Background()
	tracked := func() int {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return len(srv.conns)
	}
	for range 3 {
		cfg, err := pgx.ParseConfig(tf.dsn("alice"))
		if err != nil {
			t.Fatal(err)
		}
		cfg.TLSConfig = &tls.Config{InsecureSkipVerify: true}
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
		if err := conn.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 10*time.Second, "no connection tracked after the TLS sessions ended", func() bool { return tracked() == 0 })
}

package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// requireTLSFixture is f's configuration served again with a certificate
// and RequireTLS.
func requireTLSFixture(t *testing.T, f *proxyFixture) (*proxyFixture, *Server) {
	t.Helper()
	cfg := f.server.cfg
	cfg.TLS, cfg.RequireTLS, cfg.Metrics = selfSigned(t), true, nil
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &proxyFixture{db: f.db, pool: f.pool, server: srv, addr: serveOn(t, srv)}, srv
}

// With proxy.tls.require a client that did not negotiate TLS hears one
// FATAL 28000 naming the rule, before any authentication request, and
// the connection ends; psql and pgx with sslmode=disable are refused,
// with sslmode=require they work, at the proxy's door and the console's.
func TestRequireTLSRefusesClientsInTheClear(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	tf, _ := requireTLSFixture(t, f)
	ctx := context.Background()

	for _, db := range []string{tf.db, AdminDatabase} {
		c, err := net.Dial("tcp", tf.addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		fe := pgproto3.NewFrontend(c, c)
		fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber,
			Parameters: map[string]string{"user": "alice", "database": db}})
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		msg, err := fe.Receive()
		er, ok := msg.(*pgproto3.ErrorResponse)
		if err != nil || !ok || er.Severity != "FATAL" || er.Code != "28000" || !strings.HasPrefix(er.Message, "pgmoat: proxy.tls.require: ") {
			t.Fatalf("%s in the clear: first answer %#v, %v; want FATAL 28000 pgmoat: proxy.tls.require", db, msg, err)
		}
		if msg, err := fe.Receive(); !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			t.Fatalf("%s in the clear: after the FATAL came %#v, %v; want the end of the connection", db, msg, err)
		}
		c.Close()
	}

	out, err := tf.psql(t, "alice", "SELECT count(*) FROM items;\n")
	if err == nil || !strings.Contains(out, "pgmoat: proxy.tls.require: TLS required") {
		t.Fatalf("psql sslmode=disable: %v\n%s", err, out)
	}
	out, err = tf.psql(t, "alice", "SELECT count(*) FROM items;\n", "PGSSLMODE=require")
	if err != nil || strings.TrimSpace(out) != "50" {
		t.Fatalf("psql sslmode=require: %v\n%s", err, out)
	}

	var pe *pgconn.PgError
	if _, err := pgx.Connect(ctx, tf.dsn("alice")); !errors.As(err, &pe) || pe.Code != "28000" {
		t.Fatalf("pgx sslmode=disable: %v, want 28000", err)
	}
	conn, err := pgx.Connect(ctx, strings.Replace(tf.dsn("alice"), "sslmode=disable", "sslmode=require", 1))
	if err != nil {
		t.Fatalf("pgx sslmode=require: %v", err)
	}
	defer conn.Close(ctx)
	if _, ok := conn.PgConn().Conn().(*tls.Conn); !ok {
		t.Fatalf("pgx sslmode=require: the connection is not TLS: %T", conn.PgConn().Conn())
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 50 {
		t.Fatalf("pgx over TLS: %d rows, %v", n, err)
	}
}

// Cancel requests carry no credentials and libpq and pgx send them
// unencrypted, so RequireTLS lets them through, as PostgreSQL does; and
// unix-socket clients, whose traffic stays on the host, need no TLS.
func TestRequireTLSKeepsCancelAndUnixSocket(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	tf, srv := requireTLSFixture(t, f)
	ctx := context.Background()

	conn, err := pgx.Connect(ctx, strings.Replace(tf.dsn("carol"), "sslmode=disable", "sslmode=require", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	su, err := pgx.Connect(ctx, cluster.DSN(f.db))
	if err != nil {
		t.Fatal(err)
	}
	defer su.Close(ctx)
	ran := make(chan error, 1)
	go func() { _, err := conn.Exec(ctx, "SELECT count(*) FROM generate_series(1, 400000000)"); ran <- err }()
	waitUntil(t, 10*time.Second, "the statement to run", func() bool {
		select {
		case err := <-ran:
			t.Fatalf("the statement ended before the cancel: %v", err)
		default:
		}
		var n int
		err := su.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND datname = current_database() AND strpos(query, 'generate_series') > 0").Scan(&n)
		return err == nil && n > 0
	})
	if err := conn.PgConn().CancelRequest(ctx); err != nil { // over plain TCP
		t.Fatal(err)
	}
	var pe *pgconn.PgError
	if err := <-ran; !errors.As(err, &pe) || pe.Code != "57014" || !strings.Contains(pe.Message, "user request") {
		t.Fatalf("the cancelled statement: %v, want 57014 on user request", err)
	}

	dir := t.TempDir()
	ul, err := net.Listen("unix", filepath.Join(dir, ".s.PGSQL.5432"))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ul) }()
	local, err := pgx.Connect(ctx, "host="+dir+" port=5432 user=alice password=alice sslmode=disable dbname="+f.db)
	if err != nil {
		t.Fatalf("unix socket without TLS: %v", err)
	}
	defer local.Close(ctx)
	if err := local.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// RequireTLS without a certificate is a configuration error.
func TestRequireTLSNeedsACertificate(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	cfg := f.server.cfg
	cfg.RequireTLS, cfg.Metrics = true, nil
	if _, err := NewServer(cfg); err == nil || !strings.Contains(err.Error(), "RequireTLS") {
		t.Fatalf("RequireTLS without TLS: %v", err)
	}
}

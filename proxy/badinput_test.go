package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// readAll reads what the proxy sends until it closes the connection.
func readAll(t *testing.T, c net.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, _ := io.ReadAll(c)
	return string(b)
}

func TestMalformedStartupPackets(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	for name, packet := range map[string][]byte{
		"length too small": {0, 0, 0, 2},
		"huge length":      {0x7f, 0, 0, 0, 0, 3, 0, 0},
		"http":             []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
	} {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", f.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, _ = c.Write(packet)
			out := readAll(t, c)
			if !strings.Contains(out, "08P01") && out != "" {
				t.Fatalf("unexpected answer %q", out)
			}
		})
	}
	// The proxy still serves everyone else.
	conn := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	if _, err := conn.Exec(context.Background(), "SELECT 1"); err != nil {
		t.Fatal(err)
	}
}

func TestSlowClientsAreCutOffAtStartup(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{startupTimeout: 300 * time.Millisecond})
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write([]byte{0, 0, 0}) // half a length word, then nothing
	start := time.Now()
	readAll(t, c)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("slow client held for %s", d)
	}
}

func TestOversizedMessageIsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{maxMessageSize: 4096})
	conn := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	_, err := conn.Exec(context.Background(), "SELECT '"+strings.Repeat("x", 10000)+"'")
	if err == nil || !strings.Contains(err.Error(), "08P01") {
		t.Fatalf("got %v", err)
	}
	other := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	if _, err := other.Exec(context.Background(), "SELECT 1"); err != nil {
		t.Fatal(err)
	}
}

func TestMaxClientConn(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{maxClientConn: 2})
	f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	_, err := pgx.Connect(context.Background(), f.dsn("alice"))
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "53300" {
		t.Fatalf("third client: %v", err)
	}
}

func TestReplicationAndGSSAndSSLWithoutCert(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	cfg, _ := pgx.ParseConfig(f.dsn("alice"))
	cfg.RuntimeParams["replication"] = "database"
	_, err := pgx.ConnectConfig(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "replication") {
		t.Fatalf("replication: %v", err)
	}
	// sslmode=prefer falls back to plain text after 'N'; gssencmode=prefer too.
	pc, err := pgconn.Connect(context.Background(), strings.Replace(f.dsn("alice"), "sslmode=disable", "sslmode=prefer gssencmode=disable", 1))
	if err != nil {
		t.Fatal(err)
	}
	pc.Close(context.Background())
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req, _ := (&pgproto3.GSSEncRequest{}).Encode(nil)
	_, _ = c.Write(req)
	var answer [1]byte
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, answer[:]); err != nil || answer[0] != 'N' {
		t.Fatalf("GSSENCRequest answer %q, %v", answer[0], err)
	}
}

func TestBackendDyingMidQuery(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{timeout: 30 * time.Second})
	ctx := context.Background()
	victim := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	var wg sync.WaitGroup
	var qErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, qErr = victim.Exec(ctx, "SELECT count(*) FROM generate_series(1, 500000000)")
	}()
	waitRunning(t, f.db, "generate_series(1, 500000000)")
	admin, err := pgx.Connect(ctx, cluster.DSN(f.db))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'proxy_reader' AND state = 'active' AND datname = current_database()"); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if qErr == nil {
		t.Fatal("query survived its backend")
	}
	other := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	var n int
	if err := other.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 50 {
		t.Fatalf("proxy unusable after a backend died: %d %v", n, err)
	}
}

// A 3.2 client is told the server speaks 3.0 (as PostgreSQL 15 tells
// it) and its login goes on.
func TestProtocol32Startup(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fe := pgproto3.NewFrontend(c, c)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion32, Parameters: map[string]string{
		"user": "alice", "database": f.db, "_pq_.unknown_option": "x",
	}})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	msg, err := fe.Receive()
	if npv, ok := msg.(*pgproto3.NegotiateProtocolVersion); err != nil || !ok || npv.NewestMinorProtocol != pgproto3.ProtocolVersion30 {
		t.Fatalf("want NegotiateProtocolVersion 3.0, got %#v, %v", msg, err)
	}
	msg, err = fe.Receive()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := msg.(*pgproto3.AuthenticationSASL); !ok {
		t.Fatalf("want SASL auth, got %T", msg)
	}
}

// TestHugeMessageBeforeLoginIsRefusedAtOnce: a stranger who declares a
// 16 MiB password message is cut off on the header, not held (with the
// buffer the message would need) until the startup timeout.
func TestHugeMessageBeforeLoginIsRefusedAtOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{startupTimeout: 20 * time.Second})
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fe := pgproto3.NewFrontend(c, c)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber,
		Parameters: map[string]string{"user": "alice", "database": f.db}})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := fe.Receive(); err != nil { // the authentication request
		t.Fatal(err)
	}
	header := []byte{'p', 0x01, 0x00, 0x00, 0x04} // 16 MiB + 4
	if _, err := c.Write(append(header, []byte("partial body")...)); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.ReadAll(c)
	if waited := time.Since(began); waited > 5*time.Second {
		t.Fatalf("the connection was held %v after a 16 MiB header before login", waited)
	}
}

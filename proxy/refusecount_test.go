package proxy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The FATALs a client gets before it has a session (refused at startup:
// too many clients, a wrong database or password, a garbage packet) are
// counted by SQLSTATE like every other error a client saw; a connection
// closed before it sent a byte (a health check) is told nothing and
// counted as nothing.
func TestStartupRefusalsAreCounted(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{maxClientConn: 1})
	ctx := context.Background()
	host, port, _ := net.SplitHostPort(f.addr)
	dsn := func(user, password, db string) string {
		return fmt.Sprintf("host=%s port=%s user=%s password=%s dbname=%s sslmode=disable", host, port, user, password, db)
	}
	for _, tc := range []struct {
		name, dsn, code string
	}{
		{"wrong password", dsn("alice", "wrong", f.db), "28P01"},
		{"unknown user", dsn("mallory", "x", f.db), "28P01"},
		{"wrong database", dsn("alice", "alice", "otherdb"), "3D000"},
	} {
		_, err := pgx.Connect(ctx, tc.dsn)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != tc.code {
			t.Fatalf("%s: %v, want %s", tc.name, err, tc.code)
		}
		// The FATAL reaches the client before the server has let go of
		// the connection; the next one must not find the one slot taken.
		waitUntil(t, 5*time.Second, "the refused client to be gone", func() bool { return f.server.Clients() == 0 })
	}

	garbage, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = garbage.Write([]byte{0, 0, 0, 3}) // a startup packet shorter than its own length
	readToEnd(t, garbage)
	// The refused client's slot is given back after its connection is
	// closed; a client arriving before then is refused as one too many.
	waitUntil(t, 5*time.Second, "the garbage client to be gone", func() bool { return f.server.Clients() == 0 })
	silent, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = silent.(*net.TCPConn).CloseWrite()
	readToEnd(t, silent)

	waitUntil(t, 5*time.Second, "the refused clients to be gone", func() bool { return f.server.Clients() == 0 })
	held := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	_, err = pgx.Connect(ctx, dsn("bob", "bob", f.db))
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != codeTooManyConns {
		t.Fatalf("client over max_client_conn: %v", err)
	}
	held.Close(ctx)

	want := map[string]float64{"28P01": 2, "3D000": 1, "08P01": 1, "53300": 1}
	counted := func() map[string]float64 {
		got := map[string]float64{}
		for code := range want {
			got[code] = testutil.ToFloat64(f.server.metrics.errors.WithLabelValues(code))
		}
		return got
	}
	for deadline := time.Now().Add(5 * time.Second); !maps.Equal(counted(), want); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("refusals counted %v, want %v", counted(), want)
		}
	}
	if n := testutil.CollectAndCount(f.server.metrics.errors); n != len(want) {
		t.Errorf("%d SQLSTATEs counted, want %d (%v)", n, len(want), want)
	}
}

// readToEnd reads what the server sends until it closes the connection.
func readToEnd(t *testing.T, c net.Conn) []byte {
	t.Helper()
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var out []byte
	buf := make([]byte, 512)
	for {
		n, err := c.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the server did not close the connection")
			}
			return out
		}
	}
}

package proxy

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/prometheus/client_golang/prometheus"
)

// Silent connections that never send a startup packet hold at most
// MaxStartups places: the rest are refused at once with 53300 naming the
// rule, so they cannot fill MaxClientConn for the startup timeout; a
// client logged in before goes on working (its own place was given back
// before it was told it was in), a new login is refused while the places
// are taken and succeeds as soon as the silent ones close.
func TestMaxStartupsCapsHalfOpenLogins(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	reg := prometheus.NewRegistry()
	cfg := f.server.cfg
	cfg.MaxClientConn, cfg.MaxStartups, cfg.StartupTimeout, cfg.Metrics = 8, 4, time.Minute, reg
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tf := &proxyFixture{db: f.db, addr: serveOn(t, srv)}
	ctx := context.Background()
	alice := tf.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)

	// Her login gave its place back before she was told she was in, so
	// the silent connections below find all four places free.
	if got := gathered(t, reg, "pgmoat_proxy_startups"); got != 0 {
		t.Fatalf("pgmoat_proxy_startups = %v once alice logged in, want 0", got)
	}
	var silent []net.Conn
	for range 7 { // with alice, enough to fill max_client_conn without the cap
		c, err := net.Dial("tcp", tf.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent = append(silent, c)
	}
	waitUntil(t, 10*time.Second, "4 logins in progress and 3 refused", func() bool {
		return gathered(t, reg, "pgmoat_proxy_startups") == 4 && gathered(t, reg, "pgmoat_proxy_startups_refused_total") == 3
	})
	var held []net.Conn
	for _, c := range silent {
		_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		msg, err := pgproto3.NewFrontend(c, c).Receive()
		var ne net.Error
		switch er, ok := msg.(*pgproto3.ErrorResponse); {
		case errors.As(err, &ne) && ne.Timeout():
			held = append(held, c)
		case !ok || er.Code != "53300" || !strings.HasPrefix(er.Message, "pgmoat: proxy.max_startups: "):
			t.Fatalf("a silent connection past the cap heard %#v, %v; want 53300 pgmoat: proxy.max_startups", msg, err)
		}
	}
	if len(held) != 4 {
		t.Fatalf("%d silent connections held, want 4", len(held))
	}

	var pe *pgconn.PgError
	if _, err := pgx.Connect(ctx, tf.dsn("bob")); !errors.As(err, &pe) || pe.Code != "53300" || !strings.HasPrefix(pe.Message, "pgmoat: proxy.max_startups: ") {
		t.Fatalf("a login while the startup places are taken: %v, want 53300 pgmoat: proxy.max_startups", err)
	}
	var n int
	if err := alice.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 50 {
		t.Fatalf("the client logged in before: %d rows, %v", n, err)
	}

	for _, c := range held {
		c.Close()
	}
	waitUntil(t, 10*time.Second, "the places to free", func() bool { return gathered(t, reg, "pgmoat_proxy_startups") == 0 })
	bob := tf.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	if err := bob.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if got := gathered(t, reg, "pgmoat_proxy_startups_refused_total"); got != 4 {
		t.Errorf("pgmoat_proxy_startups_refused_total = %v, want 4", got)
	}
}

func TestDefaultMaxStartups(t *testing.T) {
	for _, c := range []struct{ clients, want int }{{10000, 1000}, {2000, 200}, {500, 100}, {50, 50}, {1, 1}} {
		if got := DefaultMaxStartups(c.clients); got != c.want {
			t.Errorf("DefaultMaxStartups(%d) = %d, want %d", c.clients, got, c.want)
		}
	}
}

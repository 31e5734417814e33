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
	"github.com/prometheus/client_golang/prometheus"
)

// startupsFixture is f's configuration served again with at most max
// logins at once, each given timeout, and its own metrics.
func startupsFixture(t *testing.T, f *proxyFixture, max int, timeout time.Duration) (*proxyFixture, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg := f.server.cfg
	cfg.MaxStartups, cfg.StartupTimeout, cfg.Metrics = max, timeout, reg
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &proxyFixture{db: f.db, pool: f.pool, server: srv, addr: serveOn(t, srv)}, reg
}

// holdStartups opens n connections that never send a byte and waits
// until the server counts n logins in progress.
func holdStartups(t *testing.T, addr string, reg *prometheus.Registry, n int) {
	t.Helper()
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
	}
	waitUntil(t, 10*time.Second, "the startup places to fill", func() bool {
		return gathered(t, reg, "pgmoat_proxy_startups") == float64(n)
	})
}

// A flood of half-open logins that fills proxy.max_startups must not
// take away a logged-in client's way to stop its own statement: a
// cancel request (which carries no credentials and costs a lookup) is
// honoured while every startup place is taken, as PostgreSQL honours one
// while it answers "too many clients" to logins.
func TestRedDoorCancelWhileStartupsAreFull(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	tf, reg := startupsFixture(t, f, 2, time.Minute)
	ctx := context.Background()
	carol := tf.connect(t, "carol", pgx.QueryExecModeSimpleProtocol)
	su, err := pgx.Connect(ctx, cluster.DSN(f.db))
	if err != nil {
		t.Fatal(err)
	}
	defer su.Close(ctx)

	ran := make(chan error, 1)
	go func() { _, err := carol.Exec(ctx, "SELECT count(*) FROM generate_series(1, 400000000)"); ran <- err }()
	running := func() bool {
		var n int
		err := su.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND datname = current_database() AND strpos(query, 'generate_series') > 0 AND pid <> pg_backend_pid()").Scan(&n)
		return err == nil && n > 0
	}
	waitUntil(t, 10*time.Second, "the statement to run", func() bool {
		select {
		case err := <-ran:
			t.Fatalf("the statement ended before the cancel: %v", err)
		default:
		}
		return running()
	})
	holdStartups(t, tf.addr, reg, 2)
	defer func() { // whatever happened, stop the statement
		_, _ = su.Exec(ctx, "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND strpos(query, 'generate_series') > 0 AND pid <> pg_backend_pid()")
	}()

	if err := carol.PgConn().CancelRequest(ctx); err != nil {
		t.Logf("cancel request: %v", err)
	}
	var pe *pgconn.PgError
	select {
	case err := <-ran:
		if !errors.As(err, &pe) || pe.Code != "57014" || !strings.Contains(pe.Message, "user request") {
			t.Fatalf("the cancelled statement: %v, want 57014 on user request", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancel request sent while the startup places were taken did not stop the statement")
	}
	if got := gathered(t, reg, "pgmoat_proxy_startups"); got != 2 {
		t.Errorf("pgmoat_proxy_startups = %v after the cancel, want the 2 held", got)
	}
}

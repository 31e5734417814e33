package proxy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
)

// A full proxy.max_client_conn must not take away a logged-in client's
// way to stop its own statement: PostgreSQL reads a cancel request past
// max_connections (the postmaster handles it before it counts the
// connection), and answers "too many clients" only to a login. With
// every client place taken by logged-in clients, a login is refused with
// 53300 and a cancel request stops the statement.
func TestCancelWhileMaxClientConnIsFull(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	cfg := f.server.cfg
	cfg.MaxClientConn, cfg.MaxStartups, cfg.Metrics = 2, 2, prometheus.NewRegistry()
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tf := &proxyFixture{db: f.db, pool: f.pool, server: srv, addr: serveOn(t, srv)}
	ctx := context.Background()
	carol := tf.connect(t, "carol", pgx.QueryExecModeSimpleProtocol)
	_ = tf.connect(t, "bob", pgx.QueryExecModeSimpleProtocol) // the last place
	su, err := pgx.Connect(ctx, cluster.DSN(f.db))
	if err != nil {
		t.Fatal(err)
	}
	defer su.Close(ctx)

	var pe *pgconn.PgError
	if _, err := pgx.Connect(ctx, tf.dsn("alice")); !errors.As(err, &pe) || pe.Code != "53300" || !strings.HasPrefix(pe.Message, "pgmoat: proxy.max_client_conn: ") {
		t.Fatalf("a login past max_client_conn: %v, want 53300 pgmoat: proxy.max_client_conn", err)
	}

	ran := make(chan error, 1)
	go func() { _, err := carol.Exec(ctx, "SELECT count(*) FROM generate_series(1, 400000000)"); ran <- err }()
	waitUntil(t, 10*time.Second, "the statement to run", func() bool {
		select {
		case err := <-ran:
			t.Fatalf("the statement ended before the cancel: %v", err)
		default:
		}
		var n int
		err := su.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND datname = current_database() AND strpos(query, 'generate_series') > 0 AND pid <> pg_backend_pid()").Scan(&n)
		return err == nil && n > 0
	})
	defer func() { // whatever happened, stop the statement
		_, _ = su.Exec(ctx, "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND strpos(query, 'generate_series') > 0 AND pid <> pg_backend_pid()")
	}()
	if err := carol.PgConn().CancelRequest(ctx); err != nil {
		t.Logf("cancel request: %v", err)
	}
	select {
	case err := <-ran:
		if !errors.As(err, &pe) || pe.Code != "57014" || !strings.Contains(pe.Message, "user request") {
			t.Fatalf("the cancelled statement: %v, want 57014 on user request", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancel request sent while max_client_conn was full did not stop the statement")
	}
}

package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
	"github.com/pgmoat/pgmoat/policy"
)

// privateCluster is a server of the test's own, for tests that restart
// or stop it.
func privateCluster(t *testing.T) *pgcluster.Cluster {
	t.Helper()
	c, err := pgcluster.Start(context.Background(), pgcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// gathered is the value of the metric name (without labels) in reg.
func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		total := 0.0
		for _, m := range f.GetMetric() {
			if c := m.GetCounter(); c != nil {
				total += c.GetValue()
			} else if g := m.GetGauge(); g != nil {
				total += g.GetValue()
			}
		}
		return total
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// countRecords counts the log records with message msg.
func countRecords(t *testing.T, buf *syncBuffer, msg string) int {
	buf.mu.Lock()
	empty := buf.b.Len() == 0
	buf.mu.Unlock()
	if empty {
		return 0
	}
	n := 0
	for _, r := range buf.records(t) {
		if r["msg"] == msg {
			n++
		}
	}
	return n
}

// roundTrip runs SELECT 1 on a backend pgmoat holds, as its own
// borrowing: it fails on a connection the server has closed.
func roundTrip(b *backend) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return b.ownRoundTrip(ctx, &pgproto3.Query{String: "SELECT 1"})
}

// After the server restarts, every idle backend of the pool is dead. The
// pool must see that before lending one (no round trip needed), close the
// idle set, refill to Min, and every new client must be served.
func TestRestartedServerIdleBackendsAreNotLent(t *testing.T) {
	t.Parallel()
	c := privateCluster(t)
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	f := newFixture(t, fixtureOptions{cluster: c, poolMin: 3, poolMax: 6, logger: logger})
	ctx := context.Background()
	for _, mode := range []pgcluster.ShutdownMode{pgcluster.Fast, pgcluster.Immediate} {
		t.Run(string(mode), func(t *testing.T) {
			waitUntil(t, 5*time.Second, "the pool to hold Min idle backends", func() bool { return f.pool.Stats().Idle >= 3 })
			lost := f.pool.Stats().Lost
			if err := c.Restart(ctx, mode); err != nil {
				t.Fatal(err)
			}
			// pgmoat's own borrowing gets a live backend: the dead idle
			// ones are found without a round trip.
			b, err := f.pool.acquire(ctx, borrower{})
			if err != nil {
				t.Fatal(err)
			}
			if err := roundTrip(b); err != nil {
				t.Fatalf("the pool lent a dead backend after restart -m %s: %v", mode, err)
			}
			f.pool.release(b)
			st := f.pool.Stats()
			if st.Lost <= lost {
				t.Fatalf("no backend counted lost after restart -m %s: %+v", mode, st)
			}
			for i := range 25 {
				conn, err := pgx.Connect(ctx, f.dsn([]string{"alice", "bob"}[i%2]))
				if err != nil {
					t.Fatalf("session %d after restart -m %s: %v", i, mode, err)
				}
				var n int
				if err := conn.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 50 {
					t.Fatalf("session %d after restart -m %s: %d rows, %v", i, mode, n, err)
				}
				conn.Close(ctx)
			}
			waitUntil(t, 5*time.Second, "the pool to refill to Min", func() bool { return f.pool.Stats().Open >= 3 })
		})
	}
	if n := countRecords(t, &logs, "backend lost"); n == 0 {
		t.Fatal("no backend lost record in the log")
	}
	if v := gathered(t, f.reg, "pgmoat_pool_lost_total"); v < 2 {
		t.Fatalf("pgmoat_pool_lost_total = %v after two restarts", v)
	}
}

// A backend that dies after the liveness check but before the borrower's
// first statement (here: while pgmoat applies the settings) is replaced,
// and the borrower never hears of it.
func TestLendingRetriesOnAFreshBackend(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMin: 2, poolMax: 4})
	ctx := context.Background()
	id := policy.Identity{UserID: "1", Profile: "readonly"}
	profile, _ := f.server.engine.Profile(id.Profile)
	want := newSettings(f.server.cfg.RLSSetting, id.UserID, profile, nil)
	local := want.local(f.server.cfg.RLSSetting, false)
	var first *backend
	attempts := 0
	bk, err := f.pool.lend(ctx, borrowerFor(id, want.key()), func(b *backend) error {
		attempts++
		if first == nil {
			first = b
			_ = b.conn.Close() // the connection goes away under pgmoat
		}
		return f.pool.prepareLending(ctx, b, id, want, want.key(), local)
	})
	if err != nil {
		t.Fatalf("the lending failed instead of moving to another backend: %v", err)
	}
	defer f.pool.release(bk)
	if attempts != 2 || bk == first {
		t.Fatalf("%d attempts, same backend %v", attempts, bk == first)
	}
	if err := roundTrip(bk); err != nil {
		t.Fatal(err)
	}
	if st := f.pool.Stats(); st.Lost != 1 {
		t.Fatalf("lost %d, want 1", st.Lost)
	}
}

// A server that accepts the TCP connection and then says nothing (a hung
// host) costs a borrower its acquire timeout and a 53300, not a fixed
// connect timeout and an 08006.
func TestConnectBoundedByAcquireTimeout(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(held)
				return
			}
			held <- c
		}
	}()
	t.Cleanup(func() {
		l.Close()
		for c := range held {
			c.Close()
		}
	})
	var logs syncBuffer
	addr := l.Addr().(*net.TCPAddr)
	pool, err := NewPool(PoolConfig{DSN: "host=127.0.0.1 port=" + strconv.Itoa(addr.Port) + " user=r dbname=db sslmode=disable",
		Max: 2, AcquireTimeout: 300 * time.Millisecond, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	start := time.Now()
	_, err = pool.acquire(context.Background(), borrowerFor(policy.Identity{UserID: "1"}, ""))
	took := time.Since(start)
	var ce *ConnectTimeoutError
	if !errors.Is(err, ErrPoolExhausted) || !errors.As(err, &ce) {
		t.Fatalf("want a ConnectTimeoutError (53300), got %v after %s", err, took)
	}
	if we := toWire(err); we.code != codeTooManyConns {
		t.Fatalf("client sees %s, want 53300", we.code)
	}
	if took > 1500*time.Millisecond {
		t.Fatalf("took %s with a 300ms acquire timeout", took)
	}
	if st := pool.Stats(); st.ConnectFailures != 1 || st.Exhausted != 1 || st.Open != 0 || st.Connecting != 0 {
		t.Fatalf("stats %+v", st)
	}
	if countRecords(t, &logs, "backend connect failed") != 1 || countRecords(t, &logs, "pool exhausted") != 1 {
		t.Fatalf("log:\n%v", logs.records(t))
	}
}

// A backend lost under a client is one FATAL 08006 for the client, one
// count of it in the errors metric, one lost backend in the pool.
func TestBackendLostIsCountedAndLogged(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	f := newFixture(t, fixtureOptions{poolMin: 1, poolMax: 2, logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	ctx := context.Background()
	conn := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	if _, err := conn.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	var pid uint32
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM items").Scan(new(int)); err != nil {
		t.Fatal(err)
	}
	f.pool.mu.Lock()
	for b := range f.pool.lent {
		pid = b.pid
	}
	f.pool.mu.Unlock()
	admin, err := pgx.Connect(ctx, cluster.DSN(f.db))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend($1)", int(pid)); err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, "SELECT 1")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Fatalf("want a server error, got %v", err)
	}
	waitUntil(t, 5*time.Second, "the lost backend to be counted", func() bool {
		return testutil.ToFloat64(f.server.metrics.errors.WithLabelValues(codeConnFailure)) == 1
	})
	if st := f.pool.Stats(); st.Lost != 1 {
		t.Fatalf("pool lost %d, want 1", st.Lost)
	}
	if countRecords(t, &logs, "backend lost") != 1 {
		t.Fatalf("log:\n%v", logs.records(t))
	}
}

// At most a burst of records per kind per window; the next one written
// says how many were left out.
func TestEventLogRateLimits(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	e := newEventLog(slog.New(slog.NewJSONHandler(&logs, nil)))
	now := time.Unix(1000, 0)
	e.now = func() time.Time { return now }
	for range 20 {
		e.log("backend lost", "pid", 1)
	}
	e.log("pool exhausted")
	if n := countRecords(t, &logs, "backend lost"); n != eventBurst {
		t.Fatalf("%d records in one window, want %d", n, eventBurst)
	}
	now = now.Add(eventWindow)
	e.log("backend lost", "pid", 2)
	recs := logs.records(t)
	last := recs[len(recs)-1]
	if last["msg"] != "backend lost" || last["suppressed"] != float64(20-eventBurst) || last["level"] != "INFO" {
		t.Fatalf("next window's record: %v", last)
	}
	if countRecords(t, &logs, "pool exhausted") != 1 {
		t.Fatal("one kind's budget spent another's")
	}
}

// A client that never finishes its startup and one disconnected by a
// shutdown are each one record and one count.
func TestStartupTimeoutAndShutdownDisconnectAreRecorded(t *testing.T) {
	// Not parallel: the 200 ms startup timeout also bounds the test's own
	// logins (psql's, alice's), which the load of other tests can slow past it.
	var logs syncBuffer
	f := newFixture(t, fixtureOptions{startupTimeout: 200 * time.Millisecond, logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	silent, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	_ = silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, silent); err != nil {
		t.Fatalf("the silent client was not disconnected: %v", err)
	}
	waitUntil(t, 2*time.Second, "the startup timeout to be counted", func() bool {
		return gathered(t, f.reg, "pgmoat_proxy_startup_timeouts_total") == 1
	})
	if out := f.console(t, "dba", "SHOW POOLS;\n"); !strings.Contains(out, "|sv_connecting|sv_created|sv_closed|sv_lost|connect_failures") {
		t.Fatalf("SHOW POOLS:\n%s", out)
	}

	conn := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	if _, err := conn.Exec(context.Background(), "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.server.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if v := gathered(t, f.reg, "pgmoat_proxy_shutdown_disconnects_total"); v != 1 {
		t.Fatalf("shutdown disconnects %v, want 1", v)
	}
	if countRecords(t, &logs, "startup timeout") != 1 || countRecords(t, &logs, "shutdown disconnect") != 1 {
		t.Fatalf("log:\n%v", logs.records(t))
	}
}

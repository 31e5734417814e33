//go:build linux

package proxy

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// parkedSession reports whether the session whose cancel-key pid is pid
// is parked now.
func (s *Server) parkedSession(pid uint32) bool {
	for _, sess := range s.park.parkedSessions() {
		if sess.key.pid == pid {
			return true
		}
	}
	return false
}

// waitParked waits until the client with backend pid pid is parked.
func waitParked(t *testing.T, f *proxyFixture, pid uint32) {
	t.Helper()
	waitUntil(t, 10*time.Second, fmt.Sprintf("client %d to park", pid), func() bool { return f.server.parkedSession(pid) })
}

// waitScans waits until the parker's scan ran n more times.
func waitScans(t *testing.T, f *proxyFixture, n int64) {
	t.Helper()
	until := f.server.park.ticks.Load() + n
	waitUntil(t, 10*time.Second, "the parker's scan", func() bool { return f.server.park.ticks.Load() >= until })
}

// An idle client's session parks without a goroutine, and a parked
// client's next message is answered, in either protocol, from a
// transaction's first statement to its COMMIT; while it holds a backend
// (inside the transaction) it is never parked.
func TestParkedClientIsAnswered(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		c := f.connect(t, "alice", mode)
		pid := c.PgConn().PID()
		waitParked(t, f, pid)
		for i := range 3 {
			var n int
			if err := c.QueryRow(ctx, "SELECT count(*) FROM items WHERE id <= $1", 10*(i+1)).Scan(&n); err != nil {
				t.Fatalf("%v: query %d of a parked client: %v", mode, i, err)
			}
			if want := 5 * (i + 1); n != want { // alice sees every other row
				t.Fatalf("%v: query %d: %d rows, want %d", mode, i, n, want)
			}
			waitParked(t, f, pid)
		}
		if _, err := c.Exec(ctx, "BEGIN"); err != nil {
			t.Fatal(err)
		}
		waitScans(t, f, 3)
		if f.server.parkedSession(pid) {
			t.Fatalf("%v: a client inside a transaction was parked", mode)
		}
		if _, err := c.Exec(ctx, "COMMIT"); err != nil {
			t.Fatal(err)
		}
		waitParked(t, f, pid)
	}
}

// KILL of a parked client tells it why and ends its session: it is no
// longer listed, counted or parked.
func TestKillParkedClient(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	c := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	pid := c.PgConn().PID()
	waitParked(t, f, pid)
	before := f.server.Clients()
	if !f.server.kill(pid) {
		t.Fatal("KILL found no client")
	}
	waitUntil(t, 10*time.Second, "the killed session to end", func() bool {
		f.server.mu.Lock()
		_, listed := f.server.sessions[pid]
		f.server.mu.Unlock()
		return !listed && f.server.Clients() == before-1
	})
	if f.server.park.count() != 0 {
		t.Fatal("a killed session is still parked")
	}
	_, err := c.Exec(ctx, "SELECT 1")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != codeAdminShutdown {
		t.Fatalf("killed client got %v, want the admin.kill FATAL", err)
	}
}

// Shutdown ends parked clients' sessions with the shutdown notice and
// returns once they are gone, before its deadline.
func TestShutdownWithParkedClients(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	var conns []*pgconn.PgConn
	for range 5 {
		c := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol).PgConn()
		conns = append(conns, c)
	}
	for _, c := range conns {
		waitParked(t, f, c.PID())
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := f.server.Shutdown(sctx); err != nil {
		t.Fatalf("shutdown with parked clients: %v", err)
	}
	if f.server.Clients() != 0 || f.server.park.count() != 0 {
		t.Fatalf("after shutdown: %d clients, %d parked", f.server.Clients(), f.server.park.count())
	}
	if got := f.server.shutdownDisconnects.Load(); got != uint64(len(conns)) {
		t.Errorf("%d shutdown disconnects counted, want %d", got, len(conns))
	}
	for _, c := range conns {
		err := c.Exec(ctx, "SELECT 1").Close()
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != codeAdminShutdown {
			t.Errorf("parked client after shutdown got %v, want the server.shutdown FATAL", err)
		}
	}
}

// A parked client that hangs up (its socket closed without Terminate) is
// noticed at once: its session ends and the client count drops.
func TestParkedClientHangUp(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	c := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol).PgConn()
	pid := c.PID()
	waitParked(t, f, pid)
	before := f.server.Clients()
	if err := c.Conn().Close(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the hung-up session to end", func() bool {
		f.server.mu.Lock()
		_, listed := f.server.sessions[pid]
		f.server.mu.Unlock()
		return !listed && f.server.Clients() == before-1 && !f.server.parkedSession(pid)
	})
	if got := gaugeValue(t, f, "pgmoat_proxy_client_connections"); got != float64(before-1) {
		t.Errorf("client gauge %v after the hang-up, want %d", got, before-1)
	}
}

// Many clients park together, hold no goroutine while parked, and are
// all answered when they speak at once; then they park again.
func TestManyClientsParkAndWakeConcurrently(t *testing.T) {
	f := newFixture(t, fixtureOptions{poolMax: 8})
	ctx := context.Background()
	const n = 100
	base := runtime.NumGoroutine()
	conns := make([]*pgconn.PgConn, n)
	for i := range conns {
		conns[i] = f.connect(t, []string{"alice", "bob"}[i%2], pgx.QueryExecModeSimpleProtocol).PgConn()
	}
	waitUntil(t, 20*time.Second, "every client to park", func() bool { return f.server.park.count() == n })
	if g := runtime.NumGoroutine(); g > base+n/2 {
		t.Errorf("%d goroutines with %d parked clients, %d before they connected", g, n, base)
	}
	if got := gaugeValue(t, f, "pgmoat_proxy_parked_clients"); got != n {
		t.Errorf("parked gauge %v, want %d", got, n)
	}
	for round := range 3 {
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				want := strconv.Itoa(i*10 + round)
				res, err := c.Exec(ctx, "SELECT "+want).ReadAll()
				if err != nil || len(res) != 1 || len(res[0].Rows) != 1 || string(res[0].Rows[0][0]) != want {
					errs <- fmt.Errorf("client %d round %d: %v %+v", i, round, err, res)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		waitUntil(t, 20*time.Second, "every client to park again", func() bool { return f.server.park.count() == n })
	}
	for _, c := range conns {
		_ = c.Close(ctx)
	}
	waitUntil(t, 10*time.Second, "every session to end", func() bool { return f.server.Clients() == 0 && f.server.park.count() == 0 })
}

// gaugeValue is the value of an unlabelled series the fixture's registry
// gathers.
func gaugeValue(t *testing.T, f *proxyFixture, name string) float64 {
	t.Helper()
	families, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range families {
		if fam.GetName() == name && len(fam.GetMetric()) == 1 {
			return fam.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no series %s", name)
	return 0
}

// The parker's scan claims only a wait published a whole interval
// before its count: a wait that began at the previous count is left
// alone (a client sending back to back is never parked), one from two
// counts before ends with errPark, and the claim's deadline is cleared
// so that the next wait reads the client's message.
func TestScanClaimsOnlyAWholeIntervalsWait(t *testing.T) {
	t.Parallel()
	server, client := tcpPair(t)
	var ticks atomic.Int64
	ticks.Store(5)
	cr := newClientReader(server, newReadPools(), 1<<20)
	cr.ticks, cr.deadline, cr.parkable = &ticks, server, true
	got := make(chan error, 1)
	go func() { _, err := cr.Receive(); got <- err }()
	waitUntil(t, 10*time.Second, "the wait to be published", func() bool { return cr.park.since.Load() == 5 })
	cr.claim(6)
	if since := cr.park.since.Load(); since != 5 {
		t.Fatalf("a wait of less than an interval was claimed (since %d)", since)
	}
	cr.claim(7)
	if err := <-got; err != errPark {
		t.Fatalf("a claimed wait returned %v, want errPark", err)
	}
	if since := cr.park.since.Load(); since != 0 {
		t.Fatalf("since %d after the claimed wait ended", since)
	}
	wire, _ := (&pgproto3.Query{String: "SELECT 1"}).Encode(nil)
	if _, err := client.Write(wire); err != nil {
		t.Fatal(err)
	}
	msg, err := cr.Receive()
	if q, ok := msg.(*pgproto3.Query); err != nil || !ok || q.String != "SELECT 1" {
		t.Fatalf("after the claim: %v %v", msg, err)
	}
}

//go:build linux

package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/policy"
)

// Attacks on parking (park.go): races of the scan's claim with what the
// client sends, with KILL, hang-ups and shutdown, and what a session
// leaves behind in the parker once it is gone.

// activeCount is the number of sessions the parker's scan looks at.
func (p *parker) activeCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.active)
}

// sessionByPID is the live session whose cancel-key pid is pid, nil if
// none.
func (s *Server) sessionByPID(pid uint32) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[pid]
}

// trustServer is a second server on the fixture's pool with trust
// authentication, so that tests can log in thousands of raw clients
// cheaply.
func trustServer(t *testing.T, f *proxyFixture) (*Server, string) {
	t.Helper()
	engine, err := policy.New(policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(Config{Engine: engine, Pool: f.pool, Auth: AuthTrust, MaxClientConn: 5000, Users: map[string]User{
		"alice": {Identity: policy.Identity{UserID: "1"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return srv, serveOn(t, srv)
}

// rawClient is a logged-in client spoken to byte by byte.
type rawClient struct {
	conn net.Conn
	fe   *pgproto3.Frontend
	pid  uint32
}

// rawLogin logs alice in on a trust server and reads up to the first
// ReadyForQuery.
func rawLogin(t testing.TB, addr, db string) *rawClient {
	t.Helper()
	return rawLoginVia(t, &net.Dialer{}, addr, db)
}

// rawLoginVia is rawLogin with the client's socket dialed by d.
func rawLoginVia(t testing.TB, d *net.Dialer, addr, db string) *rawClient {
	t.Helper()
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	c := &rawClient{conn: conn, fe: pgproto3.NewFrontend(conn, conn)}
	c.fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber,
		Parameters: map[string]string{"user": "alice", "database": db}})
	if err := c.fe.Flush(); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		msg, err := c.fe.Receive()
		if err != nil {
			t.Fatalf("login: %v", err)
		}
		switch m := msg.(type) {
		case *pgproto3.BackendKeyData:
			c.pid = m.ProcessID
		case *pgproto3.ErrorResponse:
			t.Fatalf("login: %s %s", m.Code, m.Message)
		case *pgproto3.ReadyForQuery:
			_ = conn.SetReadDeadline(time.Time{})
			return c
		}
	}
}

// answer reads one simple-protocol answer up to ReadyForQuery: the first
// column of its row ("" when none), or the error.
func (c *rawClient) answer() (string, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	defer func() { _ = c.conn.SetReadDeadline(time.Time{}) }()
	var got string
	var failed error
	for {
		msg, err := c.fe.Receive()
		if err != nil {
			return got, err
		}
		switch m := msg.(type) {
		case *pgproto3.DataRow:
			got = string(m.Values[0])
		case *pgproto3.ErrorResponse:
			failed = &pgconn.PgError{Code: m.Code, Message: m.Message, Severity: m.Severity}
		case *pgproto3.ReadyForQuery:
			return got, failed
		}
	}
}

func queryWire(sql string) []byte {
	wire, _ := (&pgproto3.Query{String: sql}).Encode(nil)
	return wire
}

// hammer claims every published wait of sess until stop is closed, as
// a scan running without pause would: each wait the session starts ends
// in parking as soon as it is published.
func hammer(sess *session, stop <-chan struct{}, claims *atomic.Int64) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if sess.in.park.since.Load() > 0 {
				sess.in.claim(math.MaxInt64 / 2)
				claims.Add(1)
			}
			runtime.Gosched()
		}
	}()
	return &wg
}

// A claim that meets a message arriving loses nothing and reads nothing
// twice, and framing survives a message that arrives a few bytes at a
// time: with every wait claimed the moment it is published, queries
// split at every position, and pipelined ones, are each answered once,
// in order, with their own result.
func TestClaimRacingMessagesKeepsFraming(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	srv, addr := trustServer(t, f)
	c := rawLogin(t, addr, f.db)
	sess := srv.sessionByPID(c.pid)
	stop := make(chan struct{})
	var claims atomic.Int64
	wg := hammer(sess, stop, &claims)
	defer func() { close(stop); wg.Wait() }()
	const rounds = 150
	for i := range rounds {
		want := strconv.Itoa(i)
		wire := queryWire("SELECT " + want)
		cut := 1 + i%(len(wire)-1) // every split position in turn
		if i%3 == 0 {
			// The wait is claimed before the message comes.
			pollUntil(t, "the session to park", func() bool { return srv.parkedSession(c.pid) })
		}
		if _, err := c.conn.Write(wire[:cut]); err != nil {
			t.Fatal(err)
		}
		if i%3 == 2 {
			// The session holds part of the message.
			pollUntil(t, "the session to read the first part", func() bool { return delivered(t, c, sess) })
		}
		if _, err := c.conn.Write(wire[cut:]); err != nil {
			t.Fatal(err)
		}
		got, err := c.answer()
		if err != nil || got != want {
			t.Fatalf("round %d (cut at %d): %q %v, want %q", i, cut, got, err, want)
		}
		if i%10 == 0 { // three pipelined in one write
			var three []byte
			for k := range 3 {
				three = append(three, queryWire(fmt.Sprintf("SELECT '%d-%d'", i, k))...)
			}
			if _, err := c.conn.Write(three); err != nil {
				t.Fatal(err)
			}
			for k := range 3 {
				if got, err := c.answer(); err != nil || got != fmt.Sprintf("%d-%d", i, k) {
					t.Fatalf("round %d pipelined %d: %q %v", i, k, got, err)
				}
			}
		}
	}
	if claims.Load() == 0 {
		t.Fatal("no wait was claimed: the race was not run")
	}
	srv.park.mu.Lock()
	parks := srv.park.token
	srv.park.mu.Unlock()
	if parks < rounds/3 {
		t.Fatalf("%d parks in %d rounds, a third of which wait to be claimed", parks, rounds)
	}
	t.Logf("%d claims, %d parks over %d rounds", claims.Load(), parks, rounds)
}

// A client that resets its connection right after its startup packet
// makes pgmoat's answers to the login fail after the session was made:
// the session it never ran must not stay in the parker's list (it would
// be kept, and looked at by every scan, for the life of the server).
func TestLoginCutShortLeavesNoSession(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	srv, addr := trustServer(t, f)
	const n = 40
	for range n {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		start, _ := (&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber,
			Parameters: map[string]string{"user": "alice", "database": f.db}}).Encode(nil)
		if _, err := conn.Write(start); err != nil {
			t.Fatal(err)
		}
		_ = conn.(*net.TCPConn).SetLinger(0) // close with a reset
		_ = conn.Close()
	}
	waitUntil(t, 10*time.Second, "every login to end", func() bool { return srv.Clients() == 0 })
	srv.mu.Lock()
	listed := len(srv.sessions)
	srv.mu.Unlock()
	if got := srv.park.activeCount(); got != 0 || listed != 0 {
		t.Fatalf("after %d logins cut short: %d sessions in the parker's list, %d registered", n, got, listed)
	}
}

// parkAll logs n raw clients in and waits until every one is parked.
func parkAll(t *testing.T, srv *Server, addr, db string, n int) []*rawClient {
	t.Helper()
	clients := make([]*rawClient, n)
	for i := range clients {
		clients[i] = rawLogin(t, addr, db)
	}
	waitUntil(t, 60*time.Second, fmt.Sprintf("%d clients to park", n), func() bool { return srv.park.count() == n })
	return clients
}

// expectFatal reads what a disconnected client got: the FATAL with code,
// then the end of the stream.
func (c *rawClient) expectFatal(code string) error {
	_ = c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	fatal := false
	for {
		msg, err := c.fe.Receive()
		if err != nil {
			if !fatal {
				return fmt.Errorf("stream ended (%v) before the FATAL", err)
			}
			return nil
		}
		switch m := msg.(type) {
		case *pgproto3.ErrorResponse:
			if fatal {
				return fmt.Errorf("a second error after the FATAL: %s %s", m.Code, m.Message)
			}
			if m.Severity != "FATAL" || m.Code != code {
				return fmt.Errorf("got %s %s %s, want FATAL %s", m.Severity, m.Code, m.Message, code)
			}
			fatal = true
		case *pgproto3.ReadyForQuery, *pgproto3.DataRow, *pgproto3.RowDescription, *pgproto3.CommandComplete, *pgproto3.EmptyQueryResponse:
			// the answer to a query sent before the shutdown
		default:
			return fmt.Errorf("unexpected %T", msg)
		}
	}
}

// Closing the server (no grace) with parked clients disconnects each one
// once: each gets one FATAL, and each is counted once among the shutdown
// disconnects, not once by the graceful pass and again as forced.
func TestCloseCountsParkedClientsOnce(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	srv, addr := trustServer(t, f)
	const n = 200
	clients := parkAll(t, srv, addr, f.db, n)
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	for i, c := range clients {
		if err := c.expectFatal(codeAdminShutdown); err != nil {
			t.Errorf("client %d: %v", i, err)
		}
	}
	if got := srv.shutdownDisconnects.Load(); got != n {
		t.Errorf("%d shutdown disconnects counted for %d parked clients", got, n)
	}
	if srv.Clients() != 0 || srv.park.count() != 0 || srv.park.activeCount() != 0 {
		t.Errorf("after close: %d clients, %d parked, %d listed", srv.Clients(), srv.park.count(), srv.park.activeCount())
	}
}

// The shutdown's graceful pass runs every 50 ms over the sessions still
// registered; a session it disconnected that has not ended by the next
// pass (its goroutine not yet resumed on a loaded machine) is not told
// again, nor counted again.
func TestShutdownPassDisconnectsOnce(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	srv, addr := trustServer(t, f)
	c := parkAll(t, srv, addr, f.db, 1)[0]
	sess := srv.sessionByPID(c.pid)
	sess.closeIfIdle()
	sess.closeIfIdle() // the next pass, before the session ended
	if err := c.expectFatal(codeAdminShutdown); err != nil {
		t.Fatal(err)
	}
	if got := srv.shutdownDisconnects.Load(); got != 1 {
		t.Fatalf("one client disconnected, %d shutdown disconnects counted", got)
	}
}

// A client told of the shutdown by the graceful pass whose session has
// not ended when the grace runs out (it waits for a backend the pool
// cannot lend yet) is not counted again as a forced disconnect; the
// client inside a transaction is the one forced.
func TestForcedShutdownCountsOnlyTheForced(t *testing.T) {
	f := newFixture(t, fixtureOptions{poolMax: 1, acquireTimeout: 2 * time.Second})
	srv, addr := trustServer(t, f)
	inTx, waiting := rawLogin(t, addr, f.db), rawLogin(t, addr, f.db)
	for _, q := range []string{"BEGIN", "SELECT 1"} {
		if _, err := inTx.conn.Write(queryWire(q)); err != nil {
			t.Fatal(err)
		}
		if _, err := inTx.answer(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := waiting.conn.Write(queryWire("SELECT 2")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the second client to wait for the backend", func() bool {
		return f.pool.Stats().Waiting == 1
	})
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if got := srv.shutdownDisconnects.Load(); got != 2 {
		t.Errorf("two clients disconnected, %d shutdown disconnects counted", got)
	}
}

// waitGoroutines waits until the goroutine count is back to at most
// base plus slack (timers and the runtime's own may come and go).
func waitGoroutines(t *testing.T, base, slack int, what string) {
	t.Helper()
	waitUntil(t, 20*time.Second, fmt.Sprintf("goroutines back to %d+%d after %s", base, slack, what), func() bool {
		return runtime.NumGoroutine() <= base+slack
	})
}

// KILL and hang-ups that race a session's parking end it exactly once:
// with every wait claimed as soon as it is published, each client is
// killed (or hangs up) at a moment of its own while its session parks,
// resumes and parks again; afterwards no session is registered, parked
// or listed, the client count is back, each killed client
// got one FATAL, and no goroutine is left.
func TestKillAndHangUpRacingPark(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	srv, addr := trustServer(t, f)
	base := runtime.NumGoroutine()
	const n = 40
	clients := make([]*rawClient, n)
	for i := range clients {
		clients[i] = rawLogin(t, addr, f.db)
	}
	stop := make(chan struct{})
	var claims atomic.Int64
	var hammers []*sync.WaitGroup
	for _, c := range clients {
		hammers = append(hammers, hammer(srv.sessionByPID(c.pid), stop, &claims))
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range i % 5 { // a few round trips first, parking between them
				if _, err := c.conn.Write(queryWire("-- ping")); err != nil {
					errs <- err
					return
				}
				if _, err := c.answer(); err != nil {
					errs <- fmt.Errorf("client %d ping %d: %v", i, k, err)
					return
				}
			}
			if i%2 == 0 {
				_ = c.conn.Close() // hang up
				return
			}
			if !srv.kill(c.pid) {
				errs <- fmt.Errorf("client %d: KILL found no session", i)
				return
			}
			if err := c.expectFatal(codeAdminShutdown); err != nil {
				errs <- fmt.Errorf("killed client %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	waitUntil(t, 20*time.Second, "every session to end", func() bool { return srv.Clients() == 0 })
	close(stop)
	for _, h := range hammers {
		h.Wait()
	}
	srv.mu.Lock()
	listed := len(srv.sessions)
	srv.mu.Unlock()
	if listed != 0 || srv.park.count() != 0 || srv.park.activeCount() != 0 {
		t.Fatalf("after the races: %d registered, %d parked, %d listed", listed, srv.park.count(), srv.park.activeCount())
	}
	if srv.Clients() != 0 {
		t.Fatalf("client count %d", srv.Clients())
	}
	waitGoroutines(t, base, 2, "the races")
	t.Logf("%d claims", claims.Load())
}

// A client that sends part of a message and goes quiet is not parked:
// the bytes read stay with its session (a wait is published only at a
// message boundary, so no claim can cut a message), and the message is
// answered once the rest arrives, whether the header or the body was cut.
func TestPartialMessageIsNeverParked(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	srv, addr := trustServer(t, f)
	for _, cut := range []int{1, 3, 5, 9} {
		c := rawLogin(t, addr, f.db)
		wire := queryWire("SELECT 'cut at " + strconv.Itoa(cut) + "'")
		if _, err := c.conn.Write(wire[:cut]); err != nil {
			t.Fatal(err)
		}
		until := srv.park.ticks.Load() + 4
		waitUntil(t, 10*time.Second, "four scans", func() bool { return srv.park.ticks.Load() >= until })
		if srv.parkedSession(c.pid) {
			t.Fatalf("cut at %d: a session holding part of a message was parked", cut)
		}
		if _, err := c.conn.Write(wire[cut:]); err != nil {
			t.Fatal(err)
		}
		if got, err := c.answer(); err != nil || got != "cut at "+strconv.Itoa(cut) {
			t.Fatalf("cut at %d: %q %v", cut, got, err)
		}
		waitUntil(t, 10*time.Second, "the client to park after its answer", func() bool { return srv.parkedSession(c.pid) })
	}
}

// A whole message followed by part of the next in one write: the first
// is answered, the session keeps the part (it does not park holding it)
// and answers the second once it is whole.
func TestMessageAndAPartParksNeither(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	srv, addr := trustServer(t, f)
	c := rawLogin(t, addr, f.db)
	first, second := queryWire("SELECT 'first'"), queryWire("SELECT 'second'")
	if _, err := c.conn.Write(append(append([]byte{}, first...), second[:7]...)); err != nil {
		t.Fatal(err)
	}
	if got, err := c.answer(); err != nil || got != "first" {
		t.Fatalf("first: %q %v", got, err)
	}
	until := srv.park.ticks.Load() + 4
	waitUntil(t, 10*time.Second, "four scans", func() bool { return srv.park.ticks.Load() >= until })
	if srv.parkedSession(c.pid) {
		t.Fatal("parked holding part of the second message")
	}
	if _, err := c.conn.Write(second[7:]); err != nil {
		t.Fatal(err)
	}
	if got, err := c.answer(); err != nil || got != "second" {
		t.Fatalf("second: %q %v", got, err)
	}
}

// A thousand parked clients cost no goroutine each, all wake together
// (the poller takes their events in batches), are each answered, park
// again, and leave nothing behind when they hang up.
func TestThousandParkedClientsWakeAtOnce(t *testing.T) {
	f := newFixture(t, fixtureOptions{poolMax: 8})
	srv, addr := trustServer(t, f)
	base := runtime.NumGoroutine()
	const n = 1000
	clients := parkAll(t, srv, addr, f.db, n)
	if g := runtime.NumGoroutine(); g > base+20 {
		t.Fatalf("%d goroutines with %d parked clients, %d before", g, n, base)
	}
	for round, sql := range []string{"-- ping", "SELECT 'row'"} {
		start := make(chan struct{})
		var wg sync.WaitGroup
		var failed atomic.Int64
		for i, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if _, err := c.conn.Write(queryWire(sql)); err != nil {
					failed.Add(1)
					return
				}
				got, err := c.answer()
				if want := map[int]string{0: "", 1: "row"}[round]; err != nil || got != want {
					if failed.Add(1) == 1 {
						t.Errorf("client %d round %d: %q %v", i, round, got, err)
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		if failed.Load() > 0 {
			t.Fatalf("round %d: %d of %d clients not answered right", round, failed.Load(), n)
		}
		waitUntil(t, 60*time.Second, "every client to park again", func() bool { return srv.park.count() == n })
	}
	for _, c := range clients {
		_ = c.conn.Close()
	}
	waitUntil(t, 30*time.Second, "every session to end", func() bool { return srv.Clients() == 0 })
	if srv.park.count() != 0 || srv.park.activeCount() != 0 {
		t.Fatalf("%d parked, %d listed after every client left", srv.park.count(), srv.park.activeCount())
	}
	waitGoroutines(t, base, 2, "a thousand clients left")
}

// A TLS client never parks (its reads go through crypto/tls, which may
// hold decrypted bytes the socket no longer shows); a client whose
// SSLRequest is refused goes on in plain text and parks.
func TestTLSNeverParksRefusedSSLRequestDoes(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	engine, err := policy.New(policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tlsSrv, err := NewServer(Config{Engine: engine, Pool: f.pool, TLS: selfSigned(t), Auth: AuthMD5, Users: map[string]User{
		"alice": {Password: "alice", Identity: policy.Identity{UserID: "1"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	tf := &proxyFixture{db: f.db, addr: serveOn(t, tlsSrv)}
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(tf.dsn("alice"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLSConfig = &tls.Config{InsecureSkipVerify: true}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for range 3 {
		until := tlsSrv.park.ticks.Load() + 3
		waitUntil(t, 10*time.Second, "three scans", func() bool { return tlsSrv.park.ticks.Load() >= until })
		if tlsSrv.park.count() != 0 {
			t.Fatal("a TLS client was parked")
		}
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 50 { // alice sees every other row
			t.Fatalf("TLS client: %d %v", n, err)
		}
	}

	srv, addr := trustServer(t, f)
	host, port, _ := net.SplitHostPort(addr)
	plain, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%s user=alice dbname=%s sslmode=prefer", host, port, f.db))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close(ctx)
	waitParked(t, &proxyFixture{server: srv}, plain.PgConn().PID())
	var one int
	if err := plain.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("after its refused SSLRequest and a park: %d %v", one, err)
	}
}

// A client on a Unix socket parks, is answered and, hanging up while
// parked, is noticed.
func TestUnixSocketClientParks(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	engine, err := policy.New(policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(Config{Engine: engine, Pool: f.pool, Auth: AuthTrust, Users: map[string]User{
		"alice": {Identity: policy.Identity{UserID: "1"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "pgm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	l, err := net.Listen("unix", filepath.Join(dir, ".s.PGSQL.5432"))
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=5432 user=alice dbname=%s", dir, f.db))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := conn.PgConn().Conn().(*net.UnixConn); !ok {
		t.Fatalf("not a Unix socket: %T", conn.PgConn().Conn())
	}
	pf := &proxyFixture{server: srv}
	pid := conn.PgConn().PID()
	for i := range 3 {
		waitParked(t, pf, pid)
		var n int
		if err := conn.QueryRow(ctx, "SELECT $1::int", i).Scan(&n); err != nil || n != i {
			t.Fatalf("round %d over a Unix socket: %d %v", i, n, err)
		}
	}
	waitParked(t, pf, pid)
	_ = conn.PgConn().Conn().Close()
	waitUntil(t, 10*time.Second, "the hung-up session to end", func() bool { return srv.Clients() == 0 && srv.park.count() == 0 })
}

// send encodes messages to the client's socket in one write.
func (c *rawClient) send(t *testing.T, msgs ...pgproto3.FrontendMessage) {
	t.Helper()
	var wire []byte
	for _, m := range msgs {
		var err error
		if wire, err = m.Encode(wire); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.conn.Write(wire); err != nil {
		t.Fatal(err)
	}
}

// receiveTypes reads n messages and names their types.
func (c *rawClient) receiveTypes(t *testing.T, n int) []string {
	t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	defer func() { _ = c.conn.SetReadDeadline(time.Time{}) }()
	var got []string
	for range n {
		msg, err := c.fe.Receive()
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		name := fmt.Sprintf("%T", msg)[len("*pgproto3."):]
		if e, ok := msg.(*pgproto3.ErrorResponse); ok {
			name += ":" + e.Code
		}
		got = append(got, name)
	}
	return got
}

// notParkedFor checks the client is not parked over four scans.
func notParkedFor(t *testing.T, srv *Server, pid uint32, why string) {
	t.Helper()
	until := srv.park.ticks.Load() + 4
	waitUntil(t, 10*time.Second, "four scans", func() bool { return srv.park.ticks.Load() >= until })
	if srv.parkedSession(pid) {
		t.Fatalf("parked %s", why)
	}
}

// What a session carries between messages survives its parking, and a
// session that holds a backend does not park: an extended batch left
// open (answered up to a Flush, no Sync) keeps its backend and its
// goroutine until the Sync; a batch that failed on a denial holds
// nothing, parks, and still skips to the client's Sync when it resumes;
// a client setting stays in force.
func TestSessionStateSurvivesParking(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	srv, addr := trustServer(t, f)
	c := rawLogin(t, addr, f.db)

	c.send(t, &pgproto3.Parse{Query: "SELECT 7"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Flush{})
	if got := fmt.Sprint(c.receiveTypes(t, 4)); got != "[ParseComplete BindComplete DataRow CommandComplete]" {
		t.Fatalf("open batch: %s", got)
	}
	notParkedFor(t, srv, c.pid, "holding a backend inside an unsynced batch")
	c.send(t, &pgproto3.Sync{})
	if got := fmt.Sprint(c.receiveTypes(t, 1)); got != "[ReadyForQuery]" {
		t.Fatalf("sync: %s", got)
	}
	waitParked(t, &proxyFixture{server: srv}, c.pid)

	c.send(t, &pgproto3.Parse{Query: "SELECT set_config('a.b', 'c', false)"}, &pgproto3.Flush{})
	if got := fmt.Sprint(c.receiveTypes(t, 1)); got != "[ErrorResponse:42501]" {
		t.Fatalf("denied parse: %s", got)
	}
	waitParked(t, &proxyFixture{server: srv}, c.pid)
	c.send(t, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{})
	if got := fmt.Sprint(c.receiveTypes(t, 1)); got != "[ReadyForQuery]" {
		t.Fatalf("the failed batch's rest after a park: %s, want it skipped to the Sync", got)
	}

	if _, err := c.conn.Write(queryWire("SET application_name = 'parked'")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.answer(); err != nil {
		t.Fatal(err)
	}
	waitParked(t, &proxyFixture{server: srv}, c.pid)
	if _, err := c.conn.Write(queryWire("SELECT current_setting('application_name')")); err != nil {
		t.Fatal(err)
	}
	if got, err := c.answer(); err != nil || got != "parked" {
		t.Fatalf("setting after a park: %q %v", got, err)
	}
}

// A parked client that sends a statement and hangs up in the same breath
// (its FIN behind the query) has the statement run and, when it runs
// long, cancelled by the hang-up watch: the session ends and the backend
// goes back to the pool. A cancel request naming a parked client does
// not wake or harm it.
func TestParkedClientHangsUpBehindAStatement(t *testing.T) {
	f := newFixture(t, fixtureOptions{poolMax: 1, timeout: 30 * time.Second})
	srv, addr := trustServer(t, f)
	c := parkAll(t, srv, addr, f.db, 1)[0]
	sendCancel(t, addr, srv.sessionByPID(c.pid).key)
	until := srv.park.ticks.Load() + 3
	waitUntil(t, 10*time.Second, "three scans", func() bool { return srv.park.ticks.Load() >= until })
	if !srv.parkedSession(c.pid) {
		t.Fatal("a cancel request woke a parked client")
	}
	if _, err := c.conn.Write(queryWire("SELECT 'still here'")); err != nil {
		t.Fatal(err)
	}
	if got, err := c.answer(); err != nil || got != "still here" {
		t.Fatalf("after a cancel request: %q %v", got, err)
	}
	waitParked(t, &proxyFixture{server: srv}, c.pid)

	if _, err := c.conn.Write(queryWire("SELECT count(*) FROM generate_series(1, 100000) a, generate_series(1, 100000) b")); err != nil {
		t.Fatal(err)
	}
	if err := c.conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitUntil(t, 20*time.Second, "the session to end", func() bool { return srv.Clients() == 0 })
	waitUntil(t, 10*time.Second, "the backend to be back", func() bool { return f.pool.Stats().InUse == 0 })
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("the abandoned statement ran %v", d)
	}
	got, err := c.answer()
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "57014" {
		t.Errorf("the half-closed client read %q %v, want its statement's cancellation", got, err)
	}
}

// Shutdown while parked clients wake: half of a hundred parked clients
// send a statement as the shutdown starts. Every client is told once
// (its statement's answer may come first), counted once, and the
// shutdown returns well before its deadline with nothing parked, listed
// or running.
func TestShutdownWhileParkedClientsWake(t *testing.T) {
	f := newFixture(t, fixtureOptions{poolMax: 4})
	srv, addr := trustServer(t, f)
	base := runtime.NumGoroutine()
	const n = 100
	clients := parkAll(t, srv, addr, f.db, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range clients {
		if i%2 == 1 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, _ = c.conn.Write(queryWire("SELECT 'late'"))
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	close(start)
	began := time.Now()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v after %v", err, time.Since(began))
	}
	wg.Wait()
	for i, c := range clients {
		if err := c.expectFatal(codeAdminShutdown); err != nil {
			t.Errorf("client %d: %v", i, err)
		}
	}
	if got := srv.shutdownDisconnects.Load(); got != n {
		t.Errorf("%d shutdown disconnects counted for %d clients", got, n)
	}
	if srv.Clients() != 0 || srv.park.count() != 0 || srv.park.activeCount() != 0 {
		t.Errorf("after shutdown: %d clients, %d parked, %d listed", srv.Clients(), srv.park.count(), srv.park.activeCount())
	}
	waitGoroutines(t, base, 2, "shutdown")
}

// An admin-console connection keeps its goroutine (it reads through
// pgproto3, not the session loop) and is never parked; it answers after
// any number of scans.
func TestAdminConsoleIsNeverParked(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	host, port, _ := net.SplitHostPort(f.addr)
	admin, err := pgconn.Connect(ctx, fmt.Sprintf("host=%s port=%s user=dba password=dba dbname=%s sslmode=disable", host, port, AdminDatabase))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	for range 2 {
		waitScans(t, f, 4)
		if f.server.park.count() != 0 {
			t.Fatal("an admin-console connection was parked")
		}
		if _, err := admin.Exec(ctx, "SHOW CLIENTS").ReadAll(); err != nil {
			t.Fatal(err)
		}
	}
}

// blockedWriter logs in a client that pipelines pings and never reads
// their answers, and waits until its session is blocked writing to it
// while it holds nothing (small socket buffers on both ends).
func blockedWriter(t *testing.T, srv *Server, addr, db string) (*rawClient, *session) {
	t.Helper()
	c, sess := smallBufferClient(t, srv, addr, db)
	go pingForever(c)
	waitBlockedWriting(t, c, sess)
	return c, sess
}

// smallBufferClient logs in a client whose socket receives into 4 KiB,
// and gives its session's socket a 4 KiB send buffer. The client's
// buffer is set before the connect: shrunk on an established connection
// it would be smaller than the window the client already advertised
// (sized and scaled for the default buffer, and never taken back), so
// the kernel would drop answers pgmoat sent within that window, and the
// acknowledgements they carry of the client's own pings; both ends then
// retransmit on an exponential backoff (seconds, up to two minutes)
// while the client's pings wait in its send queue and nothing reaches
// the session to answer. The session's send buffer only bounds what it
// queues, and may be set at any time.
func smallBufferClient(t *testing.T, srv *Server, addr, db string) (*rawClient, *session) {
	t.Helper()
	c := rawLoginVia(t, smallReadBufferDialer(), addr, db)
	sess := srv.sessionByPID(c.pid)
	if err := sess.conn.(*net.TCPConn).SetWriteBuffer(4 << 10); err != nil {
		t.Fatal(err)
	}
	return c, sess
}

// smallReadBufferDialer dials sockets that receive into 4 KiB from
// before their handshake, so they never advertise a window larger than
// that (smallBufferClient).
func smallReadBufferDialer() *net.Dialer {
	return &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var err error
		cerr := rc.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<10)
		})
		return errors.Join(cerr, err)
	}}
}

// The small-buffer client's socket never offers pgmoat more window than
// its buffer holds: a window clamp above the buffer (what shrinking the
// buffer after the handshake leaves) lets pgmoat's answers be dropped
// and both ends fall into retransmission backoff, with the session
// waiting for pings that never arrive instead of blocking on its writes.
func TestSmallReadBufferClientOffersNoMoreWindowThanItsBuffer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			defer c.Close()
			_, _ = c.Read(make([]byte, 1)) // until the client closes
		}
	}()
	c, err := smallReadBufferDialer().Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var clamp, buf int
	var clampErr, bufErr error
	if err := rc.Control(func(fd uintptr) {
		clamp, clampErr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_WINDOW_CLAMP)
		buf, bufErr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
	}); err != nil {
		t.Fatal(err)
	}
	if clampErr != nil || bufErr != nil {
		t.Fatal(clampErr, bufErr)
	}
	if clamp > buf {
		t.Fatalf("the client may advertise a window of %d bytes with a receive buffer of %d", clamp, buf)
	}
}

// pingForever pipelines empty queries, which the session answers itself,
// until the connection is closed at the end of the test.
func pingForever(c *rawClient) {
	ping := queryWire("-- ping")
	for {
		if _, err := c.conn.Write(ping); err != nil {
			return
		}
	}
}

// waitBlockedWriting waits until sess has been blocked writing to its
// client for a while. When it is not, the failure says where the pings
// are: unread in the session's socket, or not yet delivered by the
// client's kernel (still in its send queue).
func waitBlockedWriting(t *testing.T, c *rawClient, sess *session) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		w := sess.writeSince.Load()
		if w > 0 && time.Since(time.Unix(0, w)) > 100*time.Millisecond {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the session is not blocked writing its answers: %d bytes unread in its socket, %d bytes in the client's send queue, parked sessions %d",
				socketQueue(t, sess.conn, syscall.TIOCINQ), socketQueue(t, c.conn, syscall.TIOCOUTQ), sess.srv.park.count())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pollUntil is waitUntil for a condition that comes within a
// millisecond or so, looked at ten times as often, for loops that wait
// on it a hundred times.
func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// delivered reports whether everything c wrote has reached sess and
// been read from its socket: nothing is left in the client's send queue
// nor in the session's receive queue.
func delivered(t *testing.T, c *rawClient, sess *session) bool {
	return socketQueue(t, c.conn, syscall.TIOCOUTQ) == 0 && socketQueue(t, sess.conn, syscall.TIOCINQ) == 0
}

// socketQueue is the byte count of a TCP socket's receive queue
// (TIOCINQ) or send queue (TIOCOUTQ); -1 when it cannot be read.
func socketQueue(t *testing.T, conn net.Conn, req uintptr) int {
	rc, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		return -1
	}
	n := -1
	_ = rc.Control(func(fd uintptr) {
		var v int32
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(unsafe.Pointer(&v))); e == 0 {
			n = int(v)
		}
	})
	return n
}

// A client that pipelines pings and never reads their answers leaves its
// session blocked writing to it while it holds nothing. Shutdown stops
// the sweeper that would have closed such a connection, and its
// graceful pass tells every idle session: the notice must not wait for
// that client for ever, and the shutdown returns by its deadline.
func TestShutdownDoesNotWaitForAClientThatDoesNotRead(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	srv, addr := trustServer(t, f)
	c, _ := blockedWriter(t, srv, addr, f.db)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(ctx) }()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(15 * time.Second):
		_ = c.conn.Close() // lets the blocked write fail, so the test ends
		<-done
		t.Fatal("shutdown waited past its deadline for a client that does not read")
	}
	_ = c.conn.Close()
	waitUntil(t, 10*time.Second, "the session to end", func() bool { return srv.Clients() == 0 })
}

// KILL of a client that does not read returns at once (its notice's
// write is bounded) instead of waiting, with the admin console, for the
// sweeper to close the connection a minute later.
func TestKillDoesNotWaitForAClientThatDoesNotRead(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	srv, addr := trustServer(t, f)
	c, _ := blockedWriter(t, srv, addr, f.db)
	done := make(chan bool, 1)
	go func() { done <- srv.kill(c.pid) }()
	select {
	case found := <-done:
		if !found {
			t.Fatal("KILL found no client")
		}
	case <-time.After(15 * time.Second):
		_ = c.conn.Close()
		<-done
		t.Fatal("KILL waited for a client that does not read")
	}
	waitUntil(t, 10*time.Second, "the killed session to end", func() bool { return srv.Clients() == 0 })
}

// Sessions that parked, woken by clients that then pipeline pings and
// never read their answers, each end blocked writing to their client
// (what they write is bounded by the socket), not parked again nor
// waiting to read pings the client's kernel still holds; and they end
// when their clients go. Several clients at once, as one client's socket
// set up wrong stalls only now and then.
func TestParkedClientsThatPipelineWithoutReadingBlockTheirSessions(t *testing.T) {
	const clients = 8
	f := newFixture(t, fixtureOptions{})
	srv, addr := trustServer(t, f)
	cs := make([]*rawClient, clients)
	sessions := make([]*session, clients)
	for i := range cs {
		cs[i], sessions[i] = smallBufferClient(t, srv, addr, f.db)
	}
	waitUntil(t, 10*time.Second, "the idle sessions to park", func() bool { return srv.park.count() == clients })
	for _, c := range cs {
		go pingForever(c)
	}
	for i, c := range cs {
		waitBlockedWriting(t, c, sessions[i])
	}
	if n := srv.park.count(); n != 0 {
		t.Fatalf("%d sessions parked while every one is blocked writing", n)
	}
	for _, c := range cs {
		_ = c.conn.Close()
	}
	waitUntil(t, 10*time.Second, "the sessions to end", func() bool { return srv.Clients() == 0 })
}

package proxy

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/policy"
)

// cancelRelay stands between the pool and PostgreSQL on loopback: it
// passes connections through and holds every cancel request until the
// test lets it go, so a test can decide when the server hears a cancel.
type cancelRelay struct {
	*tcpRelay
	held chan chan struct{} // one per cancel request; close it to deliver
}

const cancelRequestCode = 80877102

func newCancelRelay(t *testing.T, port int) *cancelRelay {
	t.Helper()
	r := &cancelRelay{held: make(chan chan struct{}, 16)}
	r.tcpRelay = newTCPRelay(t, port, relayHooks{accepted: func() func(net.Conn) ([]byte, bool) { return r.hold }})
	return r
}

// hold reads the start of what pgmoat sends and, when it is a cancel
// request, the rest of it, and holds it until the test closes the
// channel it gets on held.
func (r *cancelRelay) hold(c net.Conn) ([]byte, bool) {
	var head [8]byte
	if _, err := io.ReadFull(c, head[:]); err != nil {
		return nil, false
	}
	msg := head[:]
	if binary.BigEndian.Uint32(head[:4]) == 16 && binary.BigEndian.Uint32(head[4:]) == cancelRequestCode {
		var rest [8]byte
		if _, err := io.ReadFull(c, rest[:]); err != nil {
			return nil, false
		}
		msg = append(msg, rest[:]...)
		release := make(chan struct{})
		r.held <- release
		<-release
	}
	return msg, true
}

// sessionOf returns the (only) session of user.
func (s *Server) sessionOf(t *testing.T, user string) *session {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sess := range s.sessions {
		if sess.user == user {
			return sess
		}
	}
	t.Fatalf("no session for %s", user)
	return nil
}

func sendCancel(t *testing.T, addr string, key cancelKey) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf, _ := (&pgproto3.CancelRequest{ProcessID: key.pid, SecretKey: key.secret}).Encode(nil)
	if _, err := c.Write(buf); err != nil {
		t.Fatal(err)
	}
}

// TestCancelNeverReachesTheNextBorrower: a cancel request reads the
// session's backend and then dials the server. The backend went back to
// the pool meanwhile, to another client, whose statement the late cancel
// then cancelled (invariant 6). Now a backend is not handed on until a
// cancel sent for it has reached the server, which drops a cancel that
// finds its backend idle.
func TestCancelNeverReachesTheNextBorrower(t *testing.T) {
	// Not parallel: the relay holds the cancel while the test lines up the
	// next borrower, and pgmoat waits a bounded time for a cancel to be read
	// (5 s for a session's); under the load of other tests the set-up can outlast it.
	relay := newCancelRelay(t, cluster.Port())
	f := newFixture(t, fixtureOptions{poolMax: 1, timeout: 20 * time.Second, backendPort: relay.port()})
	ctx := context.Background()
	su := superuser(t, f)

	alice := rawSession(t, f, "alice")
	alice.Send(&pgproto3.Parse{Query: "SELECT 1"})
	alice.Send(&pgproto3.Bind{})
	alice.Send(&pgproto3.Execute{})
	if err := alice.Flush(); err != nil {
		t.Fatal(err)
	}
	sess := f.server.sessionOf(t, "alice")
	waitUntil(t, 5*time.Second, "alice's Execute owed by the backend", func() bool { return sess.held.Load() != nil && sess.busy.Load() })
	sendCancel(t, f.addr, sess.key)
	var release chan struct{}
	select {
	case release = <-relay.held:
	case <-time.After(10 * time.Second):
		t.Fatal("the cancel never reached the server's address")
	}

	// Alice's batch ends; her backend is free for bob.
	alice.Send(&pgproto3.Sync{})
	if err := alice.Flush(); err != nil {
		t.Fatal(err)
	}
	until(t, alice)
	const slow = "SELECT count(*) FROM generate_series(1, 6000000)"
	bob := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	bobErr := make(chan error, 1)
	go func() { _, err := bob.Exec(ctx, slow); bobErr <- err }()
	// Deliver alice's cancel once bob's statement runs (pgmoat adds a
	// LIMIT to it), or once bob waits for the backend (it is not handed
	// on while the cancel is out).
	waitUntil(t, 10*time.Second, "bob running or waiting", func() bool {
		if f.pool.Stats().Waiting > 0 {
			return true
		}
		var n int
		err := su.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND strpos(query, $1) > 0 AND datname = current_database()", slow).Scan(&n)
		return err == nil && n > 0
	})
	close(release)
	if err := <-bobErr; err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "57014" {
			t.Fatalf("alice's cancel cancelled bob's statement: %v", err)
		}
		t.Fatal(err)
	}
}

// TestExecutorCancelNeverReachesTheNextBorrower: an Executor call whose
// context ends mid-statement sends a cancel on a goroutine of its own;
// the backend went back to the pool without waiting for it, and the late
// cancel cancelled the next borrower's statement.
func TestExecutorCancelNeverReachesTheNextBorrower(t *testing.T) {
	// Not parallel: the relay holds the cancel while the test lines up the
	// next borrower, and pgmoat waits a bounded time for a cancel to be read
	// (2 s for the Executor's); under the load of other tests the set-up can outlast it.
	relay := newCancelRelay(t, cluster.Port())
	f := newFixture(t, fixtureOptions{poolMax: 1, timeout: 20 * time.Second, backendPort: relay.port()})
	ctx := context.Background()
	su := superuser(t, f)
	running := func(sql string) func() bool {
		return func() bool {
			var n int
			err := su.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND strpos(query, $1) > 0 AND datname = current_database()", sql).Scan(&n)
			return err == nil && n > 0
		}
	}

	x := NewExecutor(f.pool, f.server.engine, "request.user_id")
	const mine = "SELECT count(*) FROM generate_series(1, 2000000)"
	xctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = x.Query(xctx, policy.Identity{UserID: "1", Profile: "readonly"}, mine)
	}()
	waitUntil(t, 10*time.Second, "the executor's statement running", running(mine))
	stop()
	var release chan struct{}
	select {
	case release = <-relay.held:
	case <-time.After(10 * time.Second):
		t.Fatal("the cancel never reached the server's address")
	}

	// The executor's statement ends of itself (the cancel is held), and
	// its call returns, or waits for the cancel to be delivered.
	waitUntil(t, 20*time.Second, "the executor's statement over", func() bool { return !running(mine)() })

	const slow = "SELECT count(*) FROM generate_series(1, 6000000)"
	bob := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	bobErr := make(chan error, 1)
	go func() { _, err := bob.Exec(ctx, slow); bobErr <- err }()
	waitUntil(t, 20*time.Second, "bob running or waiting", func() bool { return f.pool.Stats().Waiting > 0 || running(slow)() })
	close(release)
	<-done
	if err := <-bobErr; err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "57014" {
			t.Fatalf("the executor's cancel cancelled bob's statement: %v", err)
		}
		t.Fatal(err)
	}
}

package proxy

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// gateRelay passes pool connections through to PostgreSQL; once shut,
// it holds each new connection (before it reaches the server) until the
// test opens the gate again, and tells the test about each one held. A
// test can so keep a lending waiting for the backend the pool opens.
type gateRelay struct {
	*tcpRelay
	held   chan struct{} // one send per connection held at the gate
	gateMu sync.Mutex
	shut   chan struct{} // nil: open; closed to let the held ones through
}

func newGateRelay(t *testing.T, port int) *gateRelay {
	t.Helper()
	r := &gateRelay{held: make(chan struct{}, 16)}
	r.tcpRelay = newTCPRelay(t, port, relayHooks{accepted: r.accepted})
	t.Cleanup(r.open) // before the relay's own: the held ones must end
	return r
}

// close makes the relay hold every connection it accepts from now on.
func (r *gateRelay) close() {
	r.gateMu.Lock()
	defer r.gateMu.Unlock()
	if r.shut == nil {
		r.shut = make(chan struct{})
	}
}

// open lets the held connections through, and the later ones.
func (r *gateRelay) open() {
	r.gateMu.Lock()
	defer r.gateMu.Unlock()
	if r.shut != nil {
		close(r.shut)
		r.shut = nil
	}
}

// accepted holds a connection accepted while the gate is shut.
func (r *gateRelay) accepted() func(net.Conn) ([]byte, bool) {
	r.gateMu.Lock()
	gate := r.shut
	r.gateMu.Unlock()
	if gate == nil {
		return nil
	}
	return func(net.Conn) ([]byte, bool) {
		r.held <- struct{}{}
		<-gate
		return nil, true
	}
}

// A client's cancel request that arrives while its statement is being
// replayed, when the session holds no backend (the dead one handed back,
// the next one not had yet: the pool is opening it), is not lost: the
// statement is "running" from the client's view, and the cancel reaches
// the backend the replay runs it on. Without that, the replayed
// statement ran until the statement timeout.
func TestCancelWhileAReplayWaitsForABackend(t *testing.T) {
	relay := newGateRelay(t, cluster.Port())
	f := newFixture(t, fixtureOptions{poolMin: 1, poolMax: 1, timeout: 8 * time.Second, backendPort: relay.port()})
	ctx := context.Background()
	const fragment = "generate_series(1, 400000007)"
	t.Cleanup(func() { stopRunning(t, f.db, fragment) })
	conn, lost := aliceWithDeadBackend(t, f)
	relay.close()

	result := make(chan error, 1)
	go func() {
		_, err := conn.Exec(ctx, "SELECT count(*) FROM "+fragment)
		result <- err
	}()
	select {
	case <-relay.held:
	case <-time.After(10 * time.Second):
		t.Fatal("the replay never asked the pool for another backend")
	}
	sess := f.server.sessionOf(t, "alice")
	waitUntil(t, 5*time.Second, "the replay waiting with no backend held", func() bool {
		return sess.held.Load() == nil && sess.busy.Load() && f.pool.Stats().Lost == lost+1
	})
	if err := conn.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	relay.open()

	err := <-result
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "57014" || !strings.Contains(pgErr.Message, "user request") {
		t.Fatalf("the replayed statement after a cancel sent during the replay: %v, want 57014 on the client's request (not the statement timeout)", err)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 50 {
		t.Fatalf("the query after the cancel: %d, %v", n, err)
	}
}

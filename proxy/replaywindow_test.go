package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// gateRelay passes pool connections through to PostgreSQL; once shut,
// it holds each new connection (before it reaches the server) until the
// test opens the gate again, and tells the test about each one held. A
// test can so keep a lending waiting for the backend the pool opens.
type gateRelay struct {
	l      net.Listener
	target string
	held   chan struct{} // one send per connection held at the gate
	mu     sync.Mutex
	shut   chan struct{} // nil: open; closed to let the held ones through
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newGateRelay(t *testing.T, port int) *gateRelay {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &gateRelay{l: l, target: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), held: make(chan struct{}, 16)}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(func() {
		_ = l.Close()
		r.open()
		r.mu.Lock()
		for _, c := range r.conns {
			_ = c.Close()
		}
		r.mu.Unlock()
		r.wg.Wait()
	})
	return r
}

func (r *gateRelay) port() int { return r.l.Addr().(*net.TCPAddr).Port }

// close makes the relay hold every connection it accepts from now on.
func (r *gateRelay) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shut == nil {
		r.shut = make(chan struct{})
	}
}

// open lets the held connections through, and the later ones.
func (r *gateRelay) open() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shut != nil {
		close(r.shut)
		r.shut = nil
	}
}

func (r *gateRelay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.l.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.conns = append(r.conns, c)
		gate := r.shut
		r.mu.Unlock()
		r.wg.Add(1)
		go r.relay(c, gate)
	}
}

func (r *gateRelay) relay(c net.Conn, gate chan struct{}) {
	defer r.wg.Done()
	defer c.Close()
	if gate != nil {
		r.held <- struct{}{}
		<-gate
	}
	s, err := net.Dial("tcp", r.target)
	if err != nil {
		return
	}
	r.mu.Lock()
	r.conns = append(r.conns, s)
	r.mu.Unlock()
	defer s.Close()
	done := make(chan struct{})
	go func() { _, _ = io.Copy(s, c); _ = s.Close(); close(done) }()
	_, _ = io.Copy(c, s)
	_ = c.Close()
	<-done
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
	conn := f.connect(t, "alice", pgx.QueryExecModeExec)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 50 {
		t.Fatalf("first query: %d, %v", n, err)
	}
	pid := idlePID(t, f)
	lost := f.pool.Stats().Lost
	terminate(t, f, pid)
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
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 50 {
		t.Fatalf("the query after the cancel: %d, %v", n, err)
	}
}

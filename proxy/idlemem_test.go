package proxy

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// heldQueue reports whether the session whose cancel-key pid is pid
// holds a response queue or a backend.
func (s *Server) heldQueue(t *testing.T, pid uint32) (queue, backend bool) {
	t.Helper()
	s.mu.Lock()
	sess := s.sessions[pid]
	s.mu.Unlock()
	if sess == nil {
		t.Fatal("no such session")
	}
	// The session stores busy after it drops or keeps its queue and
	// before it answers its client: this load orders its last use of the
	// queue before the read below.
	_ = sess.busy.Load()
	return sess.queue != nil, sess.held.Load() != nil
}

// A session between transactions holds no response queue: the array of
// the lending's queue, and of made-up answers (a denial) while no
// backend is held, goes back to the server's pool once the client has
// its ReadyForQuery; inside a transaction it is kept.
func TestIdleSessionHoldsNoResponseQueue(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec} {
		c := f.connect(t, "alice", mode)
		pid := c.PgConn().PID()
		steps := []struct {
			sql          string
			denied, inTx bool
		}{
			{sql: "SELECT 1"},
			{sql: "SELECT pg_read_file('x')", denied: true},
			{sql: "BEGIN", inTx: true},
			{sql: "SELECT 2", inTx: true},
			{sql: "COMMIT"},
		}
		for _, st := range steps {
			_, err := c.Exec(ctx, st.sql)
			if (err != nil) != st.denied {
				t.Fatalf("%v %s: %v", mode, st.sql, err)
			}
			queue, held := f.server.heldQueue(t, pid)
			if held != st.inTx || (!st.inTx && queue) {
				t.Errorf("%v after %s: holds a queue %v, a backend %v", mode, st.sql, queue, held)
			}
		}
	}
}

// A client that logged in and sent nothing carries no statement state:
// neither the session's work (batch, statement log, hang-up watch) nor a
// prepared-statement map is allocated before its first message and first
// named Parse.
func TestLoggedInSessionCarriesNoStatementState(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	c := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	pid := c.PgConn().PID()
	state := func() (work, stmts bool) {
		f.server.mu.Lock()
		sess := f.server.sessions[pid]
		f.server.mu.Unlock()
		// The session stores busy when its last answer is drained, after
		// it handled the message and before it answered its client: this
		// load orders its writes of work and stmts before the reads below.
		_ = sess.busy.Load()
		return sess.work != nil, sess.stmts != nil
	}
	if work, stmts := state(); work || stmts {
		t.Fatalf("after login: work %v, statements %v", work, stmts)
	}
	if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	if work, stmts := state(); !work || stmts {
		t.Fatalf("after a simple query: work %v, statements %v", work, stmts)
	}
	if _, err := c.PgConn().Prepare(ctx, "named", "SELECT 2", nil); err != nil {
		t.Fatal(err)
	}
	if _, stmts := state(); !stmts {
		t.Fatal("a named Parse left no statement map")
	}
}

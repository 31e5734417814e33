package proxy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// runningCount is how many server processes run a statement whose text
// holds fragment.
func runningCount(t *testing.T, admin *pgconn.PgConn, fragment string) int {
	t.Helper()
	res := admin.ExecParams(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE state = 'active' AND pid <> pg_backend_pid() AND strpos(query, $1) > 0`,
		[][]byte{[]byte(fragment)}, nil, nil, nil).Read()
	if res.Err != nil || len(res.Rows) != 1 {
		t.Fatalf("pg_stat_activity: %v", res.Err)
	}
	n := 0
	for _, c := range res.Rows[0][0] {
		n = n*10 + int(c-'0')
	}
	return n
}

// stopRunning ends every server process running a statement holding
// fragment, so a test leaves the shared server idle.
func stopRunning(t *testing.T, db, fragment string) {
	t.Helper()
	admin, err := pgconn.Connect(context.Background(), cluster.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	admin.ExecParams(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE pid <> pg_backend_pid() AND strpos(query, $1) > 0`, [][]byte{[]byte(fragment)}, nil, nil, nil).Read()
}

// The connection of a backend that received the lending's first batch
// and runs the client's statement ends without a word (a network cut
// while the server works; a server that crashes running it looks the
// same): nothing was read, but the server has the batch and runs it. The
// batch is not sent to another backend, which would run the statement a
// second time next to the first (and a statement that crashed its
// server would crash the next); the client gets 08006.
func TestBackendCutWhileRunningIsNotReplayed(t *testing.T) {
	relay := newTCPRelay(t, cluster.Port(), relayHooks{})
	f := newFixture(t, fixtureOptions{poolMin: 1, poolMax: 2, timeout: 30 * time.Second, backendPort: relay.port()})
	const slow = "SELECT count(*) FROM generate_series(1, 400000001)"
	t.Cleanup(func() { stopRunning(t, f.db, "generate_series(1, 400000001)") })
	fe := rawSession(t, f, "alice")
	fe.Send(&pgproto3.Query{String: slow})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	waitRunning(t, f.db, "generate_series(1, 400000001)")
	relay.cut()
	expectLostNotReplayed(t, f, fe, "generate_series(1, 400000001)")
}

// cutSaying ends every relayed connection as a pooler does when its
// server connection died under a client: it sends pgmoat's side msg (a
// FATAL of its own) first.
func (r *tcpRelay) cutSaying(t *testing.T, msg pgproto3.BackendMessage) {
	t.Helper()
	wire, err := msg.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	for _, c := range r.front {
		_, _ = c.Write(wire)
	}
	r.mu.Unlock()
	r.cut()
}

// A pooler between pgmoat and the server reports its server
// connection's death with a FATAL of its own as the first message
// (PgBouncer: "server conn crashed?", 08P01), while the server may have
// run the batch: it is not the server's goodbye, and the batch is not
// sent again.
func TestPoolersFatalWhileRunningIsNotReplayed(t *testing.T) {
	relay := newTCPRelay(t, cluster.Port(), relayHooks{})
	f := newFixture(t, fixtureOptions{poolMin: 1, poolMax: 2, timeout: 30 * time.Second, backendPort: relay.port()})
	const fragment = "generate_series(1, 400000002)"
	t.Cleanup(func() { stopRunning(t, f.db, fragment) })
	fe := rawSession(t, f, "alice")
	fe.Send(&pgproto3.Query{String: "SELECT count(*) FROM " + fragment})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	waitRunning(t, f.db, fragment)
	relay.cutSaying(t, &pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "08P01", Message: "server conn crashed?"})
	expectLostNotReplayed(t, f, fe, fragment)
}

// expectLostNotReplayed reads what the client is told after its
// backend's connection ended while the statement holding fragment ran:
// FATAL 08006 last, no answer of the statement, and never the statement
// running on a second backend.
func expectLostNotReplayed(t *testing.T, f *proxyFixture, fe *pgproto3.Frontend, fragment string) {
	t.Helper()
	got := make(chan pgproto3.BackendMessage, 16)
	go func() {
		defer close(got)
		for {
			msg, err := fe.Receive()
			if err != nil {
				return
			}
			switch m := msg.(type) {
			case *pgproto3.ErrorResponse:
				c := *m
				got <- &c
			case *pgproto3.DataRow, *pgproto3.CommandComplete, *pgproto3.ReadyForQuery:
				got <- m
			}
		}
	}()
	admin, err := pgconn.Connect(context.Background(), cluster.DSN(f.db))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var codes []string
	deadline := time.Now().Add(15 * time.Second)
	for done := false; !done; {
		select {
		case m, ok := <-got:
			if !ok {
				done = true
				break
			}
			if e, isErr := m.(*pgproto3.ErrorResponse); isErr {
				codes = append(codes, e.Code)
				continue
			}
			t.Fatalf("the statement was answered (%T) after its backend's connection ended: replayed", m)
		case <-time.After(50 * time.Millisecond):
			if n := runningCount(t, admin, fragment); n > 1 {
				t.Fatalf("the statement runs on %d backends: the batch was sent again", n)
			}
			if time.Now().After(deadline) {
				t.Fatalf("the client was told nothing but %v", codes)
			}
		}
	}
	if len(codes) == 0 || codes[len(codes)-1] != codeConnFailure {
		t.Fatalf("errors %v, want the last one 08006", codes)
	}
}

// A lending's first batch over replayCap is not kept: when its backend
// turns out to have been ended while idle (the server's FATAL is the
// first thing read), the client is told the connection was lost, FATAL
// 08006, at once, rather than left waiting for an answer that never
// comes.
func TestBackendKilledIdleUnderABigFirstBatchIsLost(t *testing.T) {
	f := newFixture(t, fixtureOptions{poolMin: 1, poolMax: 1})
	fe := rawSession(t, f, "alice")
	fe.Send(&pgproto3.Query{String: "SELECT count(*) FROM items"})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	until(t, fe)
	terminate(t, f, idlePID(t, f))
	big := "SELECT count(*) FROM items WHERE label <> '" + strings.Repeat("x", replayCap+1) + "'"
	fe.Send(&pgproto3.Query{String: big})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	var codes []string
	for {
		msg, err := fe.Receive()
		if err != nil {
			break // closed after the FATAL, or the test's deadline: a client left waiting
		}
		switch m := msg.(type) {
		case *pgproto3.ErrorResponse:
			codes = append(codes, m.Code)
		case *pgproto3.ReadyForQuery:
			t.Fatalf("ReadyForQuery after errors %v", codes)
		}
	}
	if len(codes) == 0 || codes[len(codes)-1] != codeConnFailure {
		t.Fatalf("errors %v, want the last one 08006", codes)
	}
}

// A first batch larger than the backend's write buffer, but kept, whose
// backend the server ended while it sat idle: the write that overflows
// the buffer fails (the server reset the connection), and the replay
// sends the whole batch, the message whose write failed included, so the
// client's statement is answered on the next backend.
func TestBackendKilledIdleUnderALongFirstBatchIsReplayedWhole(t *testing.T) {
	f := newFixture(t, fixtureOptions{poolMin: 1, poolMax: 1})
	fe := rawSession(t, f, "alice")
	fe.Send(&pgproto3.Query{String: "SELECT count(*) FROM items"})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	until(t, fe)
	terminate(t, f, idlePID(t, f))
	long := "SELECT count(*) FROM items WHERE label <> '" + strings.Repeat("x", 40<<10) + "'"
	fe.Send(&pgproto3.Query{String: long})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	var rows []string
	for {
		msg, err := fe.Receive()
		if err != nil {
			t.Fatalf("after rows %v: %v", rows, err)
		}
		switch m := msg.(type) {
		case *pgproto3.ErrorResponse:
			t.Fatalf("error %s: %s", m.Code, m.Message)
		case *pgproto3.DataRow:
			rows = append(rows, string(m.Values[0]))
		}
		if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
			break
		}
	}
	if len(rows) != 1 || rows[0] != "50" {
		t.Fatalf("rows %v, want [50]", rows)
	}
}

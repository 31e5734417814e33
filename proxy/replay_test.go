package proxy

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// idlePID is the pid of the pool's only idle backend.
func idlePID(t *testing.T, f *proxyFixture) uint32 {
	t.Helper()
	waitUntil(t, 5*time.Second, "one idle backend", func() bool { return f.pool.Stats().Idle == 1 })
	f.pool.mu.Lock()
	defer f.pool.mu.Unlock()
	return f.pool.idle[0].pid
}

// terminate ends a server process and waits until the server has let it
// go.
func terminate(t *testing.T, f *proxyFixture, pid uint32) {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, cluster.DSN(f.db))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend($1)", int(pid)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "the terminated backend to exit", func() bool {
		var n int
		err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", int(pid)).Scan(&n)
		return err == nil && n == 0
	})
}

// aliceWithDeadBackend connects alice and runs her first query (her 50
// rows) so that her backend sits idle in the pool, then terminates that
// backend: her next statement finds it dead. It returns her connection
// and the pool's count of lost backends from before.
func aliceWithDeadBackend(t *testing.T, f *proxyFixture) (*pgx.Conn, uint64) {
	t.Helper()
	conn := f.connect(t, "alice", pgx.QueryExecModeExec)
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM items").Scan(&n); err != nil || n != 50 {
		t.Fatalf("first query: %d, %v", n, err)
	}
	pid := idlePID(t, f)
	lost := f.pool.Stats().Lost
	terminate(t, f, pid)
	return conn, lost
}

// A backend the server ended while it sat idle in the pool (its FATAL
// unread in the socket) is lent without a liveness peek; the lending's
// first read finds it dead before it answered anything, and the batch
// goes to a fresh backend: the client's statement succeeds, in every
// query mode, named statements the first backend had prepared included.
func TestBackendKilledIdleInThePoolIsReplaced(t *testing.T) {
	f := newFixture(t, fixtureOptions{poolMin: 1, poolMax: 1})
	ctx := context.Background()
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			conn := f.connect(t, "alice", mode)
			count := func() (int, error) {
				var n int
				err := conn.QueryRow(ctx, "SELECT count(*) FROM items WHERE id > $1", 0).Scan(&n)
				return n, err
			}
			if n, err := count(); err != nil || n != 50 {
				t.Fatalf("first query: %d, %v", n, err)
			}
			pid := idlePID(t, f)
			lost := f.pool.Stats().Lost
			terminate(t, f, pid)
			if n, err := count(); err != nil || n != 50 {
				t.Fatalf("the query after its backend died idle: %d, %v", n, err)
			}
			if st := f.pool.Stats(); st.Lost != lost+1 {
				t.Fatalf("lost %d, want %d", st.Lost, lost+1)
			}
			if now := idlePID(t, f); now == pid {
				t.Fatal("the dead backend is back in the pool")
			}
			if n, err := count(); err != nil || n != 50 {
				t.Fatalf("the query after the replay: %d, %v", n, err)
			}
		})
	}
}

// A pooled backend whose connection ended without a word (end of stream
// at the lending's first read, nothing read) is replaced the same way.
func TestBackendCutIdleInThePoolIsReplaced(t *testing.T) {
	relay := newTCPRelay(t, cluster.Port(), relayHooks{})
	f := newFixture(t, fixtureOptions{poolMin: 1, poolMax: 1, backendPort: relay.port()})
	ctx := context.Background()
	conn := f.connect(t, "alice", pgx.QueryExecModeExec)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 50 {
		t.Fatalf("first query: %d, %v", n, err)
	}
	pid := idlePID(t, f)
	relay.cut()
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 50 {
		t.Fatalf("the query after its backend's connection ended: %d, %v", n, err)
	}
	if now := idlePID(t, f); now == pid {
		t.Fatal("the dead backend is back in the pool")
	}
	if st := f.pool.Stats(); st.Lost != 1 {
		t.Fatalf("lost %d, want 1", st.Lost)
	}
}

// A backend that dies after it answered part of the lending's first
// batch (the per-transaction settings, here while the client's statement
// runs) is not replayed: the statement may have run, and the client gets
// FATAL 08006.
func TestBackendDyingAfterItAnsweredIsNotReplayed(t *testing.T) {
	f := newFixture(t, fixtureOptions{poolMin: 1, poolMax: 2, timeout: 30 * time.Second})
	fe := rawSession(t, f, "alice")
	const slow = "SELECT count(*) FROM generate_series(1, 400000000)"
	fe.Send(&pgproto3.Query{String: slow})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	waitRunning(t, f.db, "generate_series(1, 400000000)")
	f.pool.mu.Lock()
	var pid uint32
	for b := range f.pool.lent {
		pid = b.pid
	}
	f.pool.mu.Unlock()
	terminate(t, f, pid)
	var codes []string
	for {
		msg, err := fe.Receive()
		if err != nil {
			break // the connection is closed after the FATAL
		}
		switch m := msg.(type) {
		case *pgproto3.ErrorResponse:
			codes = append(codes, m.Code)
		case *pgproto3.DataRow, *pgproto3.CommandComplete, *pgproto3.ReadyForQuery:
			t.Fatalf("the statement was answered (%T) after its backend died: replayed", m)
		}
	}
	if len(codes) == 0 || codes[len(codes)-1] != codeConnFailure {
		t.Fatalf("errors %v, want the last one 08006", codes)
	}
	ctx := context.Background()
	admin, err := pgconn.Connect(ctx, cluster.DSN(f.db))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	res := admin.ExecParams(ctx, "SELECT count(*) FROM pg_stat_activity WHERE query = $1", [][]byte{[]byte(slow)}, nil, nil, nil).Read()
	if res.Err != nil || len(res.Rows) != 1 || string(res.Rows[0][0]) != "0" {
		t.Fatalf("the statement runs again on another backend: %v %v", res.Rows, res.Err)
	}
}

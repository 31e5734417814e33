package proxy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// A client's cancel request for a statement whose batch was replayed
// reaches the backend the statement now runs on (the dead one is gone
// from the session), and the client's connection serves on; the identity
// is the client's on the new backend (row-level security shows alice
// her 50 rows of the 100).
func TestCancelAfterAReplayReachesTheNewBackend(t *testing.T) {
	f := newFixture(t, fixtureOptions{poolMin: 1, poolMax: 1, timeout: 30 * time.Second})
	ctx := context.Background()
	const fragment = "generate_series(1, 400000003)"
	t.Cleanup(func() { stopRunning(t, f.db, fragment) })
	conn, lost := aliceWithDeadBackend(t, f)
	cancelled := make(chan error, 1)
	go func() {
		waitRunning(t, f.db, fragment)
		cancelled <- conn.PgConn().CancelRequest(ctx)
	}()
	_, err := conn.Exec(ctx, "SELECT count(*) FROM "+fragment)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "57014" || !strings.Contains(pgErr.Message, "user request") {
		t.Fatalf("the replayed statement after the cancel: %v, want 57014 on the client's request (not the statement timeout)", err)
	}
	if err := <-cancelled; err != nil {
		t.Fatal(err)
	}
	if st := f.pool.Stats(); st.Lost != lost+1 {
		t.Fatalf("lost %d, want %d: the batch was not replayed", st.Lost, lost+1)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 50 {
		t.Fatalf("the query after the cancel: %d, %v", n, err)
	}
}

// A client that sends its statement and hangs up at once, while its
// backend turns out dead and the batch is replayed: the replayed lending
// is rolled back and its backend goes back to the pool, nothing held.
func TestClientGoneDuringAReplayLeavesNothingHeld(t *testing.T) {
	f := newFixture(t, fixtureOptions{poolMin: 1, poolMax: 1})
	fe := rawSession(t, f, "alice")
	fe.Send(&pgproto3.Query{String: "SELECT count(*) FROM items"})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	until(t, fe)
	pid := idlePID(t, f)
	lost := f.pool.Stats().Lost
	terminate(t, f, pid)
	fe.Send(&pgproto3.Query{String: "SELECT count(*) FROM items"})
	fe.Send(&pgproto3.Terminate{})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the replayed backend back in the pool", func() bool {
		st := f.pool.Stats()
		return st.Lost == lost+1 && st.Idle == 1
	})
	if now := idlePID(t, f); now == pid {
		t.Fatal("the dead backend is back in the pool")
	}
	conn := f.connect(t, "bob", pgx.QueryExecModeExec)
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM items WHERE owner = 1").Scan(&n); err != nil || n != 0 {
		t.Fatalf("bob after alice's replayed lending: %d rows of alice's, %v", n, err)
	}
}

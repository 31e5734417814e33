package proxy

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
)

// A KILL of a client that stopped reading its results (its session
// blocked writing to it, with a backend held) returns at once and frees
// the backend: the KILL leaves its FATAL for the session goroutine, the
// one writer of the client's output, instead of waiting to write it, and
// the connection is closed when the session cannot say it in time.
func TestKillOfAClientThatStoppedReading(t *testing.T) {
	f := newFixture(t, fixtureOptions{poolMax: 1, idleTxTimeout: time.Minute})
	fe := rawSession(t, f, "alice")
	fe.Send(&pgproto3.Query{String: "SELECT repeat('x', 100000) FROM generate_series(1, 1000)"})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	sess := f.server.sessionOf(t, "alice")
	waitUntil(t, 10*time.Second, "the session to block writing to its client", func() bool {
		w := sess.writeSince.Load()
		return w > 0 && time.Since(time.Unix(0, w)) > 200*time.Millisecond
	})
	killed := make(chan bool, 1)
	go func() { killed <- f.server.kill(sess.key.pid) }()
	select {
	case ok := <-killed:
		if !ok {
			t.Fatal("KILL found no such client")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("KILL of a client that stopped reading did not return")
	}
	bob := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var n int
	if err := bob.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil {
		t.Fatalf("the pool's one backend stayed with the killed client: %v", err)
	}
}

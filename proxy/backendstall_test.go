package proxy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
)

// TestPipelineThatFillsTheBackendLosesIt: a client pipelines a statement
// with a large result and then megabytes of further messages, with no
// Sync or Flush. The server blocks writing the result nobody reads, stops
// reading, and pgmoat's write of the next messages blocked for ever: the
// backend and the session were gone for good, even after the client hung
// up (a few such connections take the pool). Past the idle-transaction
// timeout the write now fails, the backend is discarded and replaced,
// and others are served.
func TestPipelineThatFillsTheBackendLosesIt(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1, idleTxTimeout: time.Second})
	hj := hijacked(t, f.dsn("alice"))
	fe := hj.Frontend
	fe.Send(&pgproto3.Parse{Query: "SELECT repeat('x', 100000) FROM generate_series(1, 1000)"})
	fe.Send(&pgproto3.Bind{})
	fe.Send(&pgproto3.Execute{})
	big := "SELECT length('" + strings.Repeat("x", 900<<10) + "') LIMIT 1" // under the policy's 1 MiB cap, not rewritten
	for range 40 {
		fe.Send(&pgproto3.Parse{Query: big})
	}
	// pgmoat stops reading once its writes to the server block; the
	// client gives up writing after a while and hangs up.
	_ = hj.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_ = fe.Flush()
	_ = hj.Conn.Close()

	bob := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var n int
		err := bob.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pool's one backend never came back from the stalled pipeline: %v", err)
		}
	}
	if lost := f.pool.Stats().Lost; lost != 0 {
		t.Fatalf("a stalled write counted as %d lost backends (which ends the pool's epoch)", lost)
	}
}

package proxy

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// TestClientHangingUpCancelsItsStatement: a client that goes away while
// its long statement runs gets the statement cancelled, and the backend
// comes back to the pool for the next client, long before the statement
// would have ended on its own.
func TestClientHangingUpCancelsItsStatement(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1, timeout: 5 * time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pc, err := pgconn.Connect(ctx, f.dsn("alice"))
	if err != nil {
		t.Fatal(err)
	}
	hc, err := pc.Hijack()
	if err != nil {
		t.Fatal(err)
	}
	// Minutes of work if nobody stops it.
	hc.Frontend.Send(&pgproto3.Query{String: "SELECT count(*) FROM generate_series(1, 5000000000)"})
	if err := hc.Frontend.Flush(); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, cluster.DSN(f.db))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	active := func() int {
		var n int
		if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'proxy_reader' AND state = 'active' AND query LIKE '%generate_series%' AND datname = current_database()").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitUntil(t, 30*time.Second, "the statement to start", func() bool { return active() > 0 })
	_ = hc.Conn.Close() // the client hangs up mid-statement

	// The one backend serves the next client once the statement is gone.
	next := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	var one int
	if err := next.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("next client: %v", err)
	}
	if n := active(); n != 0 {
		t.Fatalf("%d abandoned statements still running", n)
	}
}

package proxy

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// rawSession logs in as user and hands back the raw protocol stream.
func rawSession(t *testing.T, f *proxyFixture, user string) *pgproto3.Frontend {
	t.Helper()
	hj := hijacked(t, f.dsn(user))
	t.Cleanup(func() { _ = hj.Conn.Close() })
	_ = hj.Conn.SetDeadline(time.Now().Add(20 * time.Second))
	return hj.Frontend
}

// hijacked connects to dsn and takes the connection over: from here on
// the test speaks the protocol itself. The caller closes it.
func hijacked(t *testing.T, dsn string) *pgconn.HijackedConn {
	t.Helper()
	pc, err := pgconn.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	hj, err := pc.Hijack()
	if err != nil {
		t.Fatal(err)
	}
	return hj
}

// until reads messages up to ReadyForQuery and returns their types.
func until(t *testing.T, fe *pgproto3.Frontend) []byte {
	t.Helper()
	var seen []byte
	for {
		msg, err := fe.Receive()
		if err != nil {
			t.Fatalf("after %q: %v", seen, err)
		}
		enc, _ := msg.Encode(nil)
		seen = append(seen, enc[0])
		if enc[0] == 'Z' {
			return seen
		}
	}
}

// TestQueryInAFailedBatchIsIgnoredUntilSync: after an error in an
// extended batch PostgreSQL ignores every message but Sync, a simple
// Query included. The session did not, waited for the ignored Query's
// answer for ever and kept its backend (a user could take the pool with
// a few such connections). Now it ignores the Query as the server does,
// answers the Sync and serves on.
func TestQueryInAFailedBatchIsIgnoredUntilSync(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 2})
	for name, flushFirst := range map[string]bool{"error read before the Query": true, "error and Query in one write": false} {
		t.Run(name, func(t *testing.T) {
			fe := rawSession(t, f, "alice")
			fe.Send(&pgproto3.Parse{Query: "SELECT 1/0"})
			fe.Send(&pgproto3.Bind{})
			fe.Send(&pgproto3.Describe{ObjectType: 'P'})
			fe.Send(&pgproto3.Execute{})
			if flushFirst {
				fe.Send(&pgproto3.Flush{})
				if err := fe.Flush(); err != nil {
					t.Fatal(err)
				}
				for {
					msg, err := fe.Receive()
					if err != nil {
						t.Fatal(err)
					}
					if e, ok := msg.(*pgproto3.ErrorResponse); ok {
						if e.Code != "22012" {
							t.Fatalf("error %s %s, want 22012", e.Code, e.Message)
						}
						break
					}
				}
			}
			fe.Send(&pgproto3.Query{String: "SELECT 2"})
			fe.Send(&pgproto3.Sync{})
			if err := fe.Flush(); err != nil {
				t.Fatal(err)
			}
			got := until(t, fe)
			for _, typ := range got {
				if typ == 'D' {
					t.Fatalf("the Query sent in the failed batch was answered: %q", got)
				}
			}
			fe.Send(&pgproto3.Query{String: "SELECT 3"})
			if err := fe.Flush(); err != nil {
				t.Fatal(err)
			}
			if got := until(t, fe); string(got) != "TDCZ" {
				t.Fatalf("the next Query got %q, want a row and ReadyForQuery", got)
			}
		})
	}
	// Both backends came back: the pool serves two more clients at once.
	waitUntil(t, 5*time.Second, "both backends idle", func() bool { return f.pool.Stats().Idle == 2 })
}

// TestRefusedParseFreesItsName: a named Parse the server refuses (an
// unknown column) creates no statement, so the driver may prepare the
// name again, as PostgreSQL allows.
func TestRefusedParseFreesItsName(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	fe := rawSession(t, f, "alice")
	fe.Send(&pgproto3.Parse{Name: "s1", Query: "SELECT nosuchcolumn FROM items"})
	fe.Send(&pgproto3.Sync{})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := until(t, fe); string(got) != "EZ" {
		t.Fatalf("first Parse: %q, want an error and ReadyForQuery", got)
	}
	fe.Send(&pgproto3.Parse{Name: "s1", Query: "SELECT 1"})
	fe.Send(&pgproto3.Bind{PreparedStatement: "s1"})
	fe.Send(&pgproto3.Execute{})
	fe.Send(&pgproto3.Sync{})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := until(t, fe); string(got) != "12DCZ" {
		t.Fatalf("the name reused: %q, want ParseComplete, BindComplete, a row, CommandComplete, ReadyForQuery", got)
	}
}

// TestClientThatStopsReadingLosesItsBackend: a client that sends a large
// query and never reads the result kept its backend blocked on a full
// socket for ever. Past the idle-transaction timeout it is disconnected
// and the backend comes back.
func TestClientThatStopsReadingLosesItsBackend(t *testing.T) {
	t.Parallel()
	// Bob waits for the backend longer than the default 2 s: the cut-off
	// comes a second after the client stops reading, and cleaning the
	// backend takes what it takes beside the other tests.
	f := newFixture(t, fixtureOptions{poolMax: 1, idleTxTimeout: time.Second, acquireTimeout: 10 * time.Second})
	fe := rawSession(t, f, "alice")
	fe.Send(&pgproto3.Query{String: "SELECT repeat('x', 100000) FROM generate_series(1, 1000)"})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	// Never read. Another client is served once the stalled one is cut off.
	other := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var n int
	if err := other.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil {
		t.Fatalf("the pool's one backend stayed with the client that stopped reading: %v", err)
	}
}

// TestDriverPingIsAnswered: drivers ping with a Query that holds only a
// comment (pgx: "-- ping"); PostgreSQL answers EmptyQueryResponse, and
// pgmoat refused it, so pgx's Ping and pool health checks failed.
func TestDriverPingIsAnswered(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	conn := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	ctx := context.Background()
	if err := conn.Ping(ctx); err != nil {
		t.Fatalf("pgx Ping: %v", err)
	}
	fe := rawSession(t, f, "alice")
	for _, q := range []string{"", "   ", "-- ping", "/* nothing */ ;"} {
		fe.Send(&pgproto3.Query{String: q})
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		if got := until(t, fe); string(got) != "IZ" {
			t.Errorf("%q: %q, want EmptyQueryResponse and ReadyForQuery", q, got)
		}
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil {
		t.Fatal(err)
	}
}

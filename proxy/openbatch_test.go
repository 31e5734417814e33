package proxy

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
)

// A simple Query that pgmoat answers itself (an empty query, a client
// SET) after an extended batch the client has not synced yet gets the
// answers PostgreSQL gives: the batch's, then the Query's, then one
// ReadyForQuery. The session used to wait for the batch's answers from a
// backend that, never sent a Sync or the Query, had no reason to send
// them: the client and the backend waited until the idle-transaction
// timeout.
func TestLocalQueryAfterAnUnsyncedBatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	ctx := context.Background()
	unsynced := func(q string) []pgproto3.FrontendMessage {
		return []pgproto3.FrontendMessage{&pgproto3.Parse{Query: "SELECT 1"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Query{String: q}}
	}
	batches := [][]pgproto3.FrontendMessage{
		unsynced("-- ping"),
		unsynced("SET application_name = 'b1'"),
		{&pgproto3.Parse{Query: "SET application_name = 'b2'"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Query{String: "SET extra_float_digits = 2"}},
		{&pgproto3.Query{String: "SHOW application_name"}},
		{&pgproto3.Query{String: "SHOW extra_float_digits"}},
	}
	db := pgcluster.NewDatabase(t, cluster)
	transcriptsMatch(t, cluster.DSN(db)+" application_name=b0", f.dsn("alice")+" application_name=b0", batches, transcriptOptions{messages: true})

	// A denied Query there is answered after the batch, and the
	// connection goes on.
	c, err := pgconn.Connect(ctx, f.dsn("alice"))
	if err != nil {
		t.Fatal(err)
	}
	got := wireTranscript(t, c, [][]pgproto3.FrontendMessage{
		unsynced("SELECT pg_read_file('/etc/passwd')"),
		{&pgproto3.Query{String: "SELECT 2"}},
	}, transcriptOptions{messages: true})
	if !strings.HasPrefix(got, "*pgproto3.ParseComplete\n*pgproto3.BindComplete\n*pgproto3.DataRow\nC SELECT 1\nE 42501 ") ||
		!strings.HasSuffix(got, "C SELECT 1\n*pgproto3.ReadyForQuery\n  I\n") {
		t.Fatalf("a denied Query after an unsynced batch:\n%s", got)
	}
}

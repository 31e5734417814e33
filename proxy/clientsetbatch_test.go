package proxy

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
	"github.com/pgmoat/pgmoat/policy"
)

// A simple Query of several statements may end a transaction block and
// go on: the statements after COMMIT or ROLLBACK run in a new implicit
// transaction, under the session's settings, which in PostgreSQL
// include the client's earlier SETs. Through pgmoat they must too, and
// what they return shows it; none of them reaches the next borrower of
// the backend.
func TestClientSetHoldsPastBlockEndInBatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	if err := f.server.engine.SetProfiles(map[string]policy.Profile{
		"readonly": {Name: "readonly", AllowMultiStatement: true},
		"patient":  {Name: "patient"},
	}); err != nil {
		t.Fatal(err)
	}
	q := func(sql string) []pgproto3.FrontendMessage {
		return []pgproto3.FrontendMessage{&pgproto3.Query{String: sql}}
	}
	const date = "SELECT '01/02/2024'::date, '2024-01-02 00:00'::timestamptz, '1 day 2 hours'::interval"
	cases := []struct {
		name    string
		batches [][]pgproto3.FrontendMessage
	}{
		{"COMMIT", [][]pgproto3.FrontendMessage{q("BEGIN; SELECT 1; COMMIT; " + date), q(date)}},
		{"ROLLBACK", [][]pgproto3.FrontendMessage{q("BEGIN; SELECT 1; ROLLBACK; " + date)}},
		{"COMMIT AND CHAIN", [][]pgproto3.FrontendMessage{q("BEGIN; SELECT 1; COMMIT AND CHAIN; " + date + "; COMMIT; " + date)}},
		{"error before COMMIT", [][]pgproto3.FrontendMessage{q("BEGIN; SELECT 1/0; COMMIT; " + date), q(date)}},
		{"END", [][]pgproto3.FrontendMessage{q("BEGIN; END; " + date)}},
	}
	db := pgcluster.NewDatabase(t, cluster)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sets := [][]pgproto3.FrontendMessage{
				q("SET DateStyle = 'SQL, DMY'"), q("SET TimeZone = 'europe/paris'"), q("SET IntervalStyle = 'sql_standard'"),
			}
			transcriptsMatch(t, cluster.DSN(db)+" application_name=b0", f.dsn("alice")+" application_name=b0",
				append(sets, c.batches...), transcriptOptions{rows: true})
		})
	}
	// A block an earlier Query opened ran with the SETs for that
	// transaction only: its end cannot keep them, so such a text is
	// refused, and the block can still be ended alone.
	ctx := context.Background()
	for _, c := range []struct{ name, open, end string }{
		{"open block", "BEGIN", "SELECT 1; COMMIT; " + date},
		{"failed block", "BEGIN; SELECT 1/0", "ROLLBACK; " + date},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
			defer conn.Close(ctx)
			_, _ = conn.Exec(ctx, "SET DateStyle = 'SQL, DMY'")
			_, _ = conn.Exec(ctx, c.open)
			if _, err := conn.Exec(ctx, c.end); !isRule(err, "settings.transaction") {
				t.Fatalf("%s in a block of an earlier Query: %v", c.end, err)
			}
			if _, err := conn.Exec(ctx, "ROLLBACK"); err != nil {
				t.Fatal(err)
			}
			var d string
			if err := conn.QueryRow(ctx, "SELECT '01/02/2024'::date::text").Scan(&d); err != nil || d != "01/02/2024" {
				t.Fatalf("after the block: %q, %v", d, err)
			}
		})
	}
	bob, err := pgx.Connect(ctx, f.dsn("bob"))
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close(ctx)
	var ds, tz, is string
	if err := bob.QueryRow(ctx, "SELECT current_setting('DateStyle'), current_setting('TimeZone'), current_setting('IntervalStyle')").Scan(&ds, &tz, &is); err != nil {
		t.Fatal(err)
	}
	if ds != "ISO, MDY" || tz == "Europe/Paris" || is != "postgres" {
		t.Fatalf("the next borrower got DateStyle %q, TimeZone %q, IntervalStyle %q", ds, tz, is)
	}
}

// An extended batch whose SETs a BEGIN after them made the block's, and
// whose ROLLBACK undid them, runs what it sends after the ROLLBACK
// under the settings from before the SETs, as PostgreSQL does; after a
// COMMIT, under the SETs.
func TestClientSetUndoneByRollbackInBatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	ext := func(sqls ...string) []pgproto3.FrontendMessage {
		var b []pgproto3.FrontendMessage
		for _, sql := range sqls {
			b = append(b, &pgproto3.Parse{Query: sql}, &pgproto3.Bind{}, &pgproto3.Execute{})
		}
		return append(b, &pgproto3.Sync{})
	}
	q := func(sql string) []pgproto3.FrontendMessage {
		return []pgproto3.FrontendMessage{&pgproto3.Query{String: sql}}
	}
	const date = "SELECT '01/02/2024'::date, '2024-01-02 00:00'::timestamptz"
	cases := []struct {
		name    string
		batches [][]pgproto3.FrontendMessage
	}{
		{"ROLLBACK", [][]pgproto3.FrontendMessage{
			ext("SET DateStyle = 'SQL, DMY'", "BEGIN", "SELECT 1", "ROLLBACK", date), q(date)}},
		{"ROLLBACK over earlier SETs", [][]pgproto3.FrontendMessage{q("SET TimeZone = 'europe/paris'"),
			ext("SET DateStyle = 'SQL, DMY'", "SET TimeZone = 'asia/tokyo'", "BEGIN", "ROLLBACK", date, "BEGIN", date, "COMMIT", date), q(date)}},
		{"COMMIT", [][]pgproto3.FrontendMessage{
			ext("SET DateStyle = 'SQL, DMY'", "BEGIN", "SELECT 1", "COMMIT", date), q(date)}},
		{"block held past the batch", [][]pgproto3.FrontendMessage{
			ext("SET DateStyle = 'SQL, DMY'", "BEGIN"), ext(date, "ROLLBACK", date), q(date)}},
	}
	db := pgcluster.NewDatabase(t, cluster)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			transcriptsMatch(t, cluster.DSN(db)+" application_name=u0", f.dsn("alice")+" application_name=u0",
				c.batches, transcriptOptions{rows: true})
		})
	}
}

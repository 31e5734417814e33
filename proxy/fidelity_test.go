package proxy

import (
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
)

// sameAsPostgreSQL sends batches to PostgreSQL directly and through f,
// each on a connection of its own, and fails when the transcripts differ.
func sameAsPostgreSQL(t *testing.T, f *proxyFixture, batches [][]pgproto3.FrontendMessage) {
	t.Helper()
	db := pgcluster.NewDatabase(t, cluster)
	transcriptsMatch(t, cluster.DSN(db), f.dsn("alice"), batches, transcriptOptions{messages: true})
}

func parseMsg(name, sql string) *pgproto3.Parse { return &pgproto3.Parse{Name: name, Query: sql} }

func bindMsg(stmt, portal string) *pgproto3.Bind {
	return &pgproto3.Bind{PreparedStatement: stmt, DestinationPortal: portal}
}

func executeMsg(portal string) *pgproto3.Execute { return &pgproto3.Execute{Portal: portal} }

func queryMsg(sql string) *pgproto3.Query { return &pgproto3.Query{String: sql} }

var syncMsg = &pgproto3.Sync{}

// A portal the client did not bind in its transaction does not exist,
// whatever pgmoat bound on the backend for itself (the per-transaction
// settings): Execute and Describe of it get 34000, as from PostgreSQL.
// A portal bound in a transaction block lives to the block's end, but
// not past a Close of it or a simple Query (which runs in the unnamed
// portal and drops the unnamed statement too).
func TestPortalsTheClientNeverBound(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	sameAsPostgreSQL(t, f, [][]pgproto3.FrontendMessage{
		{executeMsg(""), syncMsg},
		{&pgproto3.Describe{ObjectType: 'P'}, syncMsg},
		{executeMsg("p1"), syncMsg},
		{parseMsg("", "SELECT 1"), bindMsg("", ""), executeMsg(""), syncMsg},
		{executeMsg(""), syncMsg},
		{parseMsg("", "BEGIN"), bindMsg("", ""), executeMsg(""), parseMsg("", "SELECT 4"), bindMsg("", ""), executeMsg(""),
			parseMsg("", "COMMIT"), bindMsg("", ""), executeMsg(""), executeMsg(""), syncMsg},
		{queryMsg("BEGIN")},
		{parseMsg("c", "COMMIT"), bindMsg("c", ""), executeMsg(""), executeMsg(""), syncMsg},
		{queryMsg("SELECT 5")},
		{bindMsg("", ""), syncMsg},
		{parseMsg("", "SELECT 6"), syncMsg},
		{queryMsg("-- ping")},
		{bindMsg("", ""), syncMsg},
	})
}

// Inside a transaction block the client's unnamed portal outlives its
// batch, and is gone after a Close of it or a simple Query. pgmoat's own
// errors (these 34000s among them) abort the server's block as
// PostgreSQL's do: ReadyForQuery says 'E' and the block's next
// statements get 25P02.
func TestUnnamedPortalInATransactionBlock(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	sameAsPostgreSQL(t, f, [][]pgproto3.FrontendMessage{
		{queryMsg("BEGIN")},
		{parseMsg("", "SELECT 2"), bindMsg("", ""), bindMsg("", "p2"), syncMsg},
		{executeMsg(""), executeMsg("p2"), syncMsg},
		{&pgproto3.Close{ObjectType: 'P'}, executeMsg(""), syncMsg},
		{queryMsg("ROLLBACK")},
		{queryMsg("BEGIN")},
		{parseMsg("", "SELECT 6"), bindMsg("", ""), syncMsg},
		{queryMsg("SELECT 7")},
		{&pgproto3.Describe{ObjectType: 'P'}, syncMsg},
		{queryMsg("SELECT 8")},
		{queryMsg("ROLLBACK")},
	})
}

// After the client closes its unnamed statement, a Bind or Describe of
// it gets 26000, as from PostgreSQL, in that batch and in later ones; so
// after a Parse of it that failed.
func TestClosedUnnamedStatement(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	sameAsPostgreSQL(t, f, [][]pgproto3.FrontendMessage{
		{parseMsg("", "SELECT 1"), syncMsg},
		{&pgproto3.Close{ObjectType: 'S'}, syncMsg},
		{bindMsg("", ""), executeMsg(""), syncMsg},
		{&pgproto3.Describe{ObjectType: 'S'}, syncMsg},
		{parseMsg("", "SELECT 2"), &pgproto3.Close{ObjectType: 'S'}, bindMsg("", ""), syncMsg},
		{parseMsg("", "SELECT 3"), syncMsg},
		{parseMsg("", "SELECT * FROM no_such_table"), syncMsg},
		{bindMsg("", ""), executeMsg(""), syncMsg},
	})
}

// What PostgreSQL skips after an error in a batch, up to its Sync, is
// skipped through pgmoat too: statements parsed there, named or unnamed,
// whether the backend had them or not, do not exist afterwards, and
// those closed there still do.
func TestStatementsOfASkippedBatchTail(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	sameAsPostgreSQL(t, f, [][]pgproto3.FrontendMessage{
		{parseMsg("s1", "SELECT 1/0"), bindMsg("s1", ""), executeMsg(""), parseMsg("s2", "SELECT 1/0"), syncMsg},
		{bindMsg("s2", ""), executeMsg(""), syncMsg},
		{parseMsg("s3", "SELECT 3"), syncMsg},
		{parseMsg("", "SELECT 1/0"), bindMsg("", ""), executeMsg(""), parseMsg("s4", "SELECT 3"), &pgproto3.Close{ObjectType: 'S', Name: "s3"},
			parseMsg("", "SELECT 4"), syncMsg},
		{bindMsg("s3", ""), executeMsg(""), syncMsg},
		{bindMsg("s4", ""), executeMsg(""), syncMsg},
		{bindMsg("", ""), executeMsg(""), syncMsg},
		{parseMsg("bad", "SELECT * FROM no_such_table"), parseMsg("s5", "SELECT 5"), syncMsg},
		{parseMsg("s5", "SELECT 5"), bindMsg("s5", ""), executeMsg(""), syncMsg},
		{parseMsg("t1", "SELECT * FROM no_such_table"), parseMsg("t2", "SELECT * FROM no_such_table"), syncMsg},
		{parseMsg("t2", "SELECT 6"), bindMsg("t2", ""), executeMsg(""), syncMsg},
		{parseMsg("u1", "SELECT 7"), bindMsg("u1", ""), executeMsg(""), syncMsg},
		{parseMsg("u2", "SELECT 7"), bindMsg("u2", ""), executeMsg(""), parseMsg("", "SELECT 1/0"), bindMsg("", ""), executeMsg(""),
			parseMsg("u3", "SELECT 7"), &pgproto3.Close{ObjectType: 'S', Name: "u1"}, &pgproto3.Close{ObjectType: 'S', Name: "u2"},
			parseMsg("u2", "SELECT 8"), &pgproto3.Close{ObjectType: 'S'}, syncMsg},
		{bindMsg("u1", ""), executeMsg(""), syncMsg},
		{bindMsg("u2", ""), executeMsg(""), syncMsg},
		{bindMsg("u3", ""), executeMsg(""), syncMsg},
		{bindMsg("", ""), executeMsg(""), syncMsg},
	})
}

// DEALLOCATE is answered as PostgreSQL answers it, for the client's own
// statements: by name (DEALLOCATE PREPARE too), ALL, an unknown name
// (26000), inside a transaction block and in a failed one (25P02); the
// statement is gone for a Bind and its name free for a Parse.
func TestDeallocateMatchesPostgreSQL(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	sameAsPostgreSQL(t, f, [][]pgproto3.FrontendMessage{
		{parseMsg("a1", "SELECT 1"), parseMsg("a2", "SELECT 2"), parseMsg("a3", "SELECT 3"), parseMsg("", "SELECT 4"), syncMsg},
		{queryMsg("DEALLOCATE a1")},
		{bindMsg("a1", ""), executeMsg(""), syncMsg},
		{queryMsg("DEALLOCATE a1")},
		{queryMsg("deallocate prepare a2")},
		{parseMsg("a2", "SELECT 22"), bindMsg("a2", ""), executeMsg(""), syncMsg},
		{queryMsg("BEGIN")},
		{queryMsg("DEALLOCATE a2")},
		{queryMsg("ROLLBACK")},
		{bindMsg("a2", ""), executeMsg(""), syncMsg},
		{queryMsg("BEGIN")},
		{queryMsg("SELECT 1/0")},
		{queryMsg("DEALLOCATE a3")},
		{queryMsg("ROLLBACK")},
		{bindMsg("a3", ""), executeMsg(""), syncMsg},
		{parseMsg("b1", "SELECT 5"), syncMsg},
		{queryMsg("deallocate all")},
		{bindMsg("a3", ""), executeMsg(""), syncMsg},
		{bindMsg("b1", ""), executeMsg(""), syncMsg},
		{queryMsg("DEALLOCATE ALL")},
		{parseMsg("a1", "SELECT 6"), bindMsg("a1", ""), executeMsg(""), syncMsg},
		// In the extended protocol, as pgx's and JDBC's Exec send it.
		{parseMsg("", "DEALLOCATE a1"), bindMsg("", ""), &pgproto3.Describe{ObjectType: 'P'}, executeMsg(""), syncMsg},
		{bindMsg("a1", ""), executeMsg(""), syncMsg},
		{parseMsg("", "DEALLOCATE a1"), bindMsg("", ""), executeMsg(""), syncMsg},
		{parseMsg("c1", "SELECT 7"), parseMsg("d1", "DEALLOCATE c1"), &pgproto3.Describe{ObjectType: 'S', Name: "d1"}, syncMsg},
		{bindMsg("c1", ""), executeMsg(""), parseMsg("", "SELECT 1/0"), bindMsg("", ""), executeMsg(""), bindMsg("d1", ""), executeMsg(""), syncMsg},
		{bindMsg("c1", ""), executeMsg(""), bindMsg("d1", "p"), executeMsg("p"), executeMsg("p"), syncMsg},
		{bindMsg("c1", ""), executeMsg(""), syncMsg},
		{parseMsg("", "DEALLOCATE ALL"), bindMsg("", ""), executeMsg(""), syncMsg},
		{bindMsg("d1", ""), syncMsg},
	})
}

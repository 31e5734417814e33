package proxy

import (
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
)

// A client SET followed by BEGIN in the same extended batch ran, in
// PostgreSQL, in the implicit transaction the BEGIN made the block: the
// block's ROLLBACK undid it, its COMMIT kept it. pgmoat kept it either
// way. Each sequence is run on PostgreSQL directly and through pgmoat;
// the answers, the reports and what SHOW says after must be the same.
func TestClientSetBeforeBeginEndsWithTheBlock(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 2})
	stmt := func(sql string) []pgproto3.FrontendMessage {
		return []pgproto3.FrontendMessage{&pgproto3.Parse{Query: sql}, &pgproto3.Bind{}, &pgproto3.Execute{}}
	}
	batch := func(sqls ...string) []pgproto3.FrontendMessage {
		var out []pgproto3.FrontendMessage
		for _, sql := range sqls {
			out = append(out, stmt(sql)...)
		}
		return append(out, &pgproto3.Sync{})
	}
	query := func(sql string) []pgproto3.FrontendMessage {
		return []pgproto3.FrontendMessage{&pgproto3.Query{String: sql}}
	}
	const (
		setName   = "SET application_name = 'inblock'"
		setDigits = "SET extra_float_digits = 1"
		begin     = "BEGIN"
	)
	show := batch("SHOW application_name", "SHOW extra_float_digits")
	cases := []struct {
		name    string
		batches [][]pgproto3.FrontendMessage
	}{
		{"rollback in a later batch", [][]pgproto3.FrontendMessage{
			batch(setName, setDigits, begin, "SHOW application_name"), batch("ROLLBACK"), show}},
		{"rollback as a simple query", [][]pgproto3.FrontendMessage{
			batch(setName, setDigits, begin), query("ROLLBACK"), show}},
		{"commit in a later batch", [][]pgproto3.FrontendMessage{
			batch(setName, setDigits, begin), batch("COMMIT"), show}},
		{"a failed block's commit rolls back", [][]pgproto3.FrontendMessage{
			batch(setName, begin, "SELECT 1/0"), query("SHOW application_name"), batch("COMMIT"), show}},
		{"an error later in the block", [][]pgproto3.FrontendMessage{
			batch(setName, setDigits, begin), batch("SELECT 1/0"), query("ROLLBACK"), show}},
		{"rollback in the same batch", [][]pgproto3.FrontendMessage{
			batch(setName, setDigits, begin, "ROLLBACK"), show}},
		{"commit in the same batch, then an error", [][]pgproto3.FrontendMessage{
			batch(setName, setDigits, begin, "COMMIT", "SELECT 1/0"), show}},
		{"START TRANSACTION after a statement", [][]pgproto3.FrontendMessage{
			batch(setName, "SELECT 1", "START TRANSACTION READ ONLY"), batch("SELECT 2"), batch("ROLLBACK"), show}},
		{"no block: kept at the Sync", [][]pgproto3.FrontendMessage{
			batch(setName, "SELECT 1"), batch(begin), batch("ROLLBACK"), show}},
	}
	db := pgcluster.NewDatabase(t, cluster)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			transcriptsMatch(t, cluster.DSN(db)+" application_name=w0", f.dsn("alice")+" application_name=w0", c.batches, transcriptOptions{rows: true})
		})
	}
}

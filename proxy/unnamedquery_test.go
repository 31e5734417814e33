package proxy

import (
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

// A simple Query drops the unnamed statement at once, in PostgreSQL,
// whatever comes of it, but the unnamed portal only when it makes its
// own, once its statement has parsed and, in a failed block, passed the
// 25P02 check: an empty Query, a denied one and any Query in a failed
// block leave the client's unnamed portal bound, and an Execute or
// Describe of it in the block's failed state gets 25P02, not 34000.
// Each sequence is compared with PostgreSQL's transcript, inside a
// block, inside one that failed, and outside any.
func TestQueryKeepsTheUnnamedPortalAsPostgreSQL(t *testing.T) {
	t.Parallel()
	f, direct := abortFixture(t)
	p, b, e, q := parseMsg, bindMsg, executeMsg, queryMsg
	dp := &pgproto3.Describe{ObjectType: 'P'}
	ds := &pgproto3.Describe{ObjectType: 'S'}
	after := func(query string, before ...rtStep) []rtStep {
		return append(append([]rtStep{w(p("", "SELECT 1"), b("", ""), syncMsg)}, before...),
			w(q(query)),
			w(e(""), syncMsg),
			w(dp, syncMsg),
			w(ds, syncMsg),
			w(b("", ""), syncMsg),
		)
	}
	block := func(steps ...[]rtStep) []rtStep {
		out := []rtStep{w(q("BEGIN"))}
		for _, s := range steps {
			out = append(out, s...)
		}
		return append(out, w(q("ROLLBACK")), w(e(""), syncMsg), w(dp, syncMsg))
	}
	cases := map[string]rtCase{}
	for name, query := range map[string]string{"denied": deniedSQL, "empty": "", "blank": " ", "comment": "-- ping", "successful": "SELECT 2", "server error": "SELECT 1/0"} {
		cases[name+" Query in a block"] = rtCase{steps: block(after(query))}
		cases[name+" Query outside a block"] = rtCase{steps: append(after(query), w(q("SELECT 3")))}
		cases[name+" Query in an open batch"] = rtCase{steps: []rtStep{
			wn(1, p("", "SELECT 1"), b("", ""), q(query), e(""), dp, syncMsg),
			w(q("SELECT 3")),
		}}
		cases[name+" Query in an open batch in a block"] = rtCase{steps: block([]rtStep{
			wn(1, p("", "SELECT 1"), b("", ""), q(query), e(""), dp, syncMsg),
			w(e(""), syncMsg),
		})}
	}
	for name, query := range map[string]string{"denied": deniedSQL, "empty": "", "successful": "SELECT 2", "server error": "SELECT 1/0", "SET": "SET DateStyle = 'ISO, MDY'", "DEALLOCATE": "DEALLOCATE nosuch", "ROLLBACK": "ROLLBACK"} {
		cases[name+" Query in a failed block"] = rtCase{steps: block(after(query, w(q("SELECT 1/0"))))}
	}
	cases["DEALLOCATE Query in a block"] = rtCase{steps: block(after("DEALLOCATE ALL"))}
	runAttacks(t, f, direct, cases)
}

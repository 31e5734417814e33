package proxy

import (
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

// In a transaction block that failed PostgreSQL answers every Parse but
// one of COMMIT or ROLLBACK with 25P02, once the text has parsed, and
// creates no statement: a Parse the session answers itself (a client
// SET's, a DEALLOCATE's, one of a statement the backend has prepared
// already) is answered 25P02 too, and leaves no statement behind.
func TestParseInAFailedBlockIs25P02(t *testing.T) {
	t.Parallel()
	f, direct := abortFixture(t)
	p, b, e, q := parseMsg, bindMsg, executeMsg, queryMsg
	ds := func(name string) *pgproto3.Describe { return &pgproto3.Describe{ObjectType: 'S', Name: name} }
	fail := []rtStep{w(q("BEGIN")), w(q("SELECT 1/0"))}
	after := []rtStep{
		w(q("ROLLBACK")),
		w(b("", ""), syncMsg), w(ds(""), syncMsg),
		w(b("s1", ""), e(""), syncMsg), w(ds("s2"), syncMsg),
	}
	steps := func(mid ...rtStep) []rtStep {
		return append(append(append([]rtStep{}, fail...), mid...), after...)
	}
	runAttacks(t, f, direct, map[string]rtCase{
		"SET": {steps: steps(
			w(p("", "SET DateStyle = 'SQL, DMY'"), syncMsg),
			w(p("s1", "SET DateStyle = 'SQL, DMY'"), syncMsg),
			w(p("s2", "RESET DateStyle"), b("s2", ""), e(""), syncMsg),
		)},
		"DEALLOCATE": {steps: steps(
			w(p("", "DEALLOCATE ALL"), syncMsg),
			w(p("s1", "DEALLOCATE nosuch"), syncMsg),
		)},
		"statement the backend has": {steps: append([]rtStep{
			w(q("BEGIN")),
			w(p("s0", "SELECT 1"), syncMsg),
			w(q("SELECT 1/0")),
			w(p("s1", "SELECT 1"), syncMsg),
			w(p("s2", "SELECT 1"), ds("s2"), syncMsg),
			w(p("", "SELECT 1"), syncMsg),
		}, after...)},
		"statement prepared in the same batch": {steps: steps(
			w(p("s1", "SELECT 2"), p("s2", "SELECT 2"), syncMsg),
		)},
		"unnamed statement dropped": {steps: []rtStep{
			w(q("BEGIN")),
			w(p("", "SELECT 1"), syncMsg),
			w(q("SELECT 1/0")),
			w(p("", "SET DateStyle = 'SQL, DMY'"), syncMsg),
			w(b("", ""), syncMsg),
			w(q("ROLLBACK")),
		}},
		"COMMIT and ROLLBACK still parse": {steps: steps(
			w(p("s1", "ROLLBACK"), syncMsg),
			w(p("s2", "COMMIT"), b("s2", ""), e(""), syncMsg),
		)},
	})
}

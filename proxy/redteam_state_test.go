package proxy

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Transactions that start inside one flight of client messages, without
// the client waiting for a ReadyForQuery: a simple Query ends the
// implicit transaction of an extended batch sent before it, a ROLLBACK
// or ABORT in an extended batch ends the batch's implicit transaction,
// and pipelined simple Queries are one transaction each. Every one of
// them must run with the identity, timeout and read-only flag, behind a
// transaction-mode pooler too, where nothing else sets them.
func TestRedteamStateTransactionsInOneFlight(t *testing.T) {
	t.Parallel()
	direct := newFixture(t, fixtureOptions{})
	for name, f := range map[string]*proxyFixture{"direct": direct, "behind pgbouncer": behindBouncer(t, direct)} {
		t.Run(name, func(t *testing.T) {
			for _, c := range []struct {
				name    string
				answers int // ReadyForQuery messages the steps get
				steps   func(fe *pgproto3.Frontend)
			}{
				{"Query after an unsynced batch", 2, func(fe *pgproto3.Frontend) {
					extended(fe, "SELECT 1")
					simple(fe, "SELECT 2")
					extended(fe, qInForce)
					fe.Send(&pgproto3.Sync{})
				}},
				{"Query in force after an unsynced batch", 1, func(fe *pgproto3.Frontend) {
					extended(fe, "SELECT 1")
					simple(fe, qInForce)
				}},
				{"ROLLBACK of the batch's implicit transaction", 1, func(fe *pgproto3.Frontend) {
					extended(fe, "SELECT 1")
					extended(fe, "ROLLBACK")
					extended(fe, qInForce)
					fe.Send(&pgproto3.Sync{})
				}},
				{"ABORT of the batch's implicit transaction", 1, func(fe *pgproto3.Frontend) {
					extended(fe, "SELECT 1")
					extended(fe, "ABORT")
					extended(fe, qInForce)
					fe.Send(&pgproto3.Sync{})
				}},
				{"END of a block then the batch goes on", 1, func(fe *pgproto3.Frontend) {
					extended(fe, "BEGIN")
					extended(fe, "END")
					extended(fe, qInForce)
					fe.Send(&pgproto3.Sync{})
				}},
				{"pipelined simple Queries", 3, func(fe *pgproto3.Frontend) {
					simple(fe, "SELECT 1")
					simple(fe, "SELECT 2")
					simple(fe, qInForce)
				}},
				{"COMMIT in a Query inside a block, then a batch", 3, func(fe *pgproto3.Frontend) {
					simple(fe, "BEGIN")
					simple(fe, "COMMIT")
					extended(fe, qInForce)
					fe.Send(&pgproto3.Sync{})
				}},
			} {
				t.Run(c.name, func(t *testing.T) {
					fe := rawSession(t, f, "alice")
					c.steps(fe)
					if err := fe.Flush(); err != nil {
						t.Fatal(err)
					}
					var got [][]string
					for range c.answers {
						out, errs := rows(t, fe)
						if len(errs) > 0 {
							t.Fatalf("errors: %v", errs)
						}
						for _, r := range out {
							if len(r) == 3 {
								got = append(got, r)
							}
						}
					}
					if want := []string{"1", "5s", "on"}; len(got) != 1 || got[0][0] != want[0] || got[0][1] != want[1] || got[0][2] != want[2] {
						t.Fatalf("user id, statement_timeout, transaction_read_only: %v, want %v", got, want)
					}
				})
			}
		})
	}
}

// A statement another client left on the only backend, the unnamed one
// or a named one under the name it used, is not this client's: a Bind
// of it without its own Parse fails as PostgreSQL fails a Bind of a
// statement the session never prepared (26000), for a client of the
// same identity (which shares the backend without DISCARD ALL) and of
// another, and returns none of the other's text.
func TestRedteamStateAnotherClientsStatementIsNotBound(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	owner := rawSession(t, f, "alice")
	owner.Send(&pgproto3.Parse{Query: "SELECT 'alice-unnamed'"})
	owner.Send(&pgproto3.Parse{Name: "s", Query: "SELECT 'alice-named'"})
	owner.Send(&pgproto3.Sync{})
	if err := owner.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, errs := rows(t, owner); len(errs) != 0 {
		t.Fatal(errs)
	}
	for _, user := range []string{"alice", "bob"} {
		for _, name := range []string{"", "s"} {
			fe := rawSession(t, f, user)
			fe.Send(&pgproto3.Bind{PreparedStatement: name})
			fe.Send(&pgproto3.Execute{})
			fe.Send(&pgproto3.Sync{})
			if err := fe.Flush(); err != nil {
				t.Fatal(err)
			}
			got, errs := rows(t, fe)
			if len(got) != 0 || len(errs) != 1 || !strings.HasPrefix(errs[0], "26000 ") {
				t.Errorf("%s binds statement %q: rows %v, errors %v; want 26000 alone", user, name, got, errs)
			}
		}
	}
	// The owner's own are still there for it.
	owner.Send(&pgproto3.Bind{PreparedStatement: "s"})
	owner.Send(&pgproto3.Execute{})
	owner.Send(&pgproto3.Sync{})
	if err := owner.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, errs := rows(t, owner); len(errs) != 0 || len(got) != 1 || got[0][0] != "alice-named" {
		t.Errorf("owner binds its own: %v %v", got, errs)
	}
}

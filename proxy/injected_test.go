package proxy

import (
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

// TestInjectedStatementIsOutOfReach: every transaction starts with
// pgmoat's Bind and Execute of its prepared settings statement (pgmoat_local3) into
// the unnamed portal. A client reaches neither: its statement names are
// its own (a Parse of pgmoat_local is the client's statement, and a
// Bind or Close of the name never touches pgmoat's), and the unnamed
// portal the injection leaves is not the client's: an Execute or
// Describe of it without a Bind gets 34000, as from PostgreSQL, which
// has no such portal. The identity holds throughout.
func TestInjectedStatementIsOutOfReach(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	fe := rawSession(t, f, "alice")
	step := func(what string, want string, msgs ...pgproto3.FrontendMessage) {
		t.Helper()
		for _, m := range msgs {
			fe.Send(m)
		}
		fe.Send(&pgproto3.Sync{})
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		got, errs := rows(t, fe)
		if s := flat(got, errs); s != want {
			t.Fatalf("%s: %q, want %q", what, s, want)
		}
	}
	ours := localStatementName(3) // alice's transactions set three settings
	step("the injection's portal, executed again", "34000",
		&pgproto3.Execute{})
	step("the injection's portal, described", "34000",
		&pgproto3.Describe{ObjectType: 'P'})
	step("Bind to pgmoat_local", "26000",
		&pgproto3.Bind{PreparedStatement: ours, Parameters: [][]byte{[]byte("request.user_id"), []byte("2")}}, &pgproto3.Execute{})
	step("the client's own pgmoat_local", "2",
		&pgproto3.Parse{Name: ours, Query: "SELECT 2"}, &pgproto3.Bind{PreparedStatement: ours}, &pgproto3.Execute{})
	step("Close of pgmoat_local, then a transaction", "1",
		&pgproto3.Close{ObjectType: 'S', Name: ours},
		&pgproto3.Parse{Query: "SELECT current_setting('request.user_id')"}, &pgproto3.Bind{}, &pgproto3.Execute{})
	// A function call is answered as PostgreSQL answers one, error and
	// ReadyForQuery, inside a batch too; the batch goes on.
	fe.Send(&pgproto3.Parse{Query: "SELECT 1"})
	fe.Send(&pgproto3.FunctionCall{Function: 1})
	step("a function call inside a batch", "08P01", &pgproto3.Bind{}, &pgproto3.Execute{})
	if got, errs := rows(t, fe); flat(got, errs) != "1" {
		t.Fatalf("after the function call's refusal: %q %q", got, errs)
	}
	step("after all that", "1",
		&pgproto3.Parse{Query: "SELECT current_setting('request.user_id')"}, &pgproto3.Bind{}, &pgproto3.Execute{})
}

// flat is rows' result as one string: the values, or the SQLSTATEs.
func flat(got [][]string, errs []string) string {
	out := ""
	for _, e := range errs {
		out += e[:5]
	}
	if out != "" {
		return out
	}
	for _, r := range got {
		for _, v := range r {
			out += v
		}
	}
	return out
}

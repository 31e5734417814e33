package proxy

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/policy"
)

// rows reads an extended batch's answer up to ReadyForQuery: its rows'
// first columns, and the first error.
func (c *rawClient) rows(t *testing.T) ([]string, error) {
	t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	defer func() { _ = c.conn.SetReadDeadline(time.Time{}) }()
	var got []string
	var failed error
	for {
		msg, err := c.fe.Receive()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		switch m := msg.(type) {
		case *pgproto3.DataRow:
			got = append(got, string(m.Values[0]))
		case *pgproto3.ErrorResponse:
			if failed == nil {
				failed = &pgconn.PgError{Code: m.Code, Message: m.Message, Severity: m.Severity}
			}
		case *pgproto3.ReadyForQuery:
			return got, failed
		}
	}
}

// A portal bound before a RELOAD that denies what its statement reads
// is a prepared statement's run judged under the old rules: its next
// Execute, in a later batch of the same transaction block, is refused
// as a Bind of the statement would be (42501, the rule named), and the
// session stays usable. The rows already fetched are the client's.
func TestPortalBoundBeforeAReloadIsJudgedAgainAtExecute(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	srv, addr := trustServer(t, f)
	c := rawLogin(t, addr, f.db)
	c.send(t, &pgproto3.Query{String: "BEGIN"})
	if _, err := c.answer(); err != nil {
		t.Fatal(err)
	}
	c.send(t, &pgproto3.Parse{Query: "SELECT label FROM items ORDER BY id"},
		&pgproto3.Bind{DestinationPortal: "p"}, &pgproto3.Execute{Portal: "p", MaxRows: 1}, &pgproto3.Sync{})
	got, err := c.rows(t)
	if err != nil || len(got) != 1 {
		t.Fatalf("first row: %v %v", got, err)
	}
	if err := srv.engine.SetProfiles(map[string]policy.Profile{"readonly": {Name: "readonly", DenyRelations: []string{"public.items"}}}); err != nil {
		t.Fatal(err)
	}
	c.send(t, &pgproto3.Execute{Portal: "p", MaxRows: 5}, &pgproto3.Sync{})
	got, err = c.rows(t)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42501" || !strings.HasPrefix(pe.Message, "pgmoat: "+policy.RuleRelation+":") || len(got) != 0 {
		t.Fatalf("Execute of the portal after items was denied: rows %q, err %v", got, err)
	}
	c.send(t, &pgproto3.Query{String: "ROLLBACK"})
	if _, err := c.answer(); err != nil {
		t.Fatal(err)
	}
	c.send(t, &pgproto3.Query{String: "SELECT 7"})
	if v, err := c.answer(); err != nil || v != "7" {
		t.Fatalf("after the refusal: %q %v", v, err)
	}
}

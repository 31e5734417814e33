package proxy

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
)

// transcriptOptions say what wireTranscript writes down beyond message
// types, command tags, reports, statement parameter types, SQLSTATEs and
// transaction statuses.
type transcriptOptions struct {
	rows     bool // each DataRow's values: where what SHOW says is the point
	messages bool // each error's message, less pgmoat's "pgmoat: parse: "
}

// wireTranscript sends each batch to c's hijacked connection and writes
// down every message it gets back, up to each batch's ReadyForQuery.
func wireTranscript(t *testing.T, c *pgconn.PgConn, batches [][]pgproto3.FrontendMessage, o transcriptOptions) string {
	t.Helper()
	h, err := c.Hijack()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Conn.Close()
	_ = h.Conn.SetDeadline(time.Now().Add(20 * time.Second))
	var b strings.Builder
	for _, batch := range batches {
		for _, m := range batch {
			h.Frontend.Send(m)
		}
		if err := h.Frontend.Flush(); err != nil {
			t.Fatal(err)
		}
		for {
			m, err := h.Frontend.Receive()
			if err != nil {
				t.Fatal(err)
			}
			switch x := m.(type) {
			case *pgproto3.ErrorResponse:
				if o.messages {
					fmt.Fprintf(&b, "E %s %s\n", x.Code, strings.TrimPrefix(x.Message, "pgmoat: parse: "))
				} else {
					fmt.Fprintf(&b, "E %s\n", x.Code)
				}
			case *pgproto3.CommandComplete:
				fmt.Fprintf(&b, "C %s\n", x.CommandTag)
			case *pgproto3.ParameterStatus:
				fmt.Fprintf(&b, "S %s=%s\n", x.Name, x.Value)
			case *pgproto3.ParameterDescription:
				fmt.Fprintf(&b, "t %v\n", x.ParameterOIDs)
			case *pgproto3.DataRow:
				if o.rows {
					fmt.Fprintf(&b, "D %q\n", x.Values)
				} else {
					fmt.Fprintf(&b, "%T\n", m)
				}
			default:
				fmt.Fprintf(&b, "%T\n", m)
			}
			if z, ok := m.(*pgproto3.ReadyForQuery); ok {
				fmt.Fprintf(&b, "  %c\n", z.TxStatus)
				break
			}
		}
	}
	return b.String()
}

// transcriptsMatch sends batches to PostgreSQL at directDSN and to pgmoat
// at throughDSN, each on a connection of its own, and fails when the
// transcripts differ.
func transcriptsMatch(t *testing.T, directDSN, throughDSN string, batches [][]pgproto3.FrontendMessage, o transcriptOptions) {
	t.Helper()
	ctx := context.Background()
	direct, err := pgconn.Connect(ctx, directDSN)
	if err != nil {
		t.Fatal(err)
	}
	want := wireTranscript(t, direct, batches, o)
	through, err := pgconn.Connect(ctx, throughDSN)
	if err != nil {
		t.Fatal(err)
	}
	if got := wireTranscript(t, through, batches, o); got != want {
		t.Fatalf("through pgmoat:\n%s\nPostgreSQL:\n%s", got, want)
	}
}

// Each extended-protocol message of a client SET gets through pgmoat the
// answers PostgreSQL itself gives, error cases included.
func TestClientSettingWireMatchesPostgreSQL(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	set := func(sql string) *pgproto3.Parse { return &pgproto3.Parse{Query: sql} }
	sync := &pgproto3.Sync{}
	batches := [][]pgproto3.FrontendMessage{
		{set("SET application_name = 'w1'"), &pgproto3.Bind{}, &pgproto3.Describe{ObjectType: 'S'}, &pgproto3.Describe{ObjectType: 'P'}, &pgproto3.Execute{}, sync},
		{set("SET application_name = 'w1'"), &pgproto3.Bind{}, &pgproto3.Execute{}, sync},
		{&pgproto3.Parse{Name: "s1", Query: "SET application_name = 'w2'"}, &pgproto3.Describe{ObjectType: 'S', Name: "s1"}, sync},
		{&pgproto3.Bind{PreparedStatement: "s1", DestinationPortal: "p1"}, &pgproto3.Execute{Portal: "p1"}, &pgproto3.Execute{Portal: "p1"}, sync},
		{&pgproto3.Bind{PreparedStatement: "s1", DestinationPortal: "p1"}, &pgproto3.Execute{Portal: "p1", MaxRows: 1}, &pgproto3.Close{ObjectType: 'P', Name: "p1"}, &pgproto3.Close{ObjectType: 'S', Name: "s1"}, sync},
		{set("SET application_name = 'w3'"), &pgproto3.Bind{}, &pgproto3.Execute{}, set("SELECT 1/0"), &pgproto3.Bind{}, &pgproto3.Execute{}, sync},
		{set("SET extra_float_digits = 2"), &pgproto3.Bind{Parameters: [][]byte{[]byte("x")}}, &pgproto3.Execute{}, sync},
		{&pgproto3.Parse{Name: "s2", Query: "SET DateStyle = 'ISO, YMD'"}, &pgproto3.Bind{PreparedStatement: "s2", DestinationPortal: "p2"}, set("SELECT 1"), &pgproto3.Bind{DestinationPortal: "p2"}, sync},
		{set("SET application_name = $1"), sync},
		{set("RESET extra_float_digits"), &pgproto3.Bind{}, &pgproto3.Execute{}, sync},
		{set("SET TimeZone = 'Nowhere/Land'"), &pgproto3.Bind{}, &pgproto3.Describe{ObjectType: 'P'}, &pgproto3.Execute{}, sync},
		{&pgproto3.Query{String: "SHOW application_name"}},
	}
	db := pgcluster.NewDatabase(t, cluster)
	transcriptsMatch(t, cluster.DSN(db)+" application_name=w0", f.dsn("alice")+" application_name=w0", batches, transcriptOptions{messages: true})
}

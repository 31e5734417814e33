package proxy

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
)

// rawStartupPacket is a startup packet of protocol major.minor with the
// parameters in the order given (name, value, name, value, ...), as a
// client lays them out.
func rawStartupPacket(major, minor uint16, params ...string) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint16(b[4:], major)
	binary.BigEndian.PutUint16(b[6:], minor)
	for _, p := range params {
		b = append(append(b, p...), 0)
	}
	b = append(b, 0)
	binary.BigEndian.PutUint32(b, uint32(len(b)))
	return b
}

// loginTranscript sends packet to addr and writes down what the server
// answers up to ReadyForQuery or the end of the connection: the
// NegotiateProtocolVersion's fields, the length of the cancel key, an
// error's severity, code and message (without pgmoat's rule prefix);
// ParameterStatus reports are left out, the two servers report
// different sets.
func loginTranscript(t *testing.T, addr string, packet []byte) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(packet); err != nil {
		t.Fatal(err)
	}
	if binary.BigEndian.Uint16(packet[4:]) < 3 { // answered in protocol 2's format
		all, _ := io.ReadAll(c)
		return fmt.Sprintf("%q", all)
	}
	fe := pgproto3.NewFrontend(c, c)
	var b strings.Builder
	for {
		msg, err := fe.Receive()
		if err != nil {
			b.WriteString("closed")
			return b.String()
		}
		switch m := msg.(type) {
		case *pgproto3.NegotiateProtocolVersion:
			fmt.Fprintf(&b, "NegotiateProtocolVersion %#x %q; ", m.NewestMinorProtocol, m.UnrecognizedOptions)
		case *pgproto3.BackendKeyData:
			fmt.Fprintf(&b, "BackendKeyData key of %d bytes; ", len(m.SecretKey))
		case *pgproto3.ErrorResponse:
			fmt.Fprintf(&b, "%s %s %s; ", m.Severity, m.Code, strings.TrimPrefix(m.Message, "pgmoat: protocol.startup: "))
		case *pgproto3.ParameterStatus:
		case *pgproto3.ReadyForQuery:
			b.WriteString("ReadyForQuery")
			return b.String()
		default:
			fmt.Fprintf(&b, "%T; ", msg)
		}
	}
}

// A startup packet of a newer minor version than 3.0, or with _pq_.
// options, is answered as PostgreSQL 15 answers it: a
// NegotiateProtocolVersion naming 3.0 and the options it does not know,
// in the order the client sent them, and the login goes on in 3.0 (a
// 4-byte cancel key); another major version is refused with 0A000.
func TestProtocolVersionsAnsweredAsPostgreSQL(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{auth: AuthTrust})
	db := pgcluster.NewDatabase(t, cluster)
	pgAddr := net.JoinHostPort(cluster.Host(), fmt.Sprint(cluster.Port()))
	cases := []struct {
		name         string
		major, minor uint16
		extra        []string
	}{
		{"3.0", 3, 0, nil},
		{"3.1", 3, 1, nil},
		{"3.2", 3, 2, nil},
		{"3.3", 3, 3, nil},
		{"3.99", 3, 99, nil},
		{"3.0 with _pq_ options", 3, 0, []string{"_pq_.zeta", "1", "_pq_.alpha", "x"}},
		{"3.2 with a _pq_ option", 3, 2, []string{"_pq_.unknown_option", "x"}},
		{"4.0", 4, 0, nil},
		{"2.0", 2, 0, nil},
		{"65535.1", 65535, 1, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			transcript := func(addr, user, database string) string {
				params := append([]string{"user", user, "database", database}, c.extra...)
				return loginTranscript(t, addr, rawStartupPacket(c.major, c.minor, params...))
			}
			want := transcript(pgAddr, pgcluster.Superuser, db)
			if got := transcript(f.addr, "alice", f.db); got != want {
				t.Fatalf("through pgmoat:\n%s\nPostgreSQL:\n%s", got, want)
			}
		})
	}
}

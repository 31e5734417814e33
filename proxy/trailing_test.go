package proxy

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
)

// shutdownNotice is what PostgreSQL sends each backend's client at an
// immediate shutdown (SIGQUIT) before the process exits: a WARNING, not
// an error, so nothing the client asked for is answered by it.
var shutdownNotice = &pgproto3.NoticeResponse{Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: "57P01",
	Message: "terminating connection due to immediate shutdown command"}

// killedAfterBegin is a relay's toClient hook for a server killed right
// after it answered a BEGIN: it passes the server's messages on, a read's
// worth per write, up to the first ReadyForQuery inside a transaction
// block; that one goes out in one write with the shutdown's notice behind
// it, and the connection ends, so pgmoat reads the answer and the notice
// in one read and then the end of the connection. Only the first
// connection to get there is killed (killed); later ones pass through.
func killedAfterBegin(killed *atomic.Bool) func(s, c net.Conn) {
	return func(s, c net.Conn) {
		br := bufio.NewReader(s)
		var out []byte
		for {
			hdr, err := br.Peek(5)
			if err != nil {
				return
			}
			msg := make([]byte, 1+int(binary.BigEndian.Uint32(hdr[1:])))
			if _, err := io.ReadFull(br, msg); err != nil {
				return
			}
			out = append(out, msg...)
			if msg[0] == 'Z' && msg[5] == 'T' && killed.CompareAndSwap(false, true) {
				out, _ = shutdownNotice.Encode(out)
				_, _ = c.Write(out)
				return
			}
			if br.Buffered() == 0 {
				if _, err := c.Write(out); err != nil {
					return
				}
				out = out[:0]
			}
		}
	}
}

// A server killed right after it answered a client's BEGIN leaves its
// shutdown notice right behind the answer, in the same read. The session
// wrote the answer to the client's buffer but, seeing more of the backend
// buffered, left the flush to the next message, which it never read: the
// backend owed nothing more. The client waited for its BEGIN's answer and
// the session for the client's next message, until the idle-transaction
// timeout ended the session a minute later. The answer now reaches the
// client at once, and its next statement finds the backend gone: 08006.
func TestAnswerWithAMessageBehindItIsFlushed(t *testing.T) {
	t.Parallel()
	for name, send := range map[string][]pgproto3.FrontendMessage{
		"simple":   {&pgproto3.Query{String: "BEGIN"}},
		"extended": {&pgproto3.Parse{Query: "BEGIN"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var killed atomic.Bool
			relay := newTCPRelay(t, cluster.Port(), relayHooks{toClient: killedAfterBegin(&killed)})
			f := newFixture(t, fixtureOptions{poolMin: 1, poolMax: 2, backendPort: relay.port()})
			hj := hijacked(t, f.dsn("alice"))
			t.Cleanup(func() { _ = hj.Conn.Close() })
			fe := hj.Frontend
			// A bound, not an order of events: the session waits for
			// its idle-transaction timeout (a minute) when it keeps the
			// answer.
			_ = hj.Conn.SetDeadline(time.Now().Add(5 * time.Second))
			for _, m := range send {
				fe.Send(m)
			}
			if err := fe.Flush(); err != nil {
				t.Fatal(err)
			}
			var tag string
			for {
				msg, err := fe.Receive()
				if err != nil {
					t.Fatalf("BEGIN not answered (tag %q so far): %v", tag, err)
				}
				if cc, ok := msg.(*pgproto3.CommandComplete); ok {
					tag = string(cc.CommandTag)
				}
				if z, ok := msg.(*pgproto3.ReadyForQuery); ok {
					if tag != "BEGIN" || z.TxStatus != 'T' {
						t.Fatalf("BEGIN answered %q, ReadyForQuery %q", tag, z.TxStatus)
					}
					break
				}
			}
			if !killed.Load() {
				t.Fatal("the backend was not killed behind the answer: the test tested nothing")
			}

			fe.Send(&pgproto3.Query{String: "SELECT 1"})
			if err := fe.Flush(); err != nil {
				t.Fatal(err)
			}
			var code, notice string
			for code == "" {
				msg, err := fe.Receive()
				if err != nil {
					t.Fatalf("the statement after BEGIN got no error (notice %q): %v", notice, err)
				}
				switch m := msg.(type) {
				case *pgproto3.NoticeResponse:
					notice = m.Code
				case *pgproto3.ErrorResponse:
					if !strings.HasPrefix(m.Message, "pgmoat: backend.lost:") {
						t.Fatalf("error %s %q", m.Code, m.Message)
					}
					code = m.Code
				case *pgproto3.DataRow, *pgproto3.CommandComplete, *pgproto3.ReadyForQuery:
					t.Fatalf("the statement after BEGIN was answered %T on a killed backend", m)
				}
			}
			if code != "08006" || notice != "57P01" {
				t.Fatalf("the statement after BEGIN got %s (notice %q), want 08006 behind the server's 57P01 notice", code, notice)
			}

			var one int
			if err := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol).QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
				t.Fatalf("a new session after the loss: %d, %v", one, err)
			}
		})
	}
}

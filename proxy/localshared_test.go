package proxy

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgmoat/pgmoat/policy"
)

// parseRelay passes pool connections through to PostgreSQL and counts
// the Parse messages pgmoat sends of its per-transaction settings
// statements (named localStatement...).
type parseRelay struct {
	*tcpRelay
	parses atomic.Int64
}

func newParseRelay(t *testing.T, port int) *parseRelay {
	t.Helper()
	r := &parseRelay{}
	r.tcpRelay = newTCPRelay(t, port, relayHooks{toServer: r.frontend})
	return r
}

// frontend copies what pgmoat sends, message by message: the untyped
// ones before the startup message's end (an SSL or GSS request, the
// startup message, a cancel request), then typed ones.
func (r *parseRelay) frontend(c, s net.Conn) {
	var head [5]byte
	for {
		if _, err := io.ReadFull(c, head[:4]); err != nil {
			return
		}
		body := make([]byte, binary.BigEndian.Uint32(head[:4])-4)
		if _, err := io.ReadFull(c, body); err != nil {
			return
		}
		if _, err := s.Write(append(head[:4:4], body...)); err != nil {
			return
		}
		if code := binary.BigEndian.Uint32(body[:4]); code != 80877103 && code != 80877104 {
			break // a startup message (or a cancel request, which ends here)
		}
	}
	for {
		if _, err := io.ReadFull(c, head[:]); err != nil {
			return
		}
		body := make([]byte, binary.BigEndian.Uint32(head[1:])-4)
		if _, err := io.ReadFull(c, body); err != nil {
			return
		}
		if head[0] == 'P' && strings.HasPrefix(string(body), localStatement) {
			r.parses.Add(1)
		}
		if _, err := s.Write(append(head[:], body...)); err != nil {
			return
		}
	}
}

// One backend lent in turn to the MCP door's Executor and to a proxy
// session of the same identity prepares the per-transaction settings
// statement of each once: the Executor's transactions set one setting
// more (plan_cache_mode), and a statement shared by both was prepared
// again, one more round trip, at every change of borrower.
func TestSettingsStatementIsNotPreparedAgainBetweenTheDoors(t *testing.T) {
	relay := newParseRelay(t, cluster.Port())
	f := newFixture(t, fixtureOptions{poolMin: 1, poolMax: 1, backendPort: relay.port()})
	ctx := context.Background()
	x := NewExecutor(f.pool, f.server.engine, "request.user_id")
	conn := f.connect(t, "alice", pgx.QueryExecModeExec)
	door := func() {
		t.Helper()
		res, err := x.Query(ctx, policy.Identity{UserID: "1", Profile: "readonly"}, "SELECT count(*) FROM items WHERE id > $1", 0)
		if err != nil || len(res.Rows) != 1 {
			t.Fatalf("the Executor's query: %v", err)
		}
	}
	session := func() {
		t.Helper()
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM items WHERE id > $1", 0).Scan(&n); err != nil || n != 50 {
			t.Fatalf("the session's query: %d, %v", n, err)
		}
	}
	door()
	session()
	pid := idlePID(t, f)
	before := relay.parses.Load()
	if before == 0 {
		t.Fatal("the relay saw no Parse of the settings statement: it counts nothing")
	}
	for range 3 {
		door()
		session()
	}
	if now := idlePID(t, f); now != pid {
		t.Fatalf("backend %d replaced by %d: the doors did not share one", pid, now)
	}
	if got := relay.parses.Load() - before; got != 0 {
		t.Fatalf("the settings statement was prepared %d more times over 6 lendings of one backend alternating between the doors, want 0", got)
	}
}

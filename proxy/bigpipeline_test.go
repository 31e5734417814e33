package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// bigBatchRows is the size of each small answer of the big batches:
// 20,000 of them and a 1 MB one make some 11 MB of answers, several
// times what the sockets between pgmoat and the server hold, so the
// server blocks writing them unless pgmoat reads as it goes.
const bigBatchRows = 500

// bigBatch queues n statements: item i answers a row of bigBatchRows
// bytes and i, except item big (1 MB and i) and item fail (division by
// zero at run time, after the server parsed and bound it). -1: none.
func bigBatch(n, big, fail int) *pgx.Batch {
	b := &pgx.Batch{}
	for i := range n {
		switch i {
		case big:
			b.Queue("SELECT repeat('y', 1048576), $1::int", i)
		case fail:
			b.Queue("SELECT repeat('z', 10), 1 / ($1::int - $1::int)", i)
		default:
			b.Queue("SELECT repeat('x', "+strconv.Itoa(bigBatchRows)+"), $1::int", i)
		}
	}
	return b
}

// runBigBatch sends b on c and describes each item's outcome, in order:
// the length of its text and its number, or the SQLSTATE of its error;
// then the batch's close, when it fails.
func runBigBatch(t *testing.T, c *pgx.Conn, b *pgx.Batch) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res := c.SendBatch(ctx, b)
	out := make([]string, 0, b.Len())
	for range b.Len() {
		var s string
		var n int
		if err := res.QueryRow().Scan(&s, &n); err != nil {
			out = append(out, "error "+errCode(err))
			continue
		}
		out = append(out, strconv.Itoa(len(s))+" "+strconv.Itoa(n))
	}
	if err := res.Close(); err != nil {
		out = append(out, "close "+errCode(err))
	}
	if ctx.Err() != nil {
		t.Fatalf("the batch did not finish in time: %v", ctx.Err())
	}
	return out
}

// errCode is err's SQLSTATE, or its text when the server did not send it.
func errCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return err.Error()
}

// stillUsable checks that c answers a statement after the batch.
func stillUsable(t *testing.T, c *pgx.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil {
		t.Fatalf("the connection is not usable after the batch: %v", err)
	}
}

// TestBigBatchesReadConcurrentlyAreAnsweredInOrder: a driver that
// pipelines a batch larger than the sockets hold while it reads the
// answers in the background (pgx's batches) was answered directly by
// PostgreSQL and hung through pgmoat, which wrote the whole batch before
// it read an answer: the server blocked writing answers nobody read, and
// pgmoat's write (or its wait for an answer it had already been sent)
// never ended. Each item's outcome through pgmoat must be PostgreSQL's
// own, in order, with a 1 MB answer or a failing statement in the middle
// (the server skips the rest to Sync), and the connection usable after.
func TestBigBatchesReadConcurrentlyAreAnsweredInOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	const n = 20000
	cases := []struct {
		name      string
		big, fail int
	}{
		{"1 MB answer in the middle", n / 2, -1},
		{"failing statement in the middle", -1, n / 2},
	}
	// A cached statement (Bind and Execute per item) hung; a statement
	// parsed per item (Parse, Describe, Bind, Execute) is the other shape.
	modes := []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeExec}
	for _, mode := range modes {
		for _, tc := range cases {
			t.Run(fmt.Sprint(mode, "/", tc.name), func(t *testing.T) {
				via := f.connect(t, "alice", mode)
				got := runBigBatch(t, via, bigBatch(n, tc.big, tc.fail))
				want := directBigBatch(t, f, mode, bigBatch(n, tc.big, tc.fail))
				if len(got) != len(want) {
					t.Fatalf("%d outcomes through pgmoat, %d directly", len(got), len(want))
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("item %d: %q through pgmoat, %q directly", i, got[i], want[i])
					}
				}
				checkBigBatchOutcomes(t, got, n, tc.big, tc.fail)
				stillUsable(t, via)
			})
		}
	}
}

// directBigBatch runs b against PostgreSQL itself, as the fixture's
// backends log in.
func directBigBatch(t *testing.T, f *proxyFixture, mode pgx.QueryExecMode, b *pgx.Batch) []string {
	t.Helper()
	cfg, err := pgx.ParseConfig(cluster.DSNFor("proxy_reader", "reader-pw", f.db))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = mode
	c, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	return runBigBatch(t, c, b)
}

// checkBigBatchOutcomes makes sure the outcomes are the ones asked for,
// so that agreeing with the server is not agreeing on nothing.
func checkBigBatchOutcomes(t *testing.T, got []string, n, big, fail int) {
	t.Helper()
	if len(got) < n || len(got) > n+1 || (len(got) > n && fail < 0) {
		t.Fatalf("%d outcomes for %d statements: %q", len(got), n, got[len(got)-1])
	}
	for i, g := range got[:n] {
		want := strconv.Itoa(bigBatchRows) + " " + strconv.Itoa(i)
		switch {
		case i == big:
			want = "1048576 " + strconv.Itoa(i)
		case i == fail:
			want = "error 22012"
		case fail >= 0 && i > fail:
			return // skipped by the server: whatever it says, as PostgreSQL says it
		}
		if g != want {
			t.Fatalf("item %d: %q, want %q", i, g, want)
		}
	}
}

// TestRawPipelineOfFiftyThousandExecutes: a client writes one Parse,
// 50,000 Bind/Execute pairs and one Sync while another goroutine reads
// the answers. Every answer must arrive, in order, and the connection
// must answer a Query after.
func TestRawPipelineOfFiftyThousandExecutes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	hj := hijacked(t, f.dsn("alice"))
	defer hj.Conn.Close()
	_ = hj.Conn.SetDeadline(time.Now().Add(90 * time.Second))
	const n = 50000
	wire, _ := (&pgproto3.Parse{Query: "SELECT repeat('x', 300), $1::int"}).Encode(nil)
	for i := range n {
		wire, _ = (&pgproto3.Bind{Parameters: [][]byte{[]byte(strconv.Itoa(i))}}).Encode(wire)
		wire, _ = (&pgproto3.Execute{}).Encode(wire)
	}
	wire, _ = (&pgproto3.Sync{}).Encode(wire)
	wrote := make(chan error, 1)
	go func(c net.Conn) {
		_, err := c.Write(wire)
		wrote <- err
	}(hj.Conn)

	fe := hj.Frontend
	expectMsg[*pgproto3.ParseComplete](t, fe, "the Parse")
	for i := range n {
		expectMsg[*pgproto3.BindComplete](t, fe, "Bind "+strconv.Itoa(i))
		row := expectMsg[*pgproto3.DataRow](t, fe, "Execute "+strconv.Itoa(i))
		if len(row.Values) != 2 || len(row.Values[0]) != 300 || string(row.Values[1]) != strconv.Itoa(i) {
			t.Fatalf("Execute %d answered %d values, %q", i, len(row.Values), row.Values[len(row.Values)-1])
		}
		expectMsg[*pgproto3.CommandComplete](t, fe, "Execute "+strconv.Itoa(i))
	}
	expectMsg[*pgproto3.ReadyForQuery](t, fe, "the Sync")
	if err := <-wrote; err != nil {
		t.Fatalf("writing the pipeline: %v", err)
	}
	fe.Send(&pgproto3.Query{String: "SELECT count(*) FROM items"})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	expectMsg[*pgproto3.RowDescription](t, fe, "the Query after")
	expectMsg[*pgproto3.DataRow](t, fe, "the Query after")
	expectMsg[*pgproto3.CommandComplete](t, fe, "the Query after")
	expectMsg[*pgproto3.ReadyForQuery](t, fe, "the Query after")
}

// expectMsg receives the next message and fails unless it is a T.
func expectMsg[T pgproto3.BackendMessage](t *testing.T, fe *pgproto3.Frontend, what string) T {
	t.Helper()
	msg, err := fe.Receive()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	m, ok := msg.(T)
	if !ok {
		if e, isErr := msg.(*pgproto3.ErrorResponse); isErr {
			t.Fatalf("%s: error %s %s", what, e.Code, strings.TrimSpace(e.Message))
		}
		var zero T
		t.Fatalf("%s: got %T, want %T", what, msg, zero)
	}
	return m
}

// TestLargeMessagesBehindALargeAnswer: a client pipelines a statement
// answering 100 MB and, without a Sync between, 40 Binds each carrying
// a 1 MB parameter, reading the answers as they come. The server reads
// the Binds only once it has sent the 100 MB, more than the sockets
// hold either way, so pgmoat must read those before it writes the
// Binds, and each Bind's answer before the next; the connection then
// answers a Query.
func TestLargeMessagesBehindALargeAnswer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	fe := rawSession(t, f, "alice")
	const binds = 40
	param := strings.Repeat("p", 1<<20)
	fe.Send(&pgproto3.Parse{Name: "big", Query: "SELECT repeat('x', 100000) FROM generate_series(1, 1000)"})
	fe.Send(&pgproto3.Bind{PreparedStatement: "big"})
	fe.Send(&pgproto3.Execute{})
	fe.Send(&pgproto3.Parse{Query: "SELECT length($1::text)"})
	for range binds {
		fe.Send(&pgproto3.Bind{Parameters: [][]byte{[]byte(param)}})
		fe.Send(&pgproto3.Execute{})
	}
	fe.Send(&pgproto3.Sync{})
	wrote := make(chan error, 1)
	go func() { wrote <- fe.Flush() }()

	expectMsg[*pgproto3.ParseComplete](t, fe, "the first Parse")
	expectMsg[*pgproto3.BindComplete](t, fe, "the first Bind")
	for i := range 1000 {
		row := expectMsg[*pgproto3.DataRow](t, fe, "row "+strconv.Itoa(i))
		if len(row.Values) != 1 || len(row.Values[0]) != 100000 {
			t.Fatalf("row %d is not the 100,000 bytes asked for", i)
		}
	}
	expectMsg[*pgproto3.CommandComplete](t, fe, "the first Execute")
	expectMsg[*pgproto3.ParseComplete](t, fe, "the second Parse")
	for i := range binds {
		expectMsg[*pgproto3.BindComplete](t, fe, "1 MB Bind "+strconv.Itoa(i))
		row := expectMsg[*pgproto3.DataRow](t, fe, "Execute "+strconv.Itoa(i))
		if got := string(row.Values[0]); got != strconv.Itoa(len(param)) {
			t.Fatalf("the server saw a parameter of %s bytes, want %d", got, len(param))
		}
		expectMsg[*pgproto3.CommandComplete](t, fe, "Execute "+strconv.Itoa(i))
	}
	expectMsg[*pgproto3.ReadyForQuery](t, fe, "the Sync")
	if err := <-wrote; err != nil {
		t.Fatalf("writing the pipeline: %v", err)
	}
	fe.Send(&pgproto3.Query{String: "SELECT 1"})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	if seen := until(t, fe); string(seen) != "TDCZ" {
		t.Fatalf("the Query after answered %q", seen)
	}
}

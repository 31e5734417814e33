package proxy

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// TestPipelinedBatchesAreAnsweredInOrder sends several batches, each with
// its own Sync, before reading any answer (pgconn's pipeline mode): the
// session reads them one after another and every result comes back in
// order, under the client's identity, with a denial in the middle leaving
// the rest intact.
func TestPipelinedBatchesAreAnsweredInOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 2})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn := f.connect(t, "alice", pgx.QueryExecModeExec)
	pipe := conn.PgConn().StartPipeline(ctx)
	const batches = 50
	for i := range batches {
		if i == 25 {
			pipe.SendQueryParams("DELETE FROM items WHERE id = $1", [][]byte{[]byte("1")}, nil, nil, nil)
		} else {
			pipe.SendQueryParams("SELECT count(*), $1::int FROM items", [][]byte{[]byte(fmt.Sprint(i))}, nil, nil, nil)
		}
		pipe.SendPipelineSync()
	}
	if err := pipe.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := range batches {
		res, err := pipe.GetResults()
		if i == 25 {
			if err == nil || !strings.Contains(err.Error(), "statement.kind") {
				t.Fatalf("the DELETE in the pipeline: %v %T", err, res)
			}
		} else {
			if err != nil {
				t.Fatalf("batch %d: %v", i, err)
			}
			rr, ok := res.(*pgconn.ResultReader)
			if !ok {
				t.Fatalf("batch %d: got %T", i, res)
			}
			got := rr.Read()
			if got.Err != nil || len(got.Rows) != 1 || string(got.Rows[0][0]) != "50" || string(got.Rows[0][1]) != fmt.Sprint(i) {
				t.Fatalf("batch %d: %v %q", i, got.Err, got.Rows)
			}
		}
		if res, err := pipe.GetResults(); err != nil { // the batch's Sync
			t.Fatalf("sync %d: %v", i, err)
		} else if _, ok := res.(*pgconn.PipelineSync); !ok {
			t.Fatalf("sync %d: got %T", i, res)
		}
	}
	if err := pipe.Close(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 50 {
		t.Fatalf("after the pipeline: %d %v", n, err)
	}
}

// TestPipelinedSimpleQueries writes many simple Query messages at once and
// only then reads: each gets its rows and ReadyForQuery, in order.
func TestPipelinedSimpleQueries(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	hc := hijacked(t, f.dsn("bob")) // authenticated; from here on, raw protocol
	defer hc.Conn.Close()
	_ = hc.Conn.SetDeadline(time.Now().Add(30 * time.Second))
	fe := hc.Frontend
	const queries = 200
	for i := range queries {
		fe.Send(&pgproto3.Query{String: fmt.Sprintf("SELECT %d, count(*) FROM items", i)})
	}
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := range queries {
		var row []string
		for done := false; !done; {
			msg, err := fe.Receive()
			if err != nil {
				t.Fatalf("query %d: %v", i, err)
			}
			switch m := msg.(type) {
			case *pgproto3.DataRow:
				row = []string{string(m.Values[0]), string(m.Values[1])}
			case *pgproto3.ErrorResponse:
				t.Fatalf("query %d: %s", i, m.Message)
			case *pgproto3.ReadyForQuery:
				done = true
			}
		}
		if len(row) != 2 || row[0] != fmt.Sprint(i) || row[1] != "50" {
			t.Fatalf("query %d answered %q", i, row)
		}
	}
}

package proxy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// Two clients of one identity share the server-side statement of a text
// they both prepared. One of them closing its statement through the
// protocol (Close 'S', what pgconn's Deallocate sends) closes its own
// name only: the other's statement still binds, on the same backend,
// and the first may prepare the name again.
func TestCloseOfASharedStatementLeavesTheOtherClientsOwn(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a := f.connect(t, "alice", pgx.QueryExecModeCacheStatement)
	b := f.connect(t, "alice", pgx.QueryExecModeCacheStatement)
	const sql = "SELECT count(*) FROM items WHERE id > $1"
	for _, c := range []*pgx.Conn{a, b} {
		if _, err := c.Prepare(ctx, "shared", sql); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Deallocate(ctx, "shared"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := b.QueryRow(ctx, "shared", 90).Scan(&n); err != nil || n != 5 {
		t.Fatalf("b's statement after a closed its own: %d %v", n, err)
	}
	_, err := a.PgConn().Prepare(ctx, "", "SELECT 1", nil)
	if err != nil {
		t.Fatal(err)
	}
	rr := a.PgConn().ExecPrepared(ctx, "shared", [][]byte{[]byte("1")}, nil, nil).Read()
	var pe *pgconn.PgError
	if !errors.As(rr.Err, &pe) || pe.Code != "26000" {
		t.Fatalf("a binds the name it closed: %v, want 26000", rr.Err)
	}
	if _, err := a.Prepare(ctx, "shared", sql); err != nil {
		t.Fatalf("a prepares the closed name again: %v", err)
	}
	if err := a.QueryRow(ctx, "shared", 95).Scan(&n); err != nil || n != 3 {
		t.Fatalf("a's statement prepared again: %d %v", n, err)
	}
}

// A KILL of a client whose extended batch failed on the server and is
// not synced (the server skips everything up to a Sync) leaves the
// backend fit for the next borrower: the only backend serves the next
// client at once, idle, with its own identity.
func TestKillMidFailedBatchLeavesTheBackendClean(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	srv, addr := trustServer(t, f)
	c := rawLogin(t, addr, f.db)
	c.send(t, &pgproto3.Query{String: "BEGIN"})
	if _, err := c.answer(); err != nil {
		t.Fatal(err)
	}
	c.send(t, &pgproto3.Parse{Query: "SELECT 1/0"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Flush{})
	_ = c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		msg, err := c.fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if e, ok := msg.(*pgproto3.ErrorResponse); ok {
			if e.Code != "22012" {
				t.Fatalf("got %s %s", e.Code, e.Message)
			}
			break
		}
	}
	if !srv.kill(c.pid) {
		t.Fatal("no session to kill")
	}
	msg, err := c.fe.Receive()
	if e, ok := msg.(*pgproto3.ErrorResponse); err != nil || !ok || e.Code != "57P01" || e.Severity != "FATAL" {
		t.Fatalf("killed client got %#v %v", msg, err)
	}
	bob := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var who string
	if err := bob.QueryRow(ctx, "SELECT current_setting('request.user_id')").Scan(&who); err != nil || who != "2" {
		t.Fatalf("next client on the only backend: %q %v", who, err)
	}
	if st := bob.PgConn().TxStatus(); st != 'I' {
		t.Fatalf("next client's transaction status %q", st)
	}
}

// A message over the size limit in the middle of a transaction block
// ends the session with FATAL 08P01 naming the rule, and its backend is
// rolled back and handed on: the next client is served at once.
func TestOversizeMessageInsideATransactionFreesTheBackend(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1, maxMessageSize: 4096})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a := f.connect(t, "alice", pgx.QueryExecModeCacheStatement)
	if _, err := a.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	_, err := a.Exec(ctx, "SELECT $1::text", strings.Repeat("x", 10000))
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "08P01" || !strings.HasPrefix(pe.Message, "pgmoat: protocol.message_size:") {
		t.Fatalf("oversize Bind: %v", err)
	}
	b := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	var n int
	if err := b.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 50 {
		t.Fatalf("next client: %d %v", n, err)
	}
}

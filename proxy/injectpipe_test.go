package proxy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// A simple Query pipelined inside an extended batch whose per-transaction
// settings fail is skipped to the client's Sync, as PostgreSQL skips
// every message but Sync after an error in an extended batch: the client
// gets the server's error and one ReadyForQuery (at its Sync), not a
// made-up answer for the Query it must not expect.
func TestInjectionFailureSkipsPipelinedQueryToSync(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, cluster.DSN(f.db))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	const grant = "GRANT EXECUTE ON FUNCTION pg_catalog.set_config(text, text, boolean) TO PUBLIC"
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), grant) })
	a := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	var one int
	if err := a.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "REVOKE EXECUTE ON FUNCTION pg_catalog.set_config(text, text, boolean) FROM PUBLIC"); err != nil {
		t.Fatal(err)
	}
	pc := a.PgConn()
	got := pipeline(ctx, t, pc, 1,
		&pgproto3.Parse{Query: "SELECT 2"}, &pgproto3.Bind{}, &pgproto3.Execute{},
		&pgproto3.Query{String: "SELECT 3"},
		&pgproto3.Bind{}, &pgproto3.Execute{},
		&pgproto3.Sync{})
	if want := "E42501 Z"; got != want {
		t.Fatalf("answers %q, want %q: the server's error, everything up to Sync skipped, ReadyForQuery", got, want)
	}
	if _, err := admin.Exec(ctx, grant); err != nil {
		t.Fatal(err)
	}
	// Nothing more is owed: the connection is in step and works.
	if got := pipeline(ctx, t, pc, 1, &pgproto3.Query{String: "SELECT 4"}); got != "T D C Z" {
		t.Fatalf("after the grant: %q", got)
	}
}

// pipeline sends msgs in one write and returns the answers, up to the
// readies-th ReadyForQuery, as type letters (errors with their SQLSTATE).
func pipeline(ctx context.Context, t *testing.T, pc *pgconn.PgConn, readies int, msgs ...pgproto3.FrontendMessage) string {
	t.Helper()
	fe := pc.Frontend()
	for _, m := range msgs {
		fe.Send(m)
	}
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	var got []string
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for z := 0; z < readies; {
		m, err := pc.ReceiveMessage(rctx)
		if err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) {
				t.Fatalf("after %v: %s %s", got, pe.Code, pe.Message)
			}
			t.Fatalf("after %v: %v (the answers owed never came)", got, err)
		}
		got = append(got, letter(m))
		if _, ok := m.(*pgproto3.ReadyForQuery); ok {
			z++
		}
	}
	return strings.Join(got, " ")
}

func letter(m pgproto3.BackendMessage) string {
	switch m := m.(type) {
	case *pgproto3.ErrorResponse:
		return "E" + m.Code
	case *pgproto3.ReadyForQuery:
		return "Z"
	case *pgproto3.RowDescription:
		return "T"
	case *pgproto3.DataRow:
		return "D"
	case *pgproto3.CommandComplete:
		return "C"
	case *pgproto3.ParseComplete:
		return "1"
	case *pgproto3.BindComplete:
		return "2"
	}
	return fmt.Sprintf("%T", m)
}

// An extended batch queued behind a simple Query whose settings failed,
// its Sync not come yet, gets one error from the made-up answers and the
// session skips the rest of it to the client's Sync; with its Sync queued
// too, nothing is left to skip. The session reads the backend before it
// reads the next client message today, so only a session that reads
// ahead queues a batch there: the state is checked on the queue itself.
func TestInjectionFailureSkipsBatchBehindQueryToSync(t *testing.T) {
	t.Parallel()
	inj := expectation{kind: expectBind, injection: true}
	injExec := expectation{kind: expectExecute, injection: true}
	for _, tc := range []struct {
		name  string
		queue []expectation
		want  []expectKind
		skips bool
	}{
		{"unsynced batch", []expectation{inj, injExec, {kind: expectQuery}, {kind: expectParse}, {kind: expectBind}, {kind: expectExecute}},
			[]expectKind{synthReady, synthError}, true},
		{"synced batch", []expectation{inj, injExec, {kind: expectQuery}, {kind: expectParse}, {kind: expectExecute}, {kind: expectSync}},
			[]expectKind{synthReady, synthError, synthReady}, false},
		{"queries", []expectation{inj, injExec, {kind: expectQuery}, {kind: expectQuery}},
			[]expectKind{synthReady, synthError, synthReady}, false},
	} {
		s := &session{lendingState: lendingState{expect: tc.queue}}
		if !s.queryBehindInjection() {
			t.Fatalf("%s: the injection is not seen as the Query's", tc.name)
		}
		s.abandonAfterInjection(injectionCause())
		var kinds []expectKind
		for _, e := range s.expect {
			kinds = append(kinds, e.kind)
		}
		if fmt.Sprint(kinds) != fmt.Sprint(tc.want) {
			t.Errorf("%s: answers %v, want %v", tc.name, kinds, tc.want)
		}
		s.noteBackendSkip()
		if s.skipping != tc.skips {
			t.Errorf("%s: session skipping %v, want %v", tc.name, s.skipping, tc.skips)
		}
	}
	// Settings sent for an extended batch are that batch's: not the
	// Query's, whatever follows in the batch.
	s := &session{lendingState: lendingState{expect: []expectation{inj, injExec, {kind: expectParse}, {kind: expectQuery}}}}
	if s.queryBehindInjection() {
		t.Error("settings of an extended batch taken for a simple Query's")
	}
}

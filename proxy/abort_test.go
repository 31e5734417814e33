package proxy

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// The oracle for errors pgmoat answers itself is PostgreSQL answering
// an error it raises itself at the same place: the same login
// (proxy_reader) reading a table it has no GRANT on, in a schema it may
// not use, which the server refuses when it parses the statement, with
// SQLSTATE 42501. pgmoat's policy denies the same text at the same place
// (relation.denied), before any of it reaches the server.
const deniedSQL = "SELECT v FROM hidden.secret"

// abortFixture is a fixture whose database has the table proxy_reader
// may not read, and the DSN of that login straight to PostgreSQL.
func abortFixture(t *testing.T) (*proxyFixture, string) {
	t.Helper()
	f := newFixture(t, fixtureOptions{poolMax: 2})
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, cluster.DSN(f.db))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA hidden; CREATE TABLE hidden.secret (v text)"); err != nil {
		t.Fatal(err)
	}
	return f, cluster.DSNFor("proxy_reader", "reader-pw", f.db)
}

// pipelinedTranscript sends each batch whole and reads its answers up to
// one ReadyForQuery per Query or Sync in it; 42501's message is left
// out (pgmoat's and PostgreSQL's say different things), and checked:
// pgmoat's names the rule, and nothing of the stand-in it sent the
// server reaches the client.
func pipelinedTranscript(t *testing.T, dsn string, batches [][]pgproto3.FrontendMessage) string {
	t.Helper()
	h := hijacked(t, dsn)
	defer h.Conn.Close()
	_ = h.Conn.SetDeadline(time.Now().Add(20 * time.Second))
	var b strings.Builder
	for _, batch := range batches {
		readies := 0
		for _, m := range batch {
			h.Frontend.Send(m)
			switch m.(type) {
			case *pgproto3.Query, *pgproto3.Sync:
				readies++
			}
		}
		if err := h.Frontend.Flush(); err != nil {
			t.Fatal(err)
		}
		for readies > 0 {
			m, err := h.Frontend.Receive()
			if err != nil {
				t.Fatalf("%s\nthen: %v", b.String(), err)
			}
			switch x := m.(type) {
			case *pgproto3.ErrorResponse:
				if strings.Contains(x.Message, "syntax") || strings.Contains(x.Message, "refused the client") {
					t.Errorf("the server's error to the stand-in reached the client: %+v", x)
				}
				if x.Code == codeDenied {
					if !strings.HasPrefix(x.Message, "pgmoat: relation.denied: ") && x.Message != "permission denied for schema hidden" {
						t.Errorf("42501 %q", x.Message)
					}
					fmt.Fprintf(&b, "E %s\n", x.Code)
				} else {
					fmt.Fprintf(&b, "E %s %s\n", x.Code, x.Message)
				}
			case *pgproto3.CommandComplete:
				fmt.Fprintf(&b, "C %s\n", x.CommandTag)
			case *pgproto3.ReadyForQuery:
				fmt.Fprintf(&b, "Z %c\n", x.TxStatus)
				readies--
			case *pgproto3.ParameterStatus:
			default:
				fmt.Fprintf(&b, "%T\n", m)
			}
		}
		b.WriteString("--\n")
	}
	return b.String()
}

// Errors pgmoat answers itself fail the transaction they come in, as
// PostgreSQL's own errors do: inside a block ReadyForQuery says 'E', the
// next statements get 25P02 and COMMIT is answered ROLLBACK; an extended
// batch's implicit transaction is rolled back and the rest of the batch
// skipped to its Sync; a simple Query in a batch left open fails the
// batch; outside any transaction nothing changes. Each sequence is
// compared with PostgreSQL refusing a statement itself at the same place,
// batches sent whole (pipelined) as well as one by one.
func TestRefusalFailsTheTransactionAsPostgreSQL(t *testing.T) {
	t.Parallel()
	f, direct := abortFixture(t)
	p, b, e, d := parseMsg, bindMsg, executeMsg, &pgproto3.Describe{ObjectType: 'P'}
	q := queryMsg
	cases := map[string][][]pgproto3.FrontendMessage{
		"simple block":                 {{q("BEGIN")}, {q("SELECT count(*) FROM item_notes")}, {q(deniedSQL)}, {q("SELECT 1")}, {q("COMMIT")}, {q("SELECT 2")}},
		"simple block pipelined":       {{q("BEGIN"), q("SELECT count(*) FROM item_notes"), q(deniedSQL), q("SELECT 1"), q("COMMIT"), q("SELECT 2")}},
		"simple outside a block":       {{q(deniedSQL)}, {q("SELECT 1")}, {q("BEGIN"), q("ROLLBACK"), q(deniedSQL), q("SELECT 2")}},
		"simple DEALLOCATE in a block": {{q("BEGIN")}, {q("DEALLOCATE nosuch")}, {q("SELECT 1")}, {q("COMMIT")}},
		"extended block": {
			{q("BEGIN")},
			{p("", "SELECT 1"), b("", ""), e(""), p("", deniedSQL), b("", ""), e(""), syncMsg},
			{p("", "SELECT 2"), b("", ""), e(""), syncMsg},
			{p("c", "COMMIT"), b("c", ""), e(""), syncMsg},
			{p("", "SELECT 3"), b("", ""), e(""), syncMsg},
		},
		"extended block pipelined": {{
			q("BEGIN"),
			p("", "SELECT 1"), b("", ""), e(""), p("", deniedSQL), b("", ""), e(""), syncMsg,
			p("", "SELECT 2"), b("", ""), e(""), syncMsg,
			q("COMMIT"),
		}},
		"extended implicit transaction": {
			{p("", "SELECT 1"), b("", ""), e(""), p("", deniedSQL), b("", ""), e(""), syncMsg},
			{p("", "SELECT 2"), b("", ""), e(""), syncMsg},
		},
		"extended errors in a block": {
			{q("BEGIN")},
			{b("nosuch", ""), e(""), syncMsg}, // 26000
			{q("SELECT 1")},
			{q("ROLLBACK")},
			{q("BEGIN")},
			{p("s1", "SELECT 1"), syncMsg},
			{p("s1", "SELECT 2"), syncMsg}, // 42P05
			{q("SELECT 1")},
			{q("ROLLBACK")},
			{q("BEGIN")},
			{e(""), syncMsg}, // 34000
			{d, syncMsg},
			{q("COMMIT")},
			{q("BEGIN")},
			{p("", "DEALLOCATE nosuch"), b("", ""), e(""), syncMsg}, // 26000
			{q("COMMIT")},
		},
		"simple query in an open batch": {
			{q("BEGIN")},
			{p("", "SELECT 1"), b("", ""), e(""), q(deniedSQL), syncMsg},
			{q("SELECT 2")},
			{q("COMMIT")},
			{p("", "SELECT 3"), b("", ""), e(""), q(deniedSQL), syncMsg},
		},
	}
	for name, batches := range cases {
		t.Run(name, func(t *testing.T) {
			want := pipelinedTranscript(t, direct, batches)
			got := pipelinedTranscript(t, f.dsn("alice"), batches)
			if got != want {
				t.Fatalf("through pgmoat:\n%s\nPostgreSQL:\n%s", got, want)
			}
		})
	}
}

// pgxStep is one step of a client's transaction and what the client saw:
// the error's SQLSTATE ("" for none) and the transaction status after it.
type pgxStep struct {
	code   string
	status byte
}

// pgxBlock runs BEGIN, a read, the failing statement, another read and
// COMMIT as pgx does in mode, and what pgx saw at each step.
func pgxBlock(t *testing.T, dsn string, mode pgx.QueryExecMode) []pgxStep {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = mode
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var steps []pgxStep
	note := func(err error) {
		code := ""
		var pe *pgconn.PgError
		switch {
		case errors.As(err, &pe):
			code = pe.Code
		case errors.Is(err, pgx.ErrTxCommitRollback):
			code = "commit-rolled-back"
		case err != nil:
			t.Fatal(err)
		}
		steps = append(steps, pgxStep{code, conn.PgConn().TxStatus()})
	}
	tx, err := conn.Begin(ctx)
	note(err)
	var n int
	note(tx.QueryRow(ctx, "SELECT count(*) FROM item_notes").Scan(&n))
	_, err = tx.Exec(ctx, deniedSQL)
	note(err)
	note(tx.QueryRow(ctx, "SELECT 1").Scan(&n))
	note(tx.Commit(ctx))
	if mode == pgx.QueryExecModeSimpleProtocol {
		return steps // pgx sends a batch as one text of several statements, which the policy refuses whole
	}
	// And a batch, pipelined in one round trip: the failing statement
	// in the middle, outside a block and then inside one.
	for _, sqls := range [][]string{{"SELECT 1", deniedSQL, "SELECT 2"}, {"BEGIN", "SELECT 1", deniedSQL, "SELECT 2", "COMMIT"}} {
		batch := &pgx.Batch{}
		for _, sql := range sqls {
			batch.Queue(sql)
		}
		br := conn.SendBatch(ctx, batch)
		for range sqls {
			_, err := br.Exec()
			note(err)
		}
		note(br.Close())
		note(conn.QueryRow(ctx, "SELECT 3").Scan(&n))
	}
	return steps
}

// pgx sees through pgmoat what it sees from PostgreSQL when a statement
// inside its transaction fails, in the simple protocol and the extended
// one: the transaction fails, the next statement gets 25P02, and Commit
// reports ErrTxCommitRollback.
func TestRefusalFailsPgxTransactions(t *testing.T) {
	t.Parallel()
	f, direct := abortFixture(t)
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec, pgx.QueryExecModeCacheStatement} {
		t.Run(mode.String(), func(t *testing.T) {
			want := pgxBlock(t, direct, mode)
			got := pgxBlock(t, f.dsn("alice"), mode)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("through pgmoat: %v\nPostgreSQL:    %v", got, want)
			}
			if want[2].code != codeDenied || want[3].code != codeInFailedTx || want[4].code != "commit-rolled-back" {
				t.Fatalf("PostgreSQL did not fail the block: %v", want)
			}
		})
	}
}

// A refusal that is pgmoat's alone (PostgreSQL would take a SET inside
// a block) fails the block as well.
func TestClientSetRefusalFailsTheBlock(t *testing.T) {
	t.Parallel()
	f, _ := abortFixture(t)
	ctx := context.Background()
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec} {
		conn := f.connect(t, "alice", mode)
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "SET application_name = 'x'"); !isRule(err, "settings.transaction") {
			t.Fatalf("%v: SET in a block: %v", mode, err)
		}
		if st := conn.PgConn().TxStatus(); st != 'E' {
			t.Fatalf("%v: status %c after the refusal", mode, st)
		}
		if err := tx.Commit(ctx); !errors.Is(err, pgx.ErrTxCommitRollback) {
			t.Fatalf("%v: commit: %v", mode, err)
		}
	}
}

// psql shows through pgmoat what it shows from PostgreSQL: the command
// tags (COMMIT answered ROLLBACK), the SQLSTATE of each statement.
func TestRefusalFailsPsqlTransactions(t *testing.T) {
	t.Parallel()
	f, direct := abortFixture(t)
	script := func(failing string) string {
		return strings.Join([]string{
			"BEGIN;", "SELECT count(*) FROM item_notes;", failing + ";", `\echo :SQLSTATE`,
			"SELECT 1;", `\echo :SQLSTATE`, "COMMIT;", "SELECT 2;",
		}, "\n") + "\n"
	}
	run := func(conninfo, sql string) string {
		cmd := exec.Command(needTool(t, "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=0", "-d", conninfo)
		cmd.Stdin = strings.NewReader(sql)
		out, _ := cmd.CombinedOutput()
		// The messages differ: pgmoat's names its rule, PostgreSQL's
		// points into the text.
		text := regexp.MustCompile(`(?m)^LINE 1: .*\n +\^\n`).ReplaceAllString(string(out), "")
		return regexp.MustCompile(`(?m)^ERROR:  (pgmoat: relation\.denied: |permission denied for schema hidden).*$`).ReplaceAllString(text, "ERROR 42501")
	}
	want := run(direct, script(deniedSQL))
	got := run(f.dsn("alice"), script(deniedSQL))
	if got != want {
		t.Fatalf("through pgmoat:\n%s\nPostgreSQL:\n%s", got, want)
	}
	if !strings.Contains(want, "25P02") || !strings.Contains(want, "ROLLBACK") {
		t.Fatalf("PostgreSQL did not fail the block:\n%s", want)
	}
}

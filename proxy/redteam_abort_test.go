package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
)

// Attacks on the stand-in that fails the server's transaction for an
// error the session answers itself (abort.go): each sequence is sent to
// PostgreSQL directly, where the server raises the error itself, and
// through pgmoat, where the session does, and the two transcripts must
// be the same, byte for byte but for the error messages, which differ.

// rtStep is one write of a sequence and what ends its answers: readies
// ReadyForQuery messages (-1: one per Query, FunctionCall and Sync in
// it), then, when untilError is set, an ErrorResponse (a batch ended by
// Flush, whose answers come without ReadyForQuery).
type rtStep struct {
	msgs       []pgproto3.FrontendMessage
	readies    int
	untilError bool
}

// w is a step whose answers end at one ReadyForQuery per message that
// asks for one.
func w(msgs ...pgproto3.FrontendMessage) rtStep { return rtStep{msgs: msgs, readies: -1} }

// wn is a step whose answers end at n ReadyForQuery messages.
func wn(n int, msgs ...pgproto3.FrontendMessage) rtStep { return rtStep{msgs: msgs, readies: n} }

// wErr is a step whose answers end at an ErrorResponse.
func wErr(msgs ...pgproto3.FrontendMessage) rtStep { return rtStep{msgs: msgs, untilError: true} }

// rtWait bounds the wait for one answer: a session waiting for an
// answer the server never sends shows up as a timeout.
const rtWait = 5 * time.Second

// rtTranscript sends each step whole and writes down what comes back:
// error SQLSTATEs (equiv maps PostgreSQL's to the one pgmoat answers in
// their place), command tags, reports, statuses and message types. It
// stops at a timeout, and fails the test if anything of the stand-in
// the session sent its backend reaches the client.
func rtTranscript(t *testing.T, dsn string, steps []rtStep, equiv map[string]string) string {
	t.Helper()
	h := hijacked(t, dsn)
	defer h.Conn.Close()
	var b strings.Builder
	for _, st := range steps {
		readies := st.readies
		if readies < 0 {
			readies = 0
			for _, m := range st.msgs {
				switch m.(type) {
				case *pgproto3.Query, *pgproto3.Sync, *pgproto3.FunctionCall:
					readies++
				}
			}
		}
		for _, m := range st.msgs {
			h.Frontend.Send(m)
		}
		if err := h.Frontend.Flush(); err != nil {
			t.Fatal(err)
		}
		wantErr := st.untilError
		for readies > 0 || wantErr {
			_ = h.Conn.SetReadDeadline(time.Now().Add(rtWait))
			m, err := h.Frontend.Receive()
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				b.WriteString("TIMEOUT\n")
				return b.String()
			}
			if err != nil {
				t.Fatalf("%s\nthen: %v", b.String(), err)
			}
			switch x := m.(type) {
			case *pgproto3.ErrorResponse:
				if strings.Contains(x.Message, `near "pgmoat"`) || strings.Contains(x.Message, "refused the client") {
					t.Errorf("the server's error to the stand-in reached the client: %+v", x)
				}
				code := x.Code
				if to, ok := equiv[code]; ok && !strings.HasPrefix(x.Message, "pgmoat: ") {
					code = to
				}
				fmt.Fprintf(&b, "E %s\n", code)
				wantErr = false
			case *pgproto3.CommandComplete:
				fmt.Fprintf(&b, "C %s\n", x.CommandTag)
			case *pgproto3.ReadyForQuery:
				fmt.Fprintf(&b, "Z %c\n", x.TxStatus)
				readies--
			case *pgproto3.ParameterStatus:
				if x.Name == "application_name" || x.Name == "DateStyle" {
					fmt.Fprintf(&b, "S %s=%s\n", x.Name, x.Value)
				}
			case *pgproto3.DataRow:
				fmt.Fprintf(&b, "D %q\n", x.Values)
			default:
				fmt.Fprintf(&b, "%T\n", m)
			}
		}
		b.WriteString("--\n")
	}
	return b.String()
}

// rtCase is an attack: steps, and the SQLSTATEs of PostgreSQL's errors
// that stand for pgmoat's own where PostgreSQL has no such refusal.
type rtCase struct {
	steps []rtStep
	equiv map[string]string
}

// runAttacks compares each case's transcript through pgmoat with
// PostgreSQL's.
func runAttacks(t *testing.T, f *proxyFixture, direct string, cases map[string]rtCase) {
	t.Helper()
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			want := rtTranscript(t, direct, c.steps, c.equiv)
			got := rtTranscript(t, f.dsn("alice"), c.steps, nil)
			if got != want {
				t.Fatalf("through pgmoat:\n%s\nPostgreSQL:\n%s", got, want)
			}
		})
	}
}

// fnCall is a FunctionCall: pgmoat refuses the message (08P01); the
// oracle calls a function that does not exist (42883).
var fnCall = &pgproto3.FunctionCall{Function: 0, ResultFormatCode: 0}

var fnEquiv = map[string]string{"42883": codeProtocol}

// Attacks that held: the stand-in fails for certain, the queue of owed
// answers stays in step with the server whatever comes before and after
// the refusal, the client gets one error per batch and pgmoat's in the
// place of the server's, and nothing outlives the transaction.
func TestRedteamAbortHeld(t *testing.T) {
	t.Parallel()
	f, direct := abortFixture(t)
	p, b, e, q := parseMsg, bindMsg, executeMsg, queryMsg
	flush := &pgproto3.Flush{}
	cases := map[string]rtCase{
		"FunctionCall in a block": {steps: []rtStep{w(q("BEGIN")), w(fnCall), w(q("SELECT 1")), w(q("COMMIT"))}, equiv: fnEquiv},
		"FunctionCall in an open batch": {steps: []rtStep{
			w(q("BEGIN")), w(p("", "SELECT 1"), b("", ""), e(""), fnCall, syncMsg), w(q("COMMIT")),
		}, equiv: fnEquiv},
		"server error then denial in a batch": {steps: []rtStep{
			w(p("", "SELECT 1/0"), b("", ""), e(""), p("", deniedSQL), b("", ""), e(""), syncMsg),
			w(q("BEGIN")),
			w(p("", "SELECT 1/0"), b("", ""), e(""), p("", deniedSQL), b("", ""), e(""), syncMsg),
			w(q("COMMIT")),
		}},
		"denial then server error in a batch": {steps: []rtStep{
			w(p("", deniedSQL), b("", ""), e(""), p("", "SELECT 1/0"), b("", ""), e(""), syncMsg),
			w(q("BEGIN")),
			w(p("", "SELECT 1"), b("", ""), e(""), p("", deniedSQL), b("", ""), e(""), p("", "SELECT 1/0"), b("", ""), e(""), syncMsg),
			w(q("COMMIT")),
		}},
		"server error then simple denial in an open batch": {steps: []rtStep{
			wn(1, p("", "SELECT 1/0"), b("", ""), e(""), q(deniedSQL), syncMsg),
			w(q("BEGIN")),
			wn(1, p("", "SELECT 1/0"), b("", ""), e(""), q(deniedSQL), syncMsg),
			w(q("COMMIT")),
		}},
		"denial after a COMMIT inside a batch": {steps: []rtStep{
			w(q("BEGIN")),
			w(p("", "COMMIT"), b("", ""), e(""), p("", deniedSQL), b("", ""), e(""), syncMsg),
			w(q("SELECT 1")),
			w(q("BEGIN")),
			w(p("", "COMMIT"), b("", ""), e(""), q(deniedSQL), p("", "SELECT 2"), b("", ""), e(""), syncMsg),
			w(q("SELECT 3")),
		}},
		"denial after BEGIN inside a batch": {steps: []rtStep{
			w(p("", "BEGIN"), b("", ""), e(""), p("", deniedSQL), b("", ""), e(""), syncMsg),
			w(q("SELECT 1")),
			w(q("COMMIT")),
		}},
		"denial ended by Flush": {steps: []rtStep{
			w(q("BEGIN")),
			wErr(p("", "SELECT 1"), b("", ""), e(""), p("", deniedSQL), flush),
			w(p("", "SELECT 2"), syncMsg),
			w(q("COMMIT")),
			wErr(p("", "SELECT 1"), b("", ""), e(""), p("", deniedSQL), flush),
			w(syncMsg),
			wErr(p("", deniedSQL)),
			w(syncMsg),
		}},
		"denial then Describe and Close": {steps: []rtStep{
			w(q("BEGIN")),
			w(p("s1", "SELECT 1"), syncMsg),
			w(p("", deniedSQL), &pgproto3.Describe{ObjectType: 'S', Name: "s1"}, &pgproto3.Close{ObjectType: 'S', Name: "s1"}, &pgproto3.Close{ObjectType: 'P', Name: ""}, syncMsg),
			w(q("ROLLBACK")),
			w(b("s1", ""), e(""), syncMsg),
		}},
		"client statement and portal named like the stand-in": {steps: []rtStep{
			w(p(refusedStmt, "SELECT 1"), syncMsg),
			w(q("BEGIN")),
			w(p("", deniedSQL), syncMsg),
			w(b(refusedStmt, refusedStmt), e(refusedStmt), syncMsg),
			w(q("ROLLBACK")),
			w(q("BEGIN")),
			w(b(refusedStmt, refusedStmt), syncMsg),
			w(p("", deniedSQL), syncMsg),
			w(e(refusedStmt), syncMsg),
			w(q("ROLLBACK")),
			w(b(refusedStmt, refusedStmt), e(refusedStmt), syncMsg),
			w(p(refusedStmt, "SELECT 2"), syncMsg),
		}},
		"unnamed statement after a denied Parse in a block": {steps: []rtStep{
			w(q("BEGIN")),
			w(p("", "ROLLBACK"), syncMsg),
			w(p("", deniedSQL), syncMsg),
			w(b("", ""), e(""), syncMsg),
			w(q("SELECT 1")),
		}},
		"named statement survives a denied Query in a failed block": {steps: []rtStep{
			w(q("BEGIN")),
			w(p("rb", "ROLLBACK"), syncMsg),
			w(q(deniedSQL)),
			w(b("rb", ""), e(""), syncMsg),
			w(q("SELECT 1")),
		}},
		"suspended portal then denial": {steps: []rtStep{
			w(q("BEGIN")),
			w(p("", "SELECT generate_series(1,3)"), b("", "c"), &pgproto3.Execute{Portal: "c", MaxRows: 1}, syncMsg),
			w(p("", deniedSQL), syncMsg),
			w(&pgproto3.Execute{Portal: "c", MaxRows: 1}, syncMsg),
			w(q("ROLLBACK")),
		}},
		"simple denial pipelined after syncs": {steps: []rtStep{
			w(p("", "SELECT 1"), b("", ""), e(""), syncMsg, q(deniedSQL), p("", "SELECT 2"), b("", ""), e(""), syncMsg, q("BEGIN"), q(deniedSQL), p("", "SELECT 3"), b("", ""), e(""), syncMsg, q("ROLLBACK")),
		}},
		"denial in an open batch after a SET": {steps: []rtStep{
			w(p("", "SET DateStyle = 'SQL, DMY'"), b("", ""), e(""), q(deniedSQL), syncMsg),
			w(q("SHOW DateStyle")),
		}},
		"DEALLOCATE error in an open batch in a block": {steps: []rtStep{
			w(q("BEGIN")), w(p("", "SELECT 1"), b("", ""), e(""), q("DEALLOCATE nosuch"), syncMsg), w(q("SELECT 2")), w(q("COMMIT")),
		}},
	}
	runAttacks(t, f, direct, cases)
}

// After an error in an extended batch PostgreSQL ignores every message
// up to Sync, a FunctionCall too. The session refused the FunctionCall
// anyway: with a backend held it sent the stand-in, which the server
// ignores as well, and waited for its answer for ever, holding the
// backend after the client hung up; with none held it answered an error
// and a ReadyForQuery PostgreSQL never sends.
func TestFunctionCallInAFailedBatchIsIgnored(t *testing.T) {
	t.Parallel()
	f, direct := abortFixture(t)
	p, b, e, q := parseMsg, bindMsg, executeMsg, queryMsg
	runAttacks(t, f, direct, map[string]rtCase{
		"FunctionCall after a denial in a batch": {steps: []rtStep{
			w(q("BEGIN")), wn(1, p("", deniedSQL), fnCall, syncMsg), w(q("ROLLBACK")),
		}, equiv: fnEquiv},
		"FunctionCall after a 26000 outside a block": {steps: []rtStep{
			wn(1, b("nosuch", ""), fnCall, syncMsg), w(q("SELECT 1")),
		}, equiv: fnEquiv},
		"FunctionCall after a server error in a batch": {steps: []rtStep{
			w(q("BEGIN")), wn(1, p("", "SELECT 1/0"), b("", ""), e(""), fnCall, syncMsg), w(q("ROLLBACK")),
		}, equiv: fnEquiv},
	})
}

// A SET or DEALLOCATE in a simple Query that ends an extended batch left
// open runs in the batch's implicit transaction in PostgreSQL: when it
// fails, the batch's SETs are rolled back with it. The session settled
// them before it answered the Query, and kept them when it refused it.
func TestRefusedSetFailsTheOpenBatchSets(t *testing.T) {
	t.Parallel()
	f, direct := abortFixture(t)
	p, b, e, q := parseMsg, bindMsg, executeMsg, queryMsg
	runAttacks(t, f, direct, map[string]rtCase{
		"refused TimeZone in an open batch after a SET": {steps: []rtStep{
			w(p("", "SET DateStyle = 'SQL, DMY'"), b("", ""), e(""), q("SET TimeZone = 'Nowhere/Land'"), syncMsg),
			w(q("SHOW DateStyle")),
		}},
		"DEALLOCATE error in an open batch after a SET": {steps: []rtStep{
			w(p("", "SET DateStyle = 'SQL, DMY'"), b("", ""), e(""), q("DEALLOCATE nosuch"), syncMsg),
			w(q("SHOW DateStyle")),
		}},
		"SET taken after a SET in an open batch": {steps: []rtStep{
			w(p("", "SET DateStyle = 'SQL, DMY'"), b("", ""), e(""), q("SET TimeZone = 'UTC'"), syncMsg),
			w(q("SHOW DateStyle")),
			w(p("", "SET DateStyle = 'ISO, MDY'"), b("", ""), e(""), q("DEALLOCATE ALL"), syncMsg),
			w(q("SHOW DateStyle")),
			w(p("", "SET DateStyle = 'SQL, DMY'"), b("", ""), e(""), q("SET DateStyle = 'German, DMY'"), syncMsg),
			w(p("", "SET DateStyle = 'ISO, MDY'"), b("", ""), e(""), q(""), syncMsg),
			w(q("SHOW DateStyle")),
		}},
	})
}

// In a transaction block that failed, PostgreSQL refuses every statement
// but COMMIT and ROLLBACK with 25P02 before it reads any table; a
// denial there is answered 25P02 too, so that a client sees the same
// errors as from PostgreSQL.
func TestRefusalInAFailedBlockIs25P02(t *testing.T) {
	t.Parallel()
	f, direct := abortFixture(t)
	p, b, e, q := parseMsg, bindMsg, executeMsg, queryMsg
	runAttacks(t, f, direct, map[string]rtCase{
		"many denials in a row in a block": {steps: []rtStep{w(q("BEGIN"), q(deniedSQL), q(deniedSQL), q("SELECT 1"), q(deniedSQL), q("COMMIT"))}},
		"many denials in one extended batch": {steps: []rtStep{
			w(q("BEGIN")),
			w(p("", deniedSQL), b("", ""), e(""), p("", deniedSQL), b("", ""), e(""), syncMsg, p("", deniedSQL), syncMsg, p("", "SELECT 1"), b("", ""), e(""), syncMsg),
			w(q("COMMIT")),
			w(p("", deniedSQL), b("", ""), e(""), p("", deniedSQL), syncMsg, p("", deniedSQL), syncMsg, p("", "SELECT 1"), b("", ""), e(""), syncMsg),
		}},
		"denial in a failed block": {steps: []rtStep{
			w(q("BEGIN")), w(q("SELECT 1/0")), w(q(deniedSQL)), w(p("", deniedSQL), syncMsg), w(q("COMMIT")),
		}},
		"stand-in leaves no statement behind": {steps: []rtStep{
			w(q("BEGIN")),
			w(p("", deniedSQL), syncMsg),
			w(q(deniedSQL)),
			w(q("ROLLBACK")),
			w(p(refusedStmt, "SELECT 1"), b(refusedStmt, ""), e(""), syncMsg),
			w(q("BEGIN")),
			w(p("", deniedSQL), syncMsg),
			w(q("ROLLBACK")),
		}},
		"FunctionCall in a failed block": {steps: []rtStep{
			w(q("BEGIN")), w(q("SELECT 1/0")), w(fnCall), w(q("ROLLBACK")),
		}},
		"SET in a failed block": {steps: []rtStep{
			w(q("BEGIN")), w(q("SELECT 1/0")), w(q("SET application_name = 'x'")), w(q("ROLLBACK")),
		}},
		"Parse of a name in use in a failed block": {steps: []rtStep{
			w(q("BEGIN")), w(p("s1", "SELECT 1"), syncMsg), w(q("SELECT 1/0")), w(p("s1", "SELECT 2"), syncMsg), w(q("ROLLBACK")),
		}},
		"denial after ROLLBACK in a batch": {steps: []rtStep{
			w(q("BEGIN")), w(q("SELECT 1/0")),
			w(p("", "ROLLBACK"), b("", ""), e(""), p("", deniedSQL), b("", ""), e(""), syncMsg),
			w(q("SELECT 1")),
		}},
		"denial of a syntax error in a failed block": {steps: []rtStep{
			w(q("BEGIN")), w(q("SELECT 1/0")), w(q("SELEC 1")), w(p("", "SELEC 1"), syncMsg), w(q("ROLLBACK")),
		}},
	})
}

// Behind PgBouncer in transaction mode the stand-in goes to whichever
// server connection the pooler gives the transaction, the one the
// block's statements ran on: the block fails there, and the extended
// stand-in's name is never created, so a second one does not collide.
func TestRedteamAbortBehindPgBouncer(t *testing.T) {
	t.Parallel()
	f, direct := abortFixture(t)
	p, b, e, q := parseMsg, bindMsg, executeMsg, queryMsg
	runAttacks(t, behindBouncer(t, f), direct, map[string]rtCase{
		"simple and extended denials in blocks": {steps: []rtStep{
			w(q("BEGIN")), w(q(deniedSQL)), w(q("SELECT 1")), w(q("COMMIT")),
			w(q("BEGIN")), w(p("", "SELECT 1"), b("", ""), e(""), p("", deniedSQL), syncMsg), w(p("", deniedSQL), syncMsg), w(q("COMMIT")),
			w(q("BEGIN")), w(p("", deniedSQL), syncMsg), w(q("ROLLBACK")),
			w(p("", "SELECT 2"), b("", ""), e(""), p("", deniedSQL), b("", ""), e(""), syncMsg),
		}},
	})
}

// A client that hangs up right after a refusal, its stand-in's answer
// unread and its block open, leaves the backend (the pool's only one) to
// the next identity clean: its block rolled back, out of any
// transaction.
func TestRedteamAbortHangUpAfterRefusal(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1})
	hj := hijacked(t, f.dsn("alice"))
	_ = hj.Conn.SetDeadline(time.Now().Add(20 * time.Second))
	fe := hj.Frontend
	fe.Send(queryMsg("BEGIN"))
	fe.Send(parseMsg("", deniedSQL))
	fe.Send(&pgproto3.Flush{})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := until(t, fe); string(got) != "CZ" {
		t.Fatalf("BEGIN: %q", got)
	}
	if m, err := fe.Receive(); err != nil {
		t.Fatal(err)
	} else if e, ok := m.(*pgproto3.ErrorResponse); !ok || e.Code != codeDenied {
		t.Fatalf("the denial: %#v", m)
	}
	fe.Send(parseMsg("", deniedSQL)) // never answered: the batch is skipping
	_ = fe.Flush()
	_ = hj.Conn.Close()
	ctx := context.Background()
	conn := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 50 {
		t.Fatalf("the next lending: %d, %v", n, err)
	}
	if st := conn.PgConn().TxStatus(); st != 'I' {
		t.Fatalf("status %c", st)
	}
}

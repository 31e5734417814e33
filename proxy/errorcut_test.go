package proxy

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// errorThenReady is a backend's ErrorResponse followed by ReadyForQuery.
func errorThenReady(t *testing.T, e *pgproto3.ErrorResponse) []byte {
	t.Helper()
	buf, err := e.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	buf, _ = (&pgproto3.ReadyForQuery{TxStatus: 'I'}).Encode(buf)
	return buf
}

// An ErrorResponse larger than the reused buffer is cut to fit it, field
// by field, whatever its size (past the decode limit too): the SQLSTATE
// and the short fields whole, a huge message cut on a character boundary
// and marked, and the reader still in step for the next message.
func TestHugeBackendErrorIsCut(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		message string
		detail  string
	}{
		{"ascii message", strings.Repeat("x", 10<<20), "a detail"},
		{"multibyte message", strings.Repeat("é", 3<<20), ""},
		{"huge message and detail", strings.Repeat("m", 1<<20), strings.Repeat("d", 1<<20)},
		{"just over the buffer", strings.Repeat("y", keptBody), "after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := errorThenReady(t, &pgproto3.ErrorResponse{
				Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: "22P02",
				Message: tc.message, Detail: tc.detail, Hint: "a hint", File: "numutils.c", Line: 232, Routine: "pg_strtoint32",
			})
			rr := newRawReader(bytes.NewReader(in), 1<<20) // a decode limit below the message
			typ, body, big, err := rr.nextSmall()
			if err != nil || typ != 'E' || big != 0 {
				t.Fatalf("next: %q %d %v", typ, big, err)
			}
			if len(body) > keptBody {
				t.Fatalf("error body of %d bytes kept, want at most %d", len(body), keptBody)
			}
			var got pgproto3.ErrorResponse
			if err := got.Decode(body); err != nil {
				t.Fatalf("the cut error does not decode: %v", err)
			}
			if got.Code != "22P02" || got.Severity != "ERROR" || got.Routine != "pg_strtoint32" || got.Line != 232 || got.Hint != "a hint" {
				t.Errorf("short fields lost: %+v", got)
			}
			for name, pair := range map[string][2]string{"message": {tc.message, got.Message}, "detail": {tc.detail, got.Detail}} {
				sent, kept := pair[0], pair[1]
				if len(sent) <= errorFieldMax {
					if kept != sent {
						t.Errorf("%s of %d bytes changed to %d", name, len(sent), len(kept))
					}
					continue
				}
				prefix, note, ok := strings.Cut(kept, " ... [")
				if !ok || !strings.HasPrefix(sent, prefix) || !strings.HasSuffix(note, "more bytes cut by pgmoat]") || len(prefix) < errorFieldMax-4 {
					t.Errorf("%s cut to %.60q ... %q", name, kept, note)
				}
				if !utf8.ValidString(kept) {
					t.Errorf("%s cut inside a character", name)
				}
			}
			if typ, body, err := rr.next(); err != nil || typ != 'Z' || string(body) != "I" {
				t.Fatalf("after the error: %q %q %v", typ, body, err)
			}
		})
	}
}

// A malformed huge ErrorResponse (a field without its NUL) is an error,
// not a read into the next message.
func TestMalformedHugeBackendError(t *testing.T) {
	t.Parallel()
	body := append([]byte{'M'}, bytes.Repeat([]byte("x"), 200<<10)...)
	msg := append([]byte{'E', 0, 0, 0, 0}, body...)
	msg[1], msg[2], msg[3], msg[4] = byte((len(body)+4)>>24), byte((len(body)+4)>>16), byte((len(body)+4)>>8), byte(len(body)+4)
	msg = append(msg, errorThenReady(t, &pgproto3.ErrorResponse{Severity: "ERROR", Code: "XX000", Message: "next"})...)
	rr := newRawReader(bytes.NewReader(msg), 1<<20)
	if _, _, err := rr.next(); err == nil {
		t.Fatal("a malformed ErrorResponse was read as one")
	}
}

// Through the proxy, against PostgreSQL: an error quoting a value larger
// than the pool's decode limit reaches the client cut, with its SQLSTATE,
// and the session serves on. (Before, it ended the client with 08006
// backend.lost "invalid length"; below the limit, it was passed whole.)
func TestHugeServerErrorReachesTheClientCut(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMaxMessage: 1 << 20})
	ctx := context.Background()
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec} {
		conn := f.connect(t, "alice", mode)
		_, err := conn.Exec(ctx, "SELECT repeat('x', 3000000)::int")
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "22P02" {
			t.Fatalf("%v: %v, want 22P02", mode, err)
		}
		if len(pgErr.Message) > errorFieldMax+64 || !strings.HasPrefix(pgErr.Message, `invalid input syntax for type integer: "xxx`) ||
			!strings.HasSuffix(pgErr.Message, "more bytes cut by pgmoat]") {
			t.Fatalf("%v: message of %d bytes: %.80q...", mode, len(pgErr.Message), pgErr.Message)
		}
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n == 0 {
			t.Fatalf("%v: after the error: %d, %v", mode, n, err)
		}
	}
}

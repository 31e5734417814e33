package proxy

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

func encode(t *testing.T, msgs ...pgproto3.FrontendMessage) []byte {
	t.Helper()
	var out []byte
	for _, m := range msgs {
		var err error
		if out, err = m.Encode(out); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// oneByOne hands over one chunk per Read, as a socket does.
type oneByOne struct{ chunks [][]byte }

func (r *oneByOne) Read(p []byte) (int, error) {
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.chunks[0])
	if n == len(r.chunks[0]) {
		r.chunks = r.chunks[1:]
	} else {
		r.chunks[0] = r.chunks[0][n:]
	}
	return n, nil
}

// An idle session holds no read buffer: the pooled buffer a message was
// read into goes back once it has been handled, before the reader waits
// for the client again.
func TestClientReaderHoldsNoPooledBufferWhenIdle(t *testing.T) {
	t.Parallel()
	pool := newReadPools()
	long := "SELECT '" + strings.Repeat("x", 3000) + "'"
	huge := "SELECT '" + strings.Repeat("y", 3*pooledRead) + "'"
	src := &oneByOne{chunks: [][]byte{
		encode(t, &pgproto3.Parse{Query: "SELECT 1"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{}),
		encode(t, &pgproto3.Query{String: long}),
		encode(t, &pgproto3.Query{String: huge}),
		encode(t, &pgproto3.Sync{}),
	}}
	cr := newClientReader(src, pool, 1<<20)
	want := []string{"*pgproto3.Parse", "*pgproto3.Bind", "*pgproto3.Execute", "*pgproto3.Sync", long, huge, "*pgproto3.Sync"}
	for i, w := range want {
		msg, err := cr.Receive()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		got := typeName(msg)
		if q, ok := msg.(*pgproto3.Query); ok {
			got = q.String
		}
		if got != w {
			t.Fatalf("message %d = %.40q, want %.40q", i, got, w)
		}
	}
	if _, err := cr.Receive(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last message: %v, want EOF", err)
	}
	if cr.big != nil || cr.own != nil || cr.msgs != nil || cr.buf != nil {
		t.Fatal("an idle reader still holds a buffer")
	}
}

// A message split across reads is put together.
func TestClientReaderSplitMessages(t *testing.T) {
	t.Parallel()
	wire := encode(t, &pgproto3.Query{String: "SELECT 1"}, &pgproto3.Query{String: "SELECT 2"})
	var chunks [][]byte
	for _, b := range wire {
		chunks = append(chunks, []byte{b})
	}
	pool := newReadPools()
	cr := newClientReader(&oneByOne{chunks: chunks}, pool, 0)
	for _, want := range []string{"SELECT 1", "SELECT 2"} {
		msg, err := cr.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if q := msg.(*pgproto3.Query).String; q != want {
			t.Fatalf("got %q, want %q", q, want)
		}
	}
}

func TestClientReaderLimits(t *testing.T) {
	t.Parallel()
	pool := newReadPools()
	big := encode(t, &pgproto3.Query{String: strings.Repeat("x", 200)})
	_, err := newClientReader(bytes.NewReader(big), pool, 100).Receive()
	var tooBig *pgproto3.ExceededMaxBodyLenErr
	if !errors.As(err, &tooBig) || tooBig.ActualBodyLen != 201 {
		t.Errorf("over the limit: %v", err)
	}
	if _, err := newClientReader(bytes.NewReader([]byte{'Z', 0, 0, 0, 4}), pool, 0).Receive(); err == nil {
		t.Error("an unknown message type was accepted")
	}
	cut := encode(t, &pgproto3.Query{String: "SELECT 1"})
	if _, err := newClientReader(bytes.NewReader(cut[:7]), pool, 0).Receive(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a message cut short: %v, want unexpected EOF", err)
	}
}

func typeName(m any) string {
	switch m.(type) {
	case *pgproto3.Parse:
		return "*pgproto3.Parse"
	case *pgproto3.Bind:
		return "*pgproto3.Bind"
	case *pgproto3.Execute:
		return "*pgproto3.Execute"
	case *pgproto3.Sync:
		return "*pgproto3.Sync"
	}
	return "?"
}

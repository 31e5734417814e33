package proxy

import (
	"bytes"
	"encoding/binary"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// bigRowAnswer writes RowDescription, then a one-column DataRow whose
// value is size 'x' bytes of which only sent are written, then (when the
// row is whole) CommandComplete and ReadyForQuery.
func bigRowAnswer(w io.Writer, size, sent int) bool {
	var b []byte
	b, _ = (&pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{Name: []byte("v"), DataTypeOID: 25, DataTypeSize: -1, TypeModifier: -1}}}).Encode(b)
	b = append(b, 'D')
	b = binary.BigEndian.AppendUint32(b, uint32(4+2+4+size))
	b = binary.BigEndian.AppendUint16(b, 1)
	b = binary.BigEndian.AppendUint32(b, uint32(size))
	if _, err := w.Write(b); err != nil {
		return false
	}
	chunk := bytes.Repeat([]byte{'x'}, 64<<10)
	for left := sent; left > 0; left -= min(left, len(chunk)) {
		if _, err := w.Write(chunk[:min(left, len(chunk))]); err != nil {
			return false
		}
	}
	if sent < size {
		return false // the server dies inside the row
	}
	b, _ = (&pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")}).Encode(nil)
	b, _ = (&pgproto3.ReadyForQuery{TxStatus: 'I'}).Encode(b)
	_, err := w.Write(b)
	return err == nil
}

// TestScriptedLargeRowPassesThroughWhole: a row far larger than the
// message size pgmoat reads whole (64 KiB here) reaches the client
// intact, and the session and its backend serve on.
func TestScriptedLargeRowPassesThroughWhole(t *testing.T) {
	t.Parallel()
	const size = 5 << 20
	sb := &scriptedBackend{onQueryRaw: func(w io.Writer, q string) bool {
		if strings.HasPrefix(q, "SELECT 2") { // with the LIMIT policy adds
			return bigRowAnswer(w, 1, 1)
		}
		return bigRowAnswer(w, size, size)
	}}
	srv := scriptedServer(t, sb)
	srv.pool.cfg.MaxMessageSize = 64 << 10 // before the first backend opens
	client, done := pipeSession(srv)
	t.Cleanup(func() { client.Close() }) // before the pool's cleanup: a failed check leaves no writer blocked
	fe := pgproto3.NewFrontend(client, client)
	for _, q := range []string{"SELECT 1", "SELECT 2"} {
		fe.Send(&pgproto3.Query{String: q})
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		var rows int
		for {
			msg, err := fe.Receive()
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			if dr, ok := msg.(*pgproto3.DataRow); ok {
				rows++
				if want := map[string]int{"SELECT 1": size, "SELECT 2": 1}[q]; len(dr.Values) != 1 || len(dr.Values[0]) != want || bytes.Count(dr.Values[0], []byte{'x'}) != want {
					t.Fatalf("%s: a row of %d values, the first %d bytes", q, len(dr.Values), len(dr.Values[0]))
				}
			}
			if e, ok := msg.(*pgproto3.ErrorResponse); ok {
				t.Fatalf("%s: %s %s", q, e.Code, e.Message)
			}
			if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
				break
			}
		}
		if rows != 1 {
			t.Fatalf("%s: %d rows", q, rows)
		}
	}
	client.Close()
	<-done
	if st := srv.pool.Stats(); st.Created != 1 || st.Closed != 0 {
		t.Fatalf("the backend did not serve on: %+v", st)
	}
}

// TestScriptedBackendDyingInsideALargeRow: the client has part of a row
// and can be told nothing framed after it, so its connection is closed;
// the backend is discarded.
func TestScriptedBackendDyingInsideALargeRow(t *testing.T) {
	t.Parallel()
	sb := &scriptedBackend{onQueryRaw: func(w io.Writer, q string) bool {
		return bigRowAnswer(w, 1<<20, 200<<10)
	}}
	srv := scriptedServer(t, sb)
	client, done := pipeSession(srv)
	t.Cleanup(func() { client.Close() }) // before the pool's cleanup: a failed check leaves no writer blocked
	fe := pgproto3.NewFrontend(client, client)
	fe.Send(&pgproto3.Query{String: "SELECT 1"})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() {
		for {
			if _, err := fe.Receive(); err != nil {
				ended <- err
				return
			}
		}
	}()
	select {
	case err := <-ended:
		if err == nil {
			t.Fatal("no error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client was left waiting inside a row")
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("session did not end")
	}
	if st := srv.pool.Stats(); st.Open != 0 || st.Closed != 1 {
		t.Fatalf("the dead backend was kept: %+v", st)
	}
}

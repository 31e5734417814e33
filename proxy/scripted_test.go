package proxy

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/policy"
)

// scriptedBackend is an in-memory stand-in for PostgreSQL that answers
// the protocol generically, with hooks for the corner cases a real server
// will not produce on demand.
type scriptedBackend struct {
	// onQuery, when set, answers a simple Query instead of the default
	// (CommandComplete + ReadyForQuery); returning false closes the
	// connection.
	onQuery func(be *pgproto3.Backend, q string) bool
	// onQueryRaw, when set, answers a simple Query by writing bytes to
	// the connection itself; returning false closes it.
	onQueryRaw func(w io.Writer, q string) bool
	wg         sync.WaitGroup
}

func (sb *scriptedBackend) dial(context.Context, string, string) (net.Conn, error) {
	client, server := net.Pipe()
	sb.wg.Add(1)
	go func() {
		defer sb.wg.Done()
		defer server.Close()
		sb.serve(server)
	}()
	return client, nil
}

func (sb *scriptedBackend) serve(conn net.Conn) {
	be := pgproto3.NewBackend(conn, conn)
	if _, err := be.ReceiveStartupMessage(); err != nil {
		return
	}
	for _, m := range []pgproto3.BackendMessage{
		&pgproto3.AuthenticationOk{},
		&pgproto3.ParameterStatus{Name: "server_version", Value: "15.0"},
		&pgproto3.BackendKeyData{ProcessID: 42, SecretKey: []byte{1, 2, 3, 4}},
		&pgproto3.ReadyForQuery{TxStatus: 'I'},
	} {
		be.Send(m)
	}
	if be.Flush() != nil {
		return
	}
	for {
		msg, err := be.Receive()
		if err != nil {
			return
		}
		switch m := msg.(type) {
		case *pgproto3.Query:
			if sb.onQueryRaw != nil {
				if !sb.onQueryRaw(conn, m.String) {
					return
				}
				continue
			}
			if sb.onQuery != nil {
				if !sb.onQuery(be, m.String) {
					return
				}
				continue
			}
			be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 0")})
			be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
		case *pgproto3.Parse:
			be.Send(&pgproto3.ParseComplete{})
		case *pgproto3.Bind:
			be.Send(&pgproto3.BindComplete{})
		case *pgproto3.Describe:
			if m.ObjectType == 'S' {
				be.Send(&pgproto3.ParameterDescription{})
			}
			be.Send(&pgproto3.NoData{})
		case *pgproto3.Execute:
			be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 0")})
		case *pgproto3.Close:
			be.Send(&pgproto3.CloseComplete{})
		case *pgproto3.Sync:
			be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
		case *pgproto3.Terminate:
			return
		}
		if be.Flush() != nil {
			return
		}
	}
}

// scriptedServer is a Server whose pool reaches a scripted backend.
func scriptedServer(t testing.TB, sb *scriptedBackend) *Server {
	t.Helper()
	pool, err := NewPool(PoolConfig{DSN: "host=scripted user=r dbname=db sslmode=disable", Max: 2, AcquireTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	pool.guard = &roleGuard{checked: true} // no PostgreSQL, no role to check
	pool.connCfg.DialFunc = sb.dial
	pool.connCfg.LookupFunc = func(context.Context, string) ([]string, error) { return []string{"127.0.0.1"}, nil }
	engine, err := policy.New(policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(Config{Engine: engine, Pool: pool, MaxMessageSize: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close(); sb.wg.Wait() })
	return srv
}

// pipeSession runs a session over net.Pipe, skipping startup, and returns
// the client end. The session has finished when done is closed.
func pipeSession(srv *Server) (client net.Conn, done chan struct{}) {
	client, server := net.Pipe()
	sess := srv.newSession(server, "fuzz", policy.Identity{UserID: "1"}, nil, 4)
	done = make(chan struct{})
	go func() { defer close(done); sess.serve(context.Background()) }()
	return client, done
}

func TestScriptedBackendClosingMidQuery(t *testing.T) {
	t.Parallel()
	sb := &scriptedBackend{onQuery: func(be *pgproto3.Backend, q string) bool {
		if q == "SELECT 1 LIMIT 1000" || q == "SELECT 1" {
			be.Send(&pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{Name: []byte("x"), DataTypeOID: 23}}})
			_ = be.Flush()
			return false // the server dies before the row
		}
		be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 0")})
		be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
		return be.Flush() == nil
	}}
	srv := scriptedServer(t, sb)
	client, done := pipeSession(srv)
	fe := pgproto3.NewFrontend(client, client)
	fe.Send(&pgproto3.Query{String: "SELECT 1"})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	var sawFatal bool
	for !sawFatal {
		msg, err := fe.Receive()
		if err != nil {
			t.Fatalf("no FATAL before the connection ended: %v", err)
		}
		if e, ok := msg.(*pgproto3.ErrorResponse); ok && e.Severity == "FATAL" && e.Code == codeConnFailure {
			sawFatal = true
		}
	}
	client.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("session did not end")
	}
	if st := srv.pool.Stats(); st.Open != 0 || st.Closed != 1 {
		t.Fatalf("the dead backend was kept: %+v", st)
	}
}

func TestScriptedBackendUnsolicitedMessageIsNotReused(t *testing.T) {
	t.Parallel()
	sb := &scriptedBackend{onQuery: func(be *pgproto3.Backend, q string) bool {
		be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 0")})
		be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
		be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 0")}) // nobody asked
		return be.Flush() == nil
	}}
	srv := scriptedServer(t, sb)
	client, done := pipeSession(srv)
	fe := pgproto3.NewFrontend(client, client)
	fe.Send(&pgproto3.Query{String: "SELECT 1"})
	_ = fe.Flush()
	for {
		msg, err := fe.Receive()
		if err != nil {
			t.Fatalf("no ReadyForQuery: %v", err)
		}
		if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
			break
		}
	}
	// ReadyForQuery ends the lending: the backend is idle in the pool,
	// the stray message unread on its socket.
	waitUntil(t, 5*time.Second, "the backend back in the pool", func() bool { return srv.pool.Stats().Idle == 1 })
	go func() { _, _ = io.Copy(io.Discard, client) }()
	client.Close()
	<-done
	// The backend went back to the pool after ReadyForQuery; the stray
	// message must make the next lend find it not alive.
	b, err := srv.pool.acquire(context.Background(), borrower{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.pool.release(b)
	if srv.pool.Stats().Created != 2 {
		t.Fatalf("a backend with unread data was lent again: %+v", srv.pool.Stats())
	}
}

func FuzzClientMessages(f *testing.F) {
	seed := func(msgs ...pgproto3.FrontendMessage) []byte {
		var buf []byte
		for _, m := range msgs {
			buf, _ = m.Encode(buf)
		}
		return buf
	}
	f.Add(seed(&pgproto3.Query{String: "SELECT 1"}))
	f.Add(seed(&pgproto3.Query{String: "DELETE FROM t"}))
	f.Add(seed(&pgproto3.Parse{Name: "s", Query: "SELECT $1"}, &pgproto3.Bind{PreparedStatement: "s", Parameters: [][]byte{[]byte("1")}},
		&pgproto3.Describe{ObjectType: 'P'}, &pgproto3.Execute{}, &pgproto3.Sync{}))
	f.Add(seed(&pgproto3.Parse{Query: "SET x = 1"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{}))
	f.Add(seed(&pgproto3.Bind{PreparedStatement: "missing"}, &pgproto3.Sync{}, &pgproto3.Close{ObjectType: 'S', Name: "x"}, &pgproto3.Flush{}))
	f.Add(seed(&pgproto3.FunctionCall{Function: 1}))
	f.Add([]byte{'Q', 0, 0, 0, 3})
	f.Add([]byte{'P', 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		srv := scriptedServer(t, &scriptedBackend{})
		client, done := pipeSession(srv)
		go func() { _, _ = io.Copy(io.Discard, client) }()
		_ = client.SetWriteDeadline(time.Now().Add(2 * time.Second))
		_, _ = client.Write(data)
		_, _ = client.Write([]byte{'X', 0, 0, 0, 4}) // Terminate
		select {
		case <-done:
		case <-time.After(20 * time.Millisecond):
			// A message may still be incomplete: the client going away
			// must end the session all the same.
		}
		client.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("session did not end after the client left, on %q", data)
		}
	})
}

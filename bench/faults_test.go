package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// slowWrites is a connection whose writes return only after a pause once
// their bytes are sent, as on a busy machine: long enough for pgconn's
// background reader to start, read the server's reply, and begin another
// read before the write returns.
type slowWrites struct{ net.Conn }

func (c slowWrites) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	time.Sleep(60 * time.Millisecond)
	return n, err
}

// serveValue accepts one connection on ln, lets it in without a password
// and answers its one Query with a row of one value of size 'x's.
func serveValue(t *testing.T, ln net.Listener, size int) {
	t.Helper()
	conn, err := ln.Accept()
	if err != nil {
		t.Error(err)
		return
	}
	defer conn.Close()
	be := pgproto3.NewBackend(conn, conn)
	if _, err := be.ReceiveStartupMessage(); err != nil {
		t.Error(err)
		return
	}
	be.Send(&pgproto3.AuthenticationOk{})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if err := be.Flush(); err != nil {
		t.Error(err)
		return
	}
	if _, err := be.Receive(); err != nil {
		t.Error(err)
		return
	}
	be.Send(&pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{Name: []byte("repeat"), DataTypeOID: 25, DataTypeSize: -1, TypeModifier: -1}}})
	be.Send(&pgproto3.DataRow{Values: [][]byte{[]byte(strings.Repeat("x", size))}})
	be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	_ = be.Flush()
	_, _ = be.Receive() // until the client hangs up
}

// TestReadValueAfterSlowConnect reads a value on a connection whose
// connect left pgconn's background reader waiting in a read: the answer's
// first bytes go to that read, and must still reach the value's reader.
func TestReadValueAfterSlowConnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const size = 200_000
	done := make(chan struct{})
	go func() { defer close(done); serveValue(t, ln, size) }()

	cfg, err := configOf(endpoint{addr: ln.Addr().String(), db: "db", user: "u"})
	if err != nil {
		t.Fatal(err)
	}
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return slowWrites{c}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := readValue(ctx, cfg, size); err != nil {
		t.Fatalf("reading the value: %v", err)
	}
	<-done
}

//go:build unix

package proxy

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// tcpPair is a connected pair of loopback TCP sockets.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { _ = server.Close(); _ = client.Close() })
	return server, client
}

// On a plain socket the reader waits for its client through the RawConn
// holding no buffer: one taken for a read that found nothing goes back,
// a wait ended by a deadline or a hang-up leaves nothing held, and the
// wait reads the message that does come.
func TestClientReaderWaitsOnTheSocketWithoutABuffer(t *testing.T) {
	t.Parallel()
	server, client := tcpPair(t)
	cr := newClientReader(server, newReadPools(), 1<<20)
	if cr.raw == nil {
		t.Fatal("a TCP connection is not read through its RawConn")
	}
	idle := func(when string) {
		t.Helper()
		if cr.big != nil || cr.buf != nil || cr.own != nil || cr.msgs != nil {
			t.Fatalf("%s: the reader holds a buffer", when)
		}
	}
	_ = server.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := cr.Receive(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a wait past its deadline: %v", err)
	}
	idle("after a wait that found nothing")
	_ = server.SetReadDeadline(time.Time{})

	if _, err := client.Write(encode(t, &pgproto3.Query{String: "SELECT 1"}, &pgproto3.Sync{})); err != nil {
		t.Fatal(err)
	}
	msg, err := cr.Receive()
	if err != nil {
		t.Fatal(err)
	}
	if q, ok := msg.(*pgproto3.Query); !ok || q.String != "SELECT 1" {
		t.Fatalf("got %#v", msg)
	}
	if cr.buf == nil {
		t.Fatal("the Sync read with the Query is not buffered")
	}
	if _, err := cr.Receive(); err != nil {
		t.Fatal(err)
	}
	_ = client.Close()
	if _, err := cr.Receive(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the client hung up: %v, want EOF", err)
	}
	idle("after the client hung up")
}

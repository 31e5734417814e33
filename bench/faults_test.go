package main

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// slowStartup is a connection whose first write (the startup message)
// returns only once pgconn's background reader has read the server's
// reply and begun another read, as on a busy machine where the write
// outlasts pgconn's slow-write timer: the write waits on the reads it
// sees, not on a clock, and the background reader starts because it
// waits. Later writes pass straight through.
type slowStartup struct {
	net.Conn
	mu     sync.Mutex
	moved  *sync.Cond // signalled on each read begun or ended
	wrote  bool       // the first write has returned
	gaveUp bool       // the first write waited too long
	began  int        // reads begun
	read   int        // bytes read
}

func newSlowStartup(c net.Conn) *slowStartup {
	s := &slowStartup{Conn: c}
	s.moved = sync.NewCond(&s.mu)
	return s
}

func (c *slowStartup) Read(p []byte) (int, error) {
	c.mu.Lock()
	c.began++
	c.moved.Broadcast()
	c.mu.Unlock()
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.read += n
	c.moved.Broadcast()
	c.mu.Unlock()
	return n, err
}

func (c *slowStartup) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wrote || err != nil {
		return n, err
	}
	c.wrote = true
	stuck := time.AfterFunc(5*time.Second, func() {
		c.mu.Lock()
		c.gaveUp = true
		c.moved.Broadcast()
		c.mu.Unlock()
	})
	defer stuck.Stop()
	for !c.gaveUp && (c.read == 0 || c.began < 2) {
		c.moved.Wait()
	}
	if c.gaveUp {
		return n, errors.New("pgconn's background reader never read the startup reply")
	}
	return n, nil
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
		return newSlowStartup(c), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := readValue(ctx, cfg, size); err != nil {
		t.Fatalf("reading the value: %v", err)
	}
	<-done
}

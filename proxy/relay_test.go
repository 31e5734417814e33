package proxy

import (
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
)

// relayHooks change what a tcpRelay does with each connection; the zero
// value passes the bytes through both ways.
type relayHooks struct {
	// accepted runs in the accept loop as each connection comes in (so it
	// sees the relay's state at that moment); the func it returns, if
	// any, runs on the connection's own goroutine before the relay dials
	// the server. That func may hold the connection, and returns the bytes
	// it read from it (sent to the server first), or false to drop it.
	accepted func() func(c net.Conn) ([]byte, bool)
	// toServer, when set, copies what pgmoat sends in place of io.Copy:
	// a test so reads the messages on their way.
	toServer func(c, s net.Conn)
	// toClient, when set, copies what the server sends in place of
	// io.Copy; the relay closes pgmoat's side when it returns, so a test
	// so makes up how the server's connection ends.
	toClient func(s, c net.Conn)
}

// tcpRelay stands between the pool and PostgreSQL on loopback and passes
// each connection through, as its hooks say. Its accept loop and one
// goroutine a connection (two once the server is dialled) run until the
// test's cleanup closes the listener and every connection; front and
// back, guarded by mu, hold pgmoat's sides and the server's.
type tcpRelay struct {
	l      net.Listener
	target string
	hooks  relayHooks
	mu     sync.Mutex
	front  []net.Conn
	back   []net.Conn
	wg     sync.WaitGroup
}

func newTCPRelay(t *testing.T, port int, hooks relayHooks) *tcpRelay {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &tcpRelay{l: l, target: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), hooks: hooks}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(func() { _ = l.Close(); r.cut(); r.wg.Wait() })
	return r
}

func (r *tcpRelay) port() int { return r.l.Addr().(*net.TCPAddr).Port }

func (r *tcpRelay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.l.Accept()
		if err != nil {
			return
		}
		var hold func(net.Conn) ([]byte, bool)
		if r.hooks.accepted != nil {
			hold = r.hooks.accepted()
		}
		r.mu.Lock()
		r.front = append(r.front, c)
		r.mu.Unlock()
		r.wg.Add(1)
		go r.relay(c, hold)
	}
}

func (r *tcpRelay) relay(c net.Conn, hold func(net.Conn) ([]byte, bool)) {
	defer r.wg.Done()
	defer c.Close()
	var first []byte
	if hold != nil {
		var ok bool
		if first, ok = hold(c); !ok {
			return
		}
	}
	s, err := net.Dial("tcp", r.target)
	if err != nil {
		return
	}
	r.mu.Lock()
	r.back = append(r.back, s)
	r.mu.Unlock()
	defer s.Close()
	if _, err := s.Write(first); err != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		if r.hooks.toServer != nil {
			r.hooks.toServer(c, s)
		} else {
			_, _ = io.Copy(s, c)
		}
		_ = s.Close()
		close(done)
	}()
	if r.hooks.toClient != nil {
		r.hooks.toClient(s, c)
	} else {
		_, _ = io.Copy(c, s)
	}
	_ = c.Close()
	<-done
}

// cut closes every connection relayed so far, with no message: a
// connection that simply ends, as after a network cut or a crash.
func (r *tcpRelay) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range append(r.front, r.back...) {
		_ = c.Close()
	}
	r.front, r.back = nil, nil
}

package proxy

import (
	"encoding/binary"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Half-open logins, each stalled inside the SCRAM exchange after a few
// bytes of the longest answer pgmoat accepts, cost little memory each,
// and the startup timeout cuts every one of them. Not parallel: it reads
// the process's heap.
func TestRedAuthHalfOpenLoginFlood(t *testing.T) {
	f := newFixture(t, fixtureOptions{startupTimeout: 3 * time.Second})
	const n = 200
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	conns := make([]*redConn, n)
	for i := range conns {
		r := redDial(t, f.addr)
		if _, ok := r.startup(t, 0, map[string]string{"user": "mallory", "database": f.db}).(*pgproto3.AuthenticationSASL); !ok {
			t.Fatal("no SASL request")
		}
		header := binary.BigEndian.AppendUint32([]byte{'p'}, maxAuthMessage+4)
		if _, err := r.c.Write(append(header, 'S')); err != nil {
			t.Fatal(err)
		}
		conns[i] = r
	}
	for deadline := time.Now().Add(5 * time.Second); f.server.clients.Load() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d half-open logins reached the proxy", f.server.clients.Load(), n)
		}
	}
	// The proxy reads each header at once; the heap is measured once it
	// stops growing, well inside the startup timeout.
	per, last := int64(0), int64(-1)
	for deadline := time.Now().Add(time.Second); per != last && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		last, per = per, (int64(heap())-int64(before))/n
	}
	t.Logf("%d half-open logins: %d bytes of heap each", n, per)
	if per > 40<<10 { // 78 KiB with a 64 KiB limit on an answer
		t.Errorf("a half-open login holds %d bytes of heap", per)
	}
	began := time.Now()
	for _, r := range conns {
		_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadAll(r.c); err != nil {
			t.Fatalf("a half-open login was not cut: %v", err)
		}
	}
	if waited := time.Since(began); waited > 4*time.Second {
		t.Errorf("the half-open logins were held %v, with a 3 s startup timeout", waited)
	}
	if o := scramLogin(t, f.addr, f.db, "alice", scramAttempt{password: "alice"}); !o.loggedIn {
		t.Fatalf("alice after the flood: %s", o.shape("alice"))
	}
}

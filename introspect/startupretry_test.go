package introspect_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
	"github.com/pgmoat/pgmoat/introspect"
)

// startingServer stands in front of the cluster: its first refuse
// connections get what a server still starting up answers (FATAL 57P03)
// or, with code set, that error; the rest are passed through.
type startingServer struct {
	l       net.Listener
	refuse  int32
	code    string
	refused atomic.Int32
	wg      sync.WaitGroup
}

func newStartingServer(t *testing.T, refuse int32, code string) *startingServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &startingServer{l: l, refuse: refuse, code: code}
	s.wg.Go(s.serve)
	t.Cleanup(func() { _ = l.Close(); s.wg.Wait() })
	return s
}

func (s *startingServer) serve() {
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		if s.refused.Add(1) <= s.refuse {
			be := pgproto3.NewBackend(c, c)
			_, _ = be.ReceiveStartupMessage()
			be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: s.code, Message: "the database system is starting up"})
			_ = be.Flush()
			_ = c.Close()
			continue
		}
		s.refused.Add(-1)
		up, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", cluster.Port()))
		if err != nil {
			_ = c.Close()
			continue
		}
		s.wg.Go(func() { _, _ = io.Copy(up, c); _ = up.Close() })
		s.wg.Go(func() { _, _ = io.Copy(c, up); _ = c.Close() })
	}
}

// dsn is the cluster's DSN for db, through s.
func (s *startingServer) dsn(db string) string {
	_, port, _ := net.SplitHostPort(s.l.Addr().String())
	return strings.Replace(cluster.DSN(db), fmt.Sprintf("port=%d", cluster.Port()), "port="+port, 1)
}

// pgmoat may start while its database restarts: the first schema read
// waits for a server that is starting up, and fails at once on an error
// that waiting does not cure.
func TestFirstLoadWaitsForAStartingServer(t *testing.T) {
	db := pgcluster.NewDatabase(t, cluster)
	execSQL(t, cluster.DSN(db), "CREATE TABLE t (id int PRIMARY KEY)")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	s := newStartingServer(t, 3, "57P03")
	r, err := introspect.NewReloader(ctx, s.dsn(db), introspect.ReloaderOptions{NoListen: true})
	if err != nil {
		t.Fatalf("the first load gave up on a server starting up: %v", err)
	}
	if _, ok := r.Current().Relation("public", "t"); !ok || s.refused.Load() != 3 {
		t.Fatalf("snapshot without t, or %d refused connections (want 3)", s.refused.Load())
	}

	bad := newStartingServer(t, 1000, "28P01")
	start := time.Now()
	if _, err := introspect.NewReloader(ctx, bad.dsn(db), introspect.ReloaderOptions{NoListen: true}); err == nil || !strings.Contains(err.Error(), "28P01") {
		t.Fatalf("authentication failure: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second || bad.refused.Load() != 1 {
		t.Fatalf("an authentication failure was retried (%d tries in %v)", bad.refused.Load(), d)
	}
}

package pgcluster

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"
)

// Lazy is a cluster shared by a test binary and started by the first test
// that asks for it, so that a package whose tests are mostly pure starts
// no server when only those run (go test -run, -short). Use it from
// TestMain:
//
//	var cluster pgcluster.Lazy
//	func TestMain(m *testing.M) { os.Exit(cluster.Run(m)) }
//
// and call cluster.Get(t) in the tests that need a database. The zero
// value starts a cluster with the zero Options.
type Lazy struct {
	// Options configure the cluster; set them before the first Get.
	Options Options

	once sync.Once
	c    *Cluster
	err  error
}

// Get returns the cluster, starting it on the first call. When it cannot
// be started, every test that asks for it fails with the same reason.
func (l *Lazy) Get(t TB) *Cluster {
	t.Helper()
	l.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		l.c, l.err = Start(ctx, l.Options)
	})
	if l.err != nil {
		t.Fatalf("start throwaway PostgreSQL: %v", l.err)
	}
	return l.c
}

// Run runs the tests and stops the cluster if one of them started it.
func (l *Lazy) Run(m Runner) int {
	code := m.Run()
	// Calling once.Do here makes a Get after Run (a leaked goroutine of a
	// test) see an error instead of starting a cluster nobody stops.
	l.once.Do(func() { l.err = fmt.Errorf("the tests have finished") })
	if l.c == nil {
		return code
	}
	if err := l.c.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "pgcluster: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

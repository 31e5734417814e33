package pgcluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"
)

// Runner is what Shared needs of a *testing.M. Naming the method instead
// of importing package testing keeps the test framework out of binaries
// that start clusters (pgmoat demo, the bench harness).
type Runner interface{ Run() int }

// TB is the part of testing.TB the per-test helpers use, for the same
// reason as Runner.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Cleanup(func())
}

// Shared starts one cluster for a test binary, runs the tests and stops the
// cluster. Call it from TestMain:
//
//	var cluster *pgcluster.Cluster
//	func TestMain(m *testing.M) { os.Exit(pgcluster.Shared(m, pgcluster.Options{}, &cluster)) }
//
// When no cluster can be started the tests do not run and the reason is
// printed; the exit status is then 1, because a machine meant to run the
// tests lacks what they need.
func Shared(m Runner, opts Options, out **Cluster) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	c, err := Start(ctx, opts)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgcluster: cannot start a throwaway PostgreSQL: %v\n", err)
		return 1
	}
	*out = c
	code := m.Run()
	if err := c.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "pgcluster: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// ForTest starts a cluster owned by one test and closes it at cleanup.
func ForTest(t TB, opts Options) *Cluster {
	t.Helper()
	return ownedByTest(t, "throwaway PostgreSQL", func(ctx context.Context) (*Cluster, error) { return Start(ctx, opts) })
}

// ownedByTest starts a server for one test, giving start two minutes,
// and closes it at cleanup; what names it in failures.
func ownedByTest(t TB, what string, start func(context.Context) (*Cluster, error)) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := start(ctx)
	if err != nil {
		t.Fatalf("start %s: %v", what, err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close %s: %v", what, err)
		}
	})
	return c
}

// NewDatabase creates a fresh, uniquely named database for one test and
// drops it at cleanup. It returns the database name.
func NewDatabase(t TB, c *Cluster) string {
	t.Helper()
	return newDatabase(t, c, "")
}

// NewDatabaseFrom is NewDatabase for a copy of template (see
// CreateDatabaseFrom): tests that each need the same loaded data take a
// copy of one database loaded once.
func NewDatabaseFrom(t TB, c *Cluster, template string) string {
	t.Helper()
	return newDatabase(t, c, template)
}

func newDatabase(t TB, c *Cluster, template string) string {
	t.Helper()
	name := "t_" + randomSuffix()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	create := func() error { return c.CreateDatabase(ctx, name) }
	if template != "" {
		create = func() error { return c.CreateDatabaseFrom(ctx, name, template) }
	}
	if err := create(); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.DropDatabase(ctx, name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return name
}

func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

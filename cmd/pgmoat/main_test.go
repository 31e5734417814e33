package main

import (
	"context"
	"flag"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
	"github.com/pgmoat/pgmoat/integration/shop"
)

// shared is the package's PostgreSQL, started by the first test that
// needs a database: the check, config and usage tests run without one,
// and so does this binary when a test runs it as `pgmoat mcp`. Tests take
// a database of their own in it; each shop fixture runs a pool of its own,
// and parallel tests hold several at once, hence the connection limit.
var shared = pgcluster.Lazy{Options: pgcluster.Options{MaxConnections: 400}}

// testParallel is how many tests run at once unless -parallel says
// otherwise: the parallel tests mostly wait on PostgreSQL, HTTP and child
// processes, so more of them than the default GOMAXPROCS overlap usefully
// even on two cores.
const testParallel = 4

func TestMain(m *testing.M) {
	flag.Parse()
	parallelGiven := false
	flag.Visit(func(f *flag.Flag) { parallelGiven = parallelGiven || f.Name == "test.parallel" })
	if !parallelGiven {
		_ = flag.Set("test.parallel", strconv.Itoa(max(testParallel, runtime.GOMAXPROCS(0))))
	}
	os.Exit(shared.Run(m))
}

// shopTemplate is the database the shop is loaded into once per test
// binary; every shop fixture takes a copy of it.
const shopTemplate = "shop_template"

var (
	shopOnce sync.Once
	shopErr  error
)

// loadedCluster is the shared cluster with shopTemplate loaded.
func loadedCluster(t *testing.T) *pgcluster.Cluster {
	t.Helper()
	c := shared.Get(t)
	shopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if shopErr = c.CreateDatabase(ctx, shopTemplate); shopErr == nil {
			shopErr = shop.Load(ctx, c.DSN(shopTemplate), shop.Options{Scale: 1})
		}
	})
	if shopErr != nil {
		t.Fatalf("load the shop template: %v", shopErr)
	}
	return c
}

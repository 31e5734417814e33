package policy

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
)

// shared is the package's PostgreSQL, started by the first test that
// needs one (most of the package's tests judge statements without a
// server); each such test works in a database of its own. The session
// views test reads pg_stat_statements, which must be preloaded.
var shared = pgcluster.Lazy{Options: pgcluster.Options{
	Settings: map[string]string{"shared_preload_libraries": "pg_stat_statements"}}}

func TestMain(m *testing.M) { os.Exit(shared.Run(m)) }

// sharedDB returns the shared cluster and a fresh database in it, dropped
// at cleanup.
func sharedDB(t testing.TB) (*pgcluster.Cluster, string) {
	t.Helper()
	c := shared.Get(t)
	return c, pgcluster.NewDatabase(t, c)
}

// realPG is the set-up of a test against the shared cluster: skipped
// under -short, a database of its own, and a context that ends with the
// test or after d.
func realPG(t *testing.T, d time.Duration) (*pgcluster.Cluster, string, context.Context) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	c, db := sharedDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return c, db, ctx
}

package proxy

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// waitRunning waits until a statement whose text contains fragment is
// running in db, as pg_stat_activity shows it: what a test must see
// before it cancels, kills or hangs up on that statement.
func waitRunning(t *testing.T, db, fragment string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, cluster.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	waitUntil(t, 30*time.Second, "the statement to run: "+fragment, func() bool {
		var n int
		err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE state = 'active' AND pid <> pg_backend_pid() AND strpos(query, $1) > 0
			AND datname = current_database()`, fragment).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n > 0
	})
}

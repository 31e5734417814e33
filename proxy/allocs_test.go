package proxy

import (
	"context"
	"runtime"
	"testing"

	"github.com/jackc/pgx/v5"
)

// mallocsPer runs op n times and returns the heap allocations per run
// of the whole process (client and proxy alike).
func mallocsPer(t *testing.T, n int, op func() error) float64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		if err := op(); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(n)
}

// A SELECT with a bound parameter, through pgmoat, allocates in
// the proxy next to nothing: the reused frontend messages are decoded in
// place (decode.go), the messages sent on are reused, and the read that
// writes a batch needs no closure (fused.go). The client's own
// allocations are the same through pgmoat and directly, so the
// difference is pgmoat's.
func TestPointSelectAllocatesNothingInTheProxy(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeExec, pgx.QueryExecModeCacheStatement} {
		t.Run(mode.String(), func(t *testing.T) {
			cfg, err := pgx.ParseConfig(cluster.DSNFor("proxy_reader", "reader-pw", f.db))
			if err != nil {
				t.Fatal(err)
			}
			cfg.DefaultQueryExecMode = mode
			cfg.RuntimeParams["request.user_id"] = "1"
			direct, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer direct.Close(ctx)
			proxied := f.connect(t, "alice", mode)
			query := func(c *pgx.Conn) func() error {
				return func() error {
					var n int
					return c.QueryRow(ctx, "SELECT count(*) FROM items WHERE id > $1", 7).Scan(&n)
				}
			}
			for _, c := range []*pgx.Conn{direct, proxied} { // warm both up
				mallocsPer(t, 50, query(c))
			}
			const n = 400
			viaPgmoat, directly := mallocsPer(t, n, query(proxied)), mallocsPer(t, n, query(direct))
			t.Logf("%.1f allocations per statement through pgmoat, %.1f directly", viaPgmoat, directly)
			if extra := viaPgmoat - directly; extra > 1 && !raceEnabled {
				t.Fatalf("%.1f allocations per statement through pgmoat, %.1f directly: pgmoat allocates %.1f", viaPgmoat, directly, extra)
			}
		})
	}
}

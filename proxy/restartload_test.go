package proxy

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
)

// A fast shutdown, or every backend terminated (57P01 to the running and
// the idle alike), while clients have statements in flight or about to
// be written: every client gets its answer, or its error, within a few
// seconds, never after the idle-transaction timeout; and new sessions
// are served.
func TestRestartUnderLoadAnswersEveryClient(t *testing.T) {
	c := privateCluster(t)
	f := newFixture(t, fixtureOptions{cluster: c, poolMin: 4, poolMax: 8, acquireTimeout: 2 * time.Second})
	ctx := context.Background()
	const clients = 8
	cut := func(round int) error {
		if round%2 == 0 {
			return c.Restart(ctx, pgcluster.Fast)
		}
		admin, err := pgx.Connect(ctx, c.DSN(f.db))
		if err != nil {
			return err
		}
		defer admin.Close(ctx)
		_, err = admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'proxy_reader'")
		return err
	}
	for round := range 4 {
		conns := make([]*pgx.Conn, clients)
		for i := range conns {
			cfg, err := pgx.ParseConfig(f.dsn("alice"))
			if err != nil {
				t.Fatal(err)
			}
			cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
			if conns[i], err = pgx.ConnectConfig(ctx, cfg); err != nil {
				t.Fatalf("round %d: connect: %v", round, err)
			}
		}
		stop := make(chan struct{})
		var served sync.WaitGroup
		var wg sync.WaitGroup
		served.Add(clients)
		for _, conn := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close(context.Background())
				first := true
				for {
					select {
					case <-stop:
						return
					default:
					}
					var n int
					// No deadline of the client's own: a lost answer shows
					// as a wait the test measures.
					if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM items").Scan(&n); err != nil {
						if first {
							served.Done()
						}
						return
					}
					if first {
						first = false
						served.Done()
					}
				}
			}()
		}
		served.Wait()
		lost := f.pool.Stats().Lost
		if err := cut(round); err != nil {
			t.Fatal(err)
		}
		up := time.Now()
		close(stop)
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: a client still waits for its answer %s after its backends were cut (fast shutdown in even rounds, every backend terminated in odd ones)", round, time.Since(up).Round(time.Millisecond))
		}
		if got := f.pool.Stats().Lost; got <= lost {
			t.Fatalf("round %d: no backend counted lost (%d before, %d after): the cut did not reach the pool's backends", round, lost, got)
		}
		conn, err := pgx.Connect(ctx, f.dsn("alice"))
		if err != nil {
			t.Fatalf("round %d: a new session after the restart: %v", round, err)
		}
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 50 {
			t.Fatalf("round %d: a new session after the restart: %d rows, %v", round, n, err)
		}
		conn.Close(ctx)
	}
}

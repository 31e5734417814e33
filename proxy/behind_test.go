package proxy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgmoat/pgmoat/integration/pgbouncer"
	"github.com/pgmoat/pgmoat/policy"
)

// TestBehindPgBouncer puts the Debian PgBouncer in transaction mode
// between pgmoat and PostgreSQL: no session state survives there, so the
// identity must travel with every transaction.
func TestBehindPgBouncer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, fixtureOptions{}) // for the database and its fixture
	bouncer, err := pgbouncer.Start(ctx, pgbouncer.Options{
		ServerHost: cluster.Host(), ServerPort: cluster.Port(), Database: f.db,
		User: "proxy_reader", Password: "reader-pw", PoolSize: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bouncer.Close() })

	pool, err := NewPool(PoolConfig{DSN: bouncer.DSN("proxy_reader", "reader-pw", f.db), Min: 1, Max: 4, BehindPooler: true})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := policy.New(policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(Config{Engine: engine, Pool: pool, Users: map[string]User{
		"alice": {Password: "alice", Identity: policy.Identity{UserID: "1"}},
		"bob":   {Password: "bob", Identity: policy.Identity{UserID: "2"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	behind := &proxyFixture{db: f.db, pool: pool, server: srv, addr: serveOn(t, srv)}

	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for i := range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					user, uid := []string{"alice", "bob"}[i%2], fmt.Sprint(1+i%2)
					cfg, _ := pgx.ParseConfig(behind.dsn(user))
					cfg.DefaultQueryExecMode = mode
					conn, err := pgx.ConnectConfig(ctx, cfg)
					if err != nil {
						errs <- err
						return
					}
					defer conn.Close(ctx)
					for range 15 {
						var got string
						var n int
						if err := conn.QueryRow(ctx, "SELECT current_setting('request.user_id'), (SELECT count(*) FROM items WHERE owner = $1::int)", uid).Scan(&got, &n); err != nil {
							errs <- err
							return
						}
						if got != uid || n != 50 {
							errs <- fmt.Errorf("%s: user id %s, %d rows", user, got, n)
							return
						}
					}
					tx, err := conn.Begin(ctx)
					if err != nil {
						errs <- err
						return
					}
					var timeout string
					if err := tx.QueryRow(ctx, "SHOW statement_timeout").Scan(&timeout); err != nil || timeout != "5s" {
						errs <- fmt.Errorf("in transaction: statement_timeout %q, %v", timeout, err)
					}
					_ = tx.Rollback(ctx)
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}

	x := NewExecutor(pool, engine, "")
	res, err := x.Query(ctx, policy.Identity{UserID: "2"}, "SELECT count(*) FROM items")
	if err != nil || res.Rows[0][0].(int64) != 50 {
		t.Fatalf("executor behind pgbouncer: %v %v", res, err)
	}
	_, err = x.Query(ctx, policy.Identity{UserID: "2"}, "DELETE FROM items")
	var pe *policy.Error
	if !errors.As(err, &pe) {
		t.Fatalf("executor DELETE: %v", err)
	}
}

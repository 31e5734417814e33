package proxy

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestIdentityNeverLeaksBetweenBorrowers interleaves many clients of three
// identities and two profiles, with transactions, errors, denials and
// clients that vanish mid-transaction, over a small pool. After every
// borrow the identity and timeout in force must be the borrower's.
func TestIdentityNeverLeaksBetweenBorrowers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 3, acquireTimeout: 20 * time.Second})
	ctx := context.Background()
	want := map[string][2]string{"alice": {"1", "5s"}, "bob": {"2", "5s"}, "carol": {"3", "7s"}}
	var wg sync.WaitGroup
	var checks atomic.Int64
	errs := make(chan error, 100)
	for i := range 18 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 7))
			user := []string{"alice", "bob", "carol"}[i%3]
			mode := allModes[i%len(allModes)]
			for range 6 {
				cfg, _ := pgx.ParseConfig(f.dsn(user))
				cfg.DefaultQueryExecMode = mode
				conn, err := pgx.ConnectConfig(ctx, cfg)
				if err != nil {
					errs <- err
					return
				}
				check := func(q pgx.Tx) error {
					var uid, timeout string
					var row pgx.Row
					if q != nil {
						row = q.QueryRow(ctx, "SELECT current_setting('request.user_id'), current_setting('statement_timeout')")
					} else {
						row = conn.QueryRow(ctx, "SELECT current_setting('request.user_id'), current_setting('statement_timeout')")
					}
					if err := row.Scan(&uid, &timeout); err != nil {
						return err
					}
					checks.Add(1)
					if uid != want[user][0] || timeout != want[user][1] {
						return fmt.Errorf("%s (%s) saw user id %s, timeout %s", user, mode, uid, timeout)
					}
					return nil
				}
				vanished := false
				for step := 0; step < 8 && !vanished; step++ {
					switch r.IntN(5) {
					case 0: // a transaction with an error inside
						tx, err := conn.Begin(ctx)
						if err != nil {
							errs <- err
							return
						}
						if err := check(tx); err != nil {
							errs <- err
						}
						_, _ = tx.Exec(ctx, "SELECT 1/0")
						_ = tx.Rollback(ctx)
					case 1: // a denial
						_, err := conn.Exec(ctx, "SET request.user_id = '99'")
						var pgErr *pgconn.PgError
						if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
							errs <- fmt.Errorf("SET not denied: %v", err)
						}
					case 2: // vanish mid-transaction
						if step > 4 {
							tx, err := conn.Begin(ctx)
							if err == nil {
								_ = check(tx)
							}
							conn.PgConn().Conn().Close()
							vanished = true
							continue
						}
						fallthrough
					default:
						if err := check(nil); err != nil {
							errs <- err
						}
					}
				}
				conn.Close(ctx)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !strings.Contains(err.Error(), "closed") {
			t.Error(err)
		}
	}
	if checks.Load() < 100 {
		t.Fatalf("only %d identity checks ran", checks.Load())
	}
	var backends int
	admin, err := pgx.Connect(ctx, cluster.DSN(f.db))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'proxy_reader' AND datname = $1", f.db).Scan(&backends); err != nil {
		t.Fatal(err)
	}
	if backends > 3 {
		t.Fatalf("%d backend connections for a pool of 3", backends)
	}
}

// TestFiveHundredClientsOverPoolOfTwenty: every client is served or
// cleanly refused with 53300; none hangs. The clients log in with md5:
// what is under test is 500 sessions over 20 backends, and 500 SCRAM
// handshakes (4096 PBKDF2 rounds each, under -race) took most of the
// test's time; SCRAM has tests of its own.
func TestFiveHundredClientsOverPoolOfTwenty(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("500 connections")
	}
	f := newFixture(t, fixtureOptions{poolMin: 20, poolMax: 20, acquireTimeout: 2 * time.Second, startupTimeout: time.Minute, auth: AuthMD5})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var served, refused atomic.Int64
	errs := make(chan error, 500)
	var wg, connected sync.WaitGroup
	start := make(chan struct{})
	handshakes := make(chan struct{}, 50) // logins in flight at once
	for i := range 500 {
		wg.Add(1)
		connected.Add(1)
		go func() {
			defer wg.Done()
			handshakes <- struct{}{}
			conn, err := pgx.Connect(ctx, f.dsn([]string{"alice", "bob", "carol"}[i%3]))
			<-handshakes
			connected.Done()
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close(context.Background())
			<-start // all 500 connected, then all query at once
			var n int64
			err = conn.QueryRow(ctx, "SELECT count(*) FROM generate_series(1, 200000)").Scan(&n)
			var pgErr *pgconn.PgError
			switch {
			case err == nil && n == 200000:
				served.Add(1)
			case errors.As(err, &pgErr) && pgErr.Code == "53300":
				refused.Add(1)
			default:
				errs <- fmt.Errorf("client %d: %v", i, err)
			}
		}()
	}
	connected.Wait()
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if served.Load()+refused.Load() != 500 || served.Load() == 0 {
		t.Fatalf("served %d, refused %d of 500", served.Load(), refused.Load())
	}
	t.Logf("served %d, refused with 53300 %d", served.Load(), refused.Load())
}

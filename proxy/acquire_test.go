package proxy

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/policy"
)

// A client's cancel request while its statement waits for a backend from
// a full pool was dropped: the statement waited out acquire_timeout and
// got 53300. It is answered 57014 at once now, never sent to a backend,
// and the connection works once the pool frees.
func TestCancelWhileWaitingForBackend(t *testing.T) {
	t.Parallel()
	const acquire = 30 * time.Second
	const prompt = 10 * time.Second // well below acquire: the cancel, not the timeout, ended the wait
	cases := []struct {
		name string
		// ask sends bob's statement, cancels it once it waits for the
		// pool, checks the pool was left clean and bob's connection works
		// once alice is done, and returns the cancelled statement's error.
		ask func(t *testing.T, f *waitFixture) error
	}{
		{name: "pgx simple protocol", ask: func(t *testing.T, f *waitFixture) error {
			bob, err := f.cancelWhileWaiting(t, pgx.QueryExecModeSimpleProtocol, prompt, "SELECT 1")
			f.checkFreed(t, func() error { return bob.QueryRow(context.Background(), "SELECT 2").Scan(new(int)) })
			return err
		}},
		{name: "pgx extended protocol", ask: func(t *testing.T, f *waitFixture) error {
			bob, err := f.cancelWhileWaiting(t, pgx.QueryExecModeCacheStatement, prompt, "SELECT $1::int", 1)
			f.checkFreed(t, func() error { return bob.QueryRow(context.Background(), "SELECT $1::int", 2).Scan(new(int)) })
			return err
		}},
		// A TimeZone SET waits for a backend of its own, to have the
		// server check the zone: a cancel ends that wait too, and the
		// zone is not taken.
		{name: "SET TimeZone", ask: func(t *testing.T, f *waitFixture) error {
			bob, err := f.cancelWhileWaiting(t, pgx.QueryExecModeSimpleProtocol, prompt, "SET TimeZone = 'Asia/Tokyo'")
			f.checkFreed(t, func() error {
				var zone string
				if err := bob.QueryRow(context.Background(), "SHOW TimeZone").Scan(&zone); err != nil {
					return err
				}
				if zone == "Asia/Tokyo" {
					return errors.New("the cancelled SET TimeZone was taken")
				}
				return nil
			})
			return err
		}},
		{name: "SET TimeZone extended protocol", ask: func(t *testing.T, f *waitFixture) error {
			bob, err := f.cancelWhileWaiting(t, pgx.QueryExecModeCacheStatement, prompt, "SET TimeZone = 'Asia/Tokyo'")
			f.checkFreed(t, func() error { return bob.QueryRow(context.Background(), "SELECT $1::int", 2).Scan(new(int)) })
			return err
		}},
		{name: "extended batch", ask: func(t *testing.T, f *waitFixture) error {
			// As PostgreSQL answers a batch whose statement was cancelled:
			// the error, what follows skipped up to Sync, ReadyForQuery.
			bob := rawSession(t, f.proxyFixture, "bob")
			bob.Send(&pgproto3.Parse{Query: "SELECT 1"})
			bob.Send(&pgproto3.Bind{})
			bob.Send(&pgproto3.Execute{})
			bob.Send(&pgproto3.Parse{Name: "s2", Query: "SELECT 2"})
			bob.Send(&pgproto3.Sync{})
			if err := bob.Flush(); err != nil {
				t.Fatal(err)
			}
			f.bobWaiting(t)
			sendCancel(t, f.addr, f.server.sessionOf(t, "bob").key)
			var err error
			var seen []byte
			for {
				msg, rerr := bob.Receive()
				if rerr != nil {
					t.Fatalf("after %q: %v", seen, rerr)
				}
				enc, _ := msg.Encode(nil)
				seen = append(seen, enc[0])
				if e, ok := msg.(*pgproto3.ErrorResponse); ok {
					err = &pgconn.PgError{Code: e.Code, Message: e.Message}
				}
				if z, ok := msg.(*pgproto3.ReadyForQuery); ok {
					if string(seen) != "EZ" || z.TxStatus != 'I' {
						t.Fatalf("bob got %q (status %c), want an error then ReadyForQuery I", seen, z.TxStatus)
					}
					break
				}
			}
			f.checkFreed(t, func() error {
				bob.Send(&pgproto3.Parse{Name: "s2", Query: "SELECT 2"}) // skipped before: not prepared
				bob.Send(&pgproto3.Bind{PreparedStatement: "s2"})
				bob.Send(&pgproto3.Execute{})
				bob.Send(&pgproto3.Sync{})
				if err := bob.Flush(); err != nil {
					return err
				}
				if got := string(until(t, bob)); got != "12DCZ" {
					return errors.New("bob's next batch got " + got)
				}
				return nil
			})
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := &waitFixture{proxyFixture: newFixture(t, fixtureOptions{poolMax: 1, acquireTimeout: acquire, timeout: 20 * time.Second})}
			ctx := context.Background()
			alice := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
			var err error
			if f.alice, err = alice.Begin(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := f.alice.Exec(ctx, "SELECT 1"); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err = c.ask(t, f)
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != "57014" || pe.Message != errWaitCanceled.message {
				t.Fatalf("bob's cancelled statement: %v (after %v), want 57014 %q", err, time.Since(start), errWaitCanceled.message)
			}
		})
	}
}

// receive is what got delivers within limit.
func receive(t *testing.T, got <-chan error, limit time.Duration) error {
	t.Helper()
	select {
	case err := <-got:
		return err
	case <-time.After(limit):
		t.Fatalf("no answer within %v of the cancel", limit)
		return nil
	}
}

// waitFixture is a pool of one backend, which alice holds in a
// transaction.
type waitFixture struct {
	*proxyFixture
	alice pgx.Tx
}

// bobWaiting waits until bob's statement waits for the pool.
func (f *waitFixture) bobWaiting(t *testing.T) {
	waitUntil(t, 10*time.Second, "bob waiting for the pool", func() bool { return f.pool.Stats().Waiting == 1 })
}

// checkFreed checks that the cancelled wait left the pool clean (nobody
// waits, alice's backend is still the only one), ends alice's
// transaction, and runs next, bob's next statement, which must work.
// cancelWhileWaiting sends sql (with args) on a connection of bob's in
// mode, cancels it once it waits for the pool, and returns bob's
// connection and the statement's error, which must come within limit.
func (f *waitFixture) cancelWhileWaiting(t *testing.T, mode pgx.QueryExecMode, limit time.Duration, sql string, args ...any) (*pgx.Conn, error) {
	t.Helper()
	bob := f.connect(t, "bob", mode)
	got := make(chan error, 1)
	go func() { _, err := bob.Exec(context.Background(), sql, args...); got <- err }()
	f.bobWaiting(t)
	if err := bob.PgConn().CancelRequest(context.Background()); err != nil {
		t.Fatal(err)
	}
	return bob, receive(t, got, limit)
}

func (f *waitFixture) checkFreed(t *testing.T, next func() error) {
	t.Helper()
	if st := f.pool.Stats(); st.Waiting != 0 || st.Open != 1 || st.Idle != 0 || st.Exhausted != 0 {
		t.Fatalf("after the cancel the pool has %+v, want alice's backend lent, nobody waiting, no timeout", st)
	}
	if err := f.alice.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := next(); err != nil {
		t.Fatalf("bob's next statement: %v", err)
	}
}

// A backend (or a slot) handed to a waiter at the moment its borrower
// gives up the wait goes back to the pool, not lost with the waiter.
func TestWaitStoppedGivesBackAHandOver(t *testing.T) {
	t.Parallel()
	for _, slot := range []bool{false, true} {
		pool := scriptedPool(t, 1, 1, 5*time.Second)
		ctx := context.Background()
		a := borrowerFor(policy.Identity{UserID: "1"}, "")
		b := borrowerFor(policy.Identity{UserID: "2"}, "")
		held, err := pool.acquire(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		_, w, _, err := pool.take(b)
		if err != nil || w == nil {
			t.Fatalf("b was not queued: %v", err)
		}
		if slot {
			pool.lost(held, errors.New("test"))
			pool.discard(held) // a slot for b to open one in
		} else {
			pool.release(held) // dispatched to b's waiter
		}
		if err := pool.waitStopped(w); err != errWaitCanceled {
			t.Fatalf("slot %v: %v", slot, err)
		}
		got := pool.Stats()
		pool.mu.Lock()
		heldBy := len(pool.held)
		pool.mu.Unlock()
		if heldBy != 0 || got.Waiting != 0 || (slot && got.Open != 0) || (!slot && (got.Open != 1 || got.Idle != 1)) {
			t.Fatalf("slot %v: after the wait stopped: %+v, %d identities holding", slot, got, heldBy)
		}
		again, err := pool.acquire(ctx, b)
		if err != nil {
			t.Fatalf("slot %v: the pool's backend is gone: %v", slot, err)
		}
		pool.release(again)
	}
}

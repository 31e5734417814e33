package proxy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pgmoat/pgmoat/policy"
)

// scriptedPool is a pool of poolMax backends on a scripted server.
func scriptedPool(t *testing.T, poolMax, perIdentity int, acquire time.Duration) *Pool {
	t.Helper()
	sb := &scriptedBackend{}
	pool, err := NewPool(PoolConfig{DSN: "host=scripted user=r dbname=db sslmode=disable", Max: poolMax, MaxPerIdentity: perIdentity, AcquireTimeout: acquire})
	if err != nil {
		t.Fatal(err)
	}
	pool.connCfg.DialFunc = sb.dial
	pool.connCfg.LookupFunc = func(context.Context, string) ([]string, error) { return []string{"127.0.0.1"}, nil }
	pool.guard = &roleGuard{checked: true} // no PostgreSQL, no role to check
	t.Cleanup(func() { pool.Close(); sb.wg.Wait() })
	return pool
}

func TestDefaultMaxPerIdentity(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ max, want int }{{1, 1}, {2, 1}, {3, 2}, {4, 3}, {5, 3}, {8, 6}, {20, 15}, {100, 75}} {
		if got := (PoolConfig{Max: c.max}).withDefaults().MaxPerIdentity; got != c.want {
			t.Errorf("pool of %d: per-identity cap %d, want %d", c.max, got, c.want)
		}
	}
	if got := (PoolConfig{Max: 4, MaxPerIdentity: 9}).withDefaults().MaxPerIdentity; got != 4 {
		t.Errorf("a cap above max is max, got %d", got)
	}
}

// A borrower whose identity holds its cap waits without holding up those
// behind it, is served as soon as its own identity gives one back, and
// at the timeout hears that its cap (not the pool) was the limit.
func TestPerIdentityCapWaiters(t *testing.T) {
	t.Parallel()
	pool := scriptedPool(t, 3, 1, 300*time.Millisecond)
	ctx := context.Background()
	alice := borrowerFor(policy.Identity{UserID: "1", Profile: "readonly"}, "")
	bob := borrowerFor(policy.Identity{UserID: "2"}, "") // profile "" is readonly too
	carol := borrowerFor(policy.Identity{UserID: "3", Profile: "readonly"}, "")

	a1, err := pool.acquire(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	var a2 *backend
	go func() {
		var err error
		a2, err = pool.acquire(ctx, alice)
		second <- err
	}()
	waitUntil(t, time.Second, "alice's second borrowing to wait", func() bool { return pool.Stats().Waiting == 1 })
	b1, err := pool.acquire(ctx, bob)
	if err != nil {
		t.Fatalf("bob held up behind alice's capped waiter: %v", err)
	}
	if bob.who == borrowerFor(policy.Identity{UserID: "2", Profile: "other"}, "").who {
		t.Fatal("the profile is not part of the identity")
	}
	pool.release(a1)
	if err := <-second; err != nil {
		t.Fatalf("alice's waiter was not served when she gave one back: %v", err)
	}

	// alice 1, bob 1, one free: carol gets it; then the pool is full.
	c1, err := pool.acquire(ctx, carol)
	if err != nil {
		t.Fatal(err)
	}
	_, err = pool.acquire(ctx, borrowerFor(policy.Identity{UserID: "4"}, ""))
	var capErr *IdentityCapError
	if !errors.Is(err, ErrPoolExhausted) || errors.As(err, &capErr) {
		t.Fatalf("a full pool under the cap: want ErrPoolExhausted itself, got %v", err)
	}
	_, err = pool.acquire(ctx, alice)
	if !errors.As(err, &capErr) || !errors.Is(err, ErrPoolExhausted) || capErr.Cap != 1 ||
		!strings.HasPrefix(err.Error(), "pgmoat: pool.max_per_identity:") || !strings.Contains(err.Error(), "backend.pool.max_per_identity") {
		t.Fatalf("alice past her cap: want IdentityCapError naming the key, got %v", err)
	}
	if we := toWire(err); we.code != codeTooManyConns {
		t.Fatalf("the cap answers %s, want 53300", we.code)
	}
	for _, b := range []*backend{a2, b1, c1} {
		pool.release(b)
	}
	if st := pool.Stats(); st.InUse != 0 || st.Exhausted != 2 || st.CappedWaits != 1 || len(pool.held) != 0 {
		t.Fatalf("after every release: %+v, held %v", st, pool.held)
	}
	// pgmoat's own borrowings are never capped.
	var own []*backend
	for range 3 {
		b, err := pool.acquire(ctx, borrower{})
		if err != nil {
			t.Fatalf("pgmoat's own borrowing capped: %v", err)
		}
		own = append(own, b)
	}
	for _, b := range own {
		pool.release(b)
	}
}

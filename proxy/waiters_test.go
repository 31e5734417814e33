package proxy

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

// waitForWaiter polls, without allocating (the poll is not what is
// measured), until someone waits for the pool.
func waitForWaiter(pool *Pool) error {
	for deadline := time.Now().Add(5 * time.Second); pool.Stats().Waiting != 1; runtime.Gosched() {
		if time.Now().After(deadline) {
			return errors.New("nobody waited for the backend")
		}
	}
	return nil
}

// handOver waits until the other borrower waits, gives it the backend,
// and waits for it back.
func handOver(ctx context.Context, pool *Pool, b *backend) (*backend, error) {
	if err := waitForWaiter(pool); err != nil {
		return nil, err
	}
	pool.release(b)
	return pool.acquire(ctx, borrower{})
}

// Two borrowers that take a pool's only backend in turn, each waiting
// for the other to give it back, allocate nothing per wait: the waiter,
// its channel and its timer are reused (waiterPool), and the queue links
// waiters in place.
func TestPoolWaitAllocatesNothing(t *testing.T) {
	pool := scriptedPool(t, 1, 1, 5*time.Second)
	ctx := context.Background()
	b, err := pool.acquire(ctx, borrower{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	other := make(chan error, 1)
	go func() {
		b2, err := pool.acquire(ctx, borrower{})
		for i := 0; err == nil && i < n; i++ {
			b2, err = handOver(ctx, pool, b2)
		}
		if err == nil {
			pool.release(b2)
		}
		other <- err
	}()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; err == nil && i < n; i++ {
		b, err = handOver(ctx, pool, b)
	}
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if err := waitForWaiter(pool); err != nil {
		t.Fatal(err)
	}
	pool.release(b)
	if err := <-other; err != nil {
		t.Fatal(err)
	}
	per := float64(after.Mallocs-before.Mallocs) / (2 * n)
	t.Logf("%.2f allocations per wait", per)
	if per > 0.5 && !raceEnabled {
		t.Fatalf("%.2f allocations per wait", per)
	}
}

package proxy

import (
	"sync"
	"sync/atomic"
	"testing"
)

// A full count never goes past its limit, not even for an instant while
// newcomers are refused: an over-count would refuse a login that a place
// given back at that instant was meant for, and the gauge would show it.
func TestTakeBelowNeverOvercounts(t *testing.T) {
	t.Parallel()
	const limit = 2
	var n atomic.Int64
	for range limit {
		if !takeBelow(&n, limit) {
			t.Fatal("a place below the limit was refused")
		}
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if takeBelow(&n, limit) {
					t.Error("a place was taken past the limit")
					return
				}
			}
		}()
	}
	for range 200000 {
		if v := n.Load(); v > limit {
			t.Errorf("the count read %d, past its limit %d", v, limit)
			break
		}
	}
	stop.Store(true)
	wg.Wait()
	n.Add(-1)
	if !takeBelow(&n, limit) {
		t.Fatal("a place given back was refused")
	}
}

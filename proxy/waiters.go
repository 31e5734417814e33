package proxy

import (
	"sync"
	"time"
)

// waiter is a borrower waiting for a backend. Waiting is what every
// borrower does once the pool is busy (pgbench -S with more clients than
// backends waits at nearly every transaction), so a waiter, its channel
// and its timer are reused from one wait to the next (waiterPool) and
// the queue links them in place: a wait allocates nothing.
type waiter struct {
	borrower
	ch chan *backend // buffered 1: a handed-over backend, or nil for "open one"
	// timer ends the wait at the borrower's acquire deadline; stopped
	// between waits.
	timer *time.Timer
	// prev and next link the pool's waiterQueue; queued says the waiter
	// is in it. Under the pool's mu.
	prev, next *waiter
	queued     bool
}

// waiterPool keeps waiters between waits. A waiter goes back only when
// its channel is empty and nobody can send on it any more: it was handed
// its backend (or slot) and received it, or it left the queue before
// anyone did. One whose channel the pool closed is dropped.
var waiterPool = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &waiter{ch: make(chan *backend, 1), timer: t}
}}

// newWaiter is a waiter for br, from waiterPool.
func newWaiter(br borrower) *waiter {
	w := waiterPool.Get().(*waiter)
	w.borrower = br
	return w
}

// recycle gives w back once its wait is over (see waiterPool).
func (w *waiter) recycle() {
	w.timer.Stop()
	w.borrower = borrower{}
	waiterPool.Put(w)
}

// waiterQueue is the pool's waiters, oldest first, linked through the
// waiters themselves. Under the pool's mu.
type waiterQueue struct {
	head, tail *waiter
	n          int
}

func (q *waiterQueue) Len() int { return q.n }

// Front is the oldest waiter, nil when none waits.
func (q *waiterQueue) Front() *waiter { return q.head }

// PushBack queues w last.
func (q *waiterQueue) PushBack(w *waiter) {
	w.prev, w.next, w.queued = q.tail, nil, true
	if q.tail != nil {
		q.tail.next = w
	} else {
		q.head = w
	}
	q.tail = w
	q.n++
}

// Remove takes w out of the queue; it reports whether w was in it.
func (q *waiterQueue) Remove(w *waiter) bool {
	if !w.queued {
		return false
	}
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		q.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		q.tail = w.prev
	}
	w.prev, w.next, w.queued = nil, nil, false
	q.n--
	return true
}

// takeAll empties the queue and returns what was in it, oldest first.
func (q *waiterQueue) takeAll() []*waiter {
	var out []*waiter
	for w := q.head; w != nil; {
		next := w.next
		w.prev, w.next, w.queued = nil, nil, false
		out = append(out, w)
		w = next
	}
	*q = waiterQueue{}
	return out
}

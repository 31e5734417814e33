package policy

import (
	"fmt"
	"sync"
	"time"
)

// Judging a text costs far more memory than the text: libpg_query's parse
// tree and JSON in C, the JSON copied into Go, the transcoded tree and,
// for a rewrite, the deparser's own tree. A 1 MiB select list of literals
// peaks at about 400 MB. The budget bounds the text bytes judged at once
// so that many such texts cannot add up (README.md gives the measured
// ceiling).

// Judging-budget defaults.
const (
	// DefaultMaxJudgeBytes is the text judged at once on cache misses:
	// room for one statement of the default maximum size, plus a quarter
	// of the budget that long texts never take.
	DefaultMaxJudgeBytes = 3 << 19 // 1.5 MiB
	// DefaultJudgeWait is how long a statement waits for room before it
	// is refused.
	DefaultJudgeWait = time.Second
	// longJudgeBytes marks a long text: long texts together hold at most
	// three quarters of the budget, so that the last quarter stays for
	// ordinary statements however many long ones queue.
	longJudgeBytes = 64 << 10
)

// SQLStateBusy is out_of_memory, the class-53 (insufficient resources)
// code PostgreSQL itself returns when it cannot get memory for a query:
// the statement is not at fault and may succeed when retried, unlike
// 54000 (program_limit_exceeded), which says the statement itself is too
// big.
const SQLStateBusy = "53200"

// RuleBusy fires when a statement waited for room in the judging budget
// longer than the engine's JudgeWait.
const RuleBusy = "input.busy"

// judgeBudget is a counting semaphore over text bytes. Unlike a FIFO
// semaphore it lets a short text pass a long one queued before it, which
// is the point: ordinary statements keep being judged while long ones
// wait for room.
type judgeBudget struct {
	max, longMax int
	wait         time.Duration

	mu       sync.Mutex
	used     int           // bytes being judged
	longUsed int           // of which long texts
	waiting  int           // statements waiting for room
	freed    chan struct{} // closed and replaced whenever bytes are released
}

func newJudgeBudget(max, maxStatement int, wait time.Duration) *judgeBudget {
	// Long texts get three quarters, but always room for one statement
	// of the largest size accepted.
	longMax := max - max/4
	if longMax < maxStatement {
		longMax = maxStatement
		max = maxStatement + maxStatement/3
	}
	return &judgeBudget{max: max, longMax: longMax, wait: wait, freed: make(chan struct{})}
}

// acquire takes n bytes, waiting up to the budget's wait for room. It
// reports false when no room came in time.
func (b *judgeBudget) acquire(n int) bool {
	var timer *time.Timer
	for {
		b.mu.Lock()
		if b.fits(n) {
			b.used += n
			if n > longJudgeBytes {
				b.longUsed += n
			}
			b.mu.Unlock()
			if timer != nil {
				timer.Stop()
			}
			return true
		}
		freed := b.freed
		b.waiting++
		b.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(b.wait)
		}
		select {
		case <-freed:
			b.done()
		case <-timer.C:
			b.done()
			return false
		}
	}
}

func (b *judgeBudget) done() {
	b.mu.Lock()
	b.waiting--
	b.mu.Unlock()
}

func (b *judgeBudget) fits(n int) bool {
	if b.used+n > b.max {
		return false
	}
	return n <= longJudgeBytes || b.longUsed+n <= b.longMax
}

// release returns n bytes taken by acquire and wakes every waiter. After
// a long text it gives the C heap's free memory back (trimCHeap), before
// the bytes are free for the next one.
func (b *judgeBudget) release(n int) {
	if n > longJudgeBytes {
		trimCHeap()
	}
	b.mu.Lock()
	b.used -= n
	if n > longJudgeBytes {
		b.longUsed -= n
	}
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}

// inUse reports the bytes being judged and the statements waiting.
func (b *judgeBudget) inUse() (bytes, waiting int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used, b.waiting
}

// busy is the verdict for a text that found no room in time. It is never
// cached.
func (b *judgeBudget) busy(n int) Verdict {
	used, _ := b.inUse()
	return Verdict{
		SQLState: SQLStateBusy,
		Rule:     RuleBusy,
		Kind:     KindUnknown,
		Reason: fmt.Sprintf("%d bytes of statements are being judged (budget %d); this %d-byte statement waited %s for room; retry shortly or send a shorter statement",
			used, b.max, n, b.wait),
	}
}

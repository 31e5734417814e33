package policy

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

// longText is a SELECT of about n bytes that the engine allows.
func longText(n int) string {
	var b strings.Builder
	b.WriteString("select 1 as c0")
	for b.Len() < n {
		b.WriteString(", 1")
	}
	return b.String() + " limit 1"
}

// TestBusyRefusal fills the long-text share of the judging budget and
// checks that a long statement is refused with the documented error after
// its wait, that short statements keep being judged meanwhile, and that
// the refusal is not cached.
func TestBusyRefusal(t *testing.T) {
	e, err := New(Options{JudgeWait: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	hold := e.budget.longMax
	if !e.budget.acquire(hold) {
		t.Fatal("empty budget refused")
	}
	long := longText(100 << 10)
	v := e.Decide(Identity{}, long)
	if v.Allowed || v.SQLState != SQLStateBusy || v.Rule != RuleBusy || !strings.HasPrefix(v.Err().Error(), "pgmoat: input.busy: ") {
		t.Fatalf("long statement while the budget is full: %+v", v)
	}
	if !strings.Contains(v.Reason, "retry") {
		t.Errorf("reason does not say what to do: %s", v.Reason)
	}
	for _, sql := range []string{"select 1", "select * from orders where id = 7", longText(8 << 10)} {
		if v := e.Decide(Identity{}, sql); !v.Allowed {
			t.Errorf("short statement refused while long ones wait: %q: %s %s", sql[:min(len(sql), 40)], v.Rule, v.Reason)
		}
	}
	if got := e.CacheStats().Busy; got != 1 {
		t.Errorf("busy counter %d, want 1", got)
	}
	e.budget.release(hold)
	if v := e.Decide(Identity{}, long); !v.Allowed {
		t.Errorf("long statement after the budget freed: %s %s", v.Rule, v.Reason)
	}
}

// TestBusyWaiterGetsRoom checks that a waiting statement is judged as soon
// as room is freed rather than refused.
func TestBusyWaiterGetsRoom(t *testing.T) {
	e, err := New(Options{JudgeWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	hold := e.budget.longMax
	e.budget.acquire(hold)
	done := make(chan Verdict)
	go func() { done <- e.Decide(Identity{}, longText(200<<10)) }()
	for {
		if _, waiting := e.budget.inUse(); waiting == 1 {
			break
		}
		runtime.Gosched()
	}
	e.budget.release(hold)
	if v := <-done; !v.Allowed {
		t.Errorf("waiter: %s %s", v.Rule, v.Reason)
	}
	if used, waiting := e.budget.inUse(); used != 0 || waiting != 0 {
		t.Errorf("budget not returned: %d bytes, %d waiting", used, waiting)
	}
}

func TestBudgetFitsTheLargestStatement(t *testing.T) {
	for _, c := range []struct{ max, stmt int }{{1, 1 << 20}, {DefaultMaxJudgeBytes, 1 << 20}, {1 << 20, 4 << 20}} {
		b := newJudgeBudget(c.max, c.stmt, time.Millisecond)
		if !b.acquire(c.stmt) {
			t.Errorf("budget %d cannot take a %d-byte statement", c.max, c.stmt)
		}
		if !b.acquire(longJudgeBytes) {
			t.Errorf("budget %d with a %d-byte statement in flight has no room for a short one", c.max, c.stmt)
		}
	}
}

// judgeCeilingKB is the peak resident memory policy/README.md documents
// for ten 1 MiB statements judged at once with the default budget.
const judgeCeilingKB = 800 << 10

// TestJudgeMemoryCeiling judges ten 1 MiB statements at once in a child
// process (testdata/memjudge, built without the race detector) and reads
// its peak resident memory, C allocations of the parser included.
func TestJudgeMemoryCeiling(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a helper that uses several hundred MB")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go tool: %v", err)
	}
	cmd := exec.Command(goBin, "run", "./testdata/memjudge", "-n", "10", "-size", "1048576")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("memjudge: %v\n%s", err, stderr.String())
	}
	var res struct {
		HWM   int      `json:"hwm_kb"`
		Rules []string `json:"rules"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("memjudge output %q: %v", out.String(), err)
	}
	t.Logf("peak RSS %d MB; verdicts %v", res.HWM>>10, res.Rules)
	if res.HWM > judgeCeilingKB {
		t.Errorf("peak RSS %d MB is over the documented %d MB", res.HWM>>10, judgeCeilingKB>>20)
	}
	judged := 0
	for _, r := range res.Rules {
		switch r {
		case RuleBusy:
		case RuleRewrite: // the deparsed select list is over 1 MiB
			judged++
		default:
			t.Errorf("unexpected verdict rule %q", r)
		}
	}
	if judged == 0 {
		t.Error("no statement was judged")
	}
}

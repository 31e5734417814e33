package introspect_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/pgmoat/pgmoat/introspect"
)

const reloadSchema = `CREATE TABLE a (id int PRIMARY KEY, old_col text, keep text);
COMMENT ON TABLE a IS 'before';`

const reloadDDL = `ALTER TABLE a ADD COLUMN new_col date;
ALTER TABLE a DROP COLUMN old_col;
CREATE TABLE b (id int);
COMMENT ON TABLE a IS 'after';`

type change struct {
	old, cur *introspect.Snapshot
	diff     introspect.Diff
}

func startReloader(t *testing.T, dsn string, opts introspect.ReloaderOptions) (*introspect.Reloader, <-chan change) {
	t.Helper()
	changes := make(chan change, 8)
	opts.OnChange = func(old, cur *introspect.Snapshot, d introspect.Diff) { changes <- change{old, cur, d} }
	if opts.Interval == 0 {
		opts.Interval = -1
	}
	opts.Debounce = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	r, err := introspect.NewReloader(ctx, dsn, opts)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r, changes
}

func waitChange(t *testing.T, changes <-chan change) change {
	t.Helper()
	select {
	case c := <-changes:
		return c
	case <-time.After(20 * time.Second):
		t.Fatal("no reload reported")
	}
	return change{}
}

func checkReloadDiff(t *testing.T, c change) {
	t.Helper()
	d := c.diff
	if !reflect.DeepEqual(d.Added, []introspect.QualifiedName{{Schema: "public", Name: "b"}}) || len(d.Removed) != 0 {
		t.Errorf("added %v removed %v", d.Added, d.Removed)
	}
	if len(d.Changed) != 1 {
		t.Fatalf("changed %+v", d.Changed)
	}
	ch := d.Changed[0]
	if !slices.Equal(ch.AddedColumns, []string{"new_col"}) || !slices.Equal(ch.RemovedColumns, []string{"old_col"}) ||
		!slices.Equal(ch.Changes, []string{"comment"}) {
		t.Errorf("change %+v", ch)
	}
	a, _ := c.cur.Relation("public", "a")
	if a.Comment != "after" {
		t.Errorf("published snapshot has comment %q", a.Comment)
	}
	if old, _ := c.old.Relation("public", "a"); old.Comment != "before" {
		t.Errorf("the old snapshot was modified: %q", old.Comment)
	}
}

// TestReloadOnNotify installs the documented event trigger and checks that
// DDL reaches the reloader through NOTIFY, with the right diff.
func TestReloadOnNotify(t *testing.T) {
	noLeaks(t)
	dsn := freshDB(t, reloadSchema+introspect.EventTriggerSQL)
	r, changes := startReloader(t, dsn, introspect.ReloaderOptions{})
	waitListening(t, dsn)
	execSQL(t, dsn, reloadDDL)
	c := waitChange(t, changes)
	checkReloadDiff(t, c) // c.old is the snapshot from before the DDL
	if r.Current() != c.cur {
		t.Errorf("snapshots not swapped")
	}
}

// A change committed after the first snapshot was read but before the
// reloader's LISTEN sends its NOTIFY to no one; the reload the LISTEN
// is followed by sees it, without waiting for the periodic reload.
func TestChangeBeforeTheListenIsSeen(t *testing.T) {
	noLeaks(t)
	dsn := freshDB(t, reloadSchema+introspect.EventTriggerSQL)
	changes := make(chan change, 8)
	ctx, cancel := context.WithCancel(context.Background())
	r, err := introspect.NewReloader(ctx, dsn, introspect.ReloaderOptions{Interval: -1, Debounce: 50 * time.Millisecond,
		OnChange: func(old, cur *introspect.Snapshot, d introspect.Diff) { changes <- change{old, cur, d} }})
	if err != nil {
		t.Fatal(err)
	}
	execSQL(t, dsn, reloadDDL) // its NOTIFY goes out before anyone listens
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	checkReloadDiff(t, waitChange(t, changes))
}

// TestReloadOnTrigger covers SIGHUP and the admin console's RELOAD, which
// call Trigger.
func TestReloadOnTrigger(t *testing.T) {
	noLeaks(t)
	dsn := freshDB(t, reloadSchema)
	r, changes := startReloader(t, dsn, introspect.ReloaderOptions{NoListen: true})
	execSQL(t, dsn, reloadDDL)
	r.Trigger()
	checkReloadDiff(t, waitChange(t, changes))
}

func TestReloadOnTimer(t *testing.T) {
	noLeaks(t)
	dsn := freshDB(t, reloadSchema)
	_, changes := startReloader(t, dsn, introspect.ReloaderOptions{NoListen: true, Interval: 200 * time.Millisecond})
	execSQL(t, dsn, reloadDDL)
	checkReloadDiff(t, waitChange(t, changes))
}

func TestReloadFailureKeepsSnapshot(t *testing.T) {
	dsn := freshDB(t, reloadSchema)
	ctx := context.Background()
	r, err := introspect.NewReloader(ctx, dsn, introspect.ReloaderOptions{NoListen: true})
	if err != nil {
		t.Fatal(err)
	}
	before := r.Current()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r.Reload(cancelled); err == nil {
		t.Fatal("reload with a cancelled context succeeded")
	}
	if r.Current() != before {
		t.Errorf("failed reload replaced the snapshot")
	}
	d, err := r.Reload(ctx)
	if err != nil || !d.Empty() {
		t.Errorf("unchanged schema: diff %+v err %v", d, err)
	}
}

// waitListening waits until the reloader's LISTEN connection is in place,
// so the DDL's notification cannot be sent before anyone listens.
func waitListening(t *testing.T, dsn string) {
	t.Helper()
	conn := connect(t, dsn)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		err := conn.QueryRow(context.Background(),
			`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN `+introspect.ReloadChannel+`'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("reloader never listened")
}

// noLeaks checks, after every other cleanup, that the test left no
// goroutine behind.
func noLeaks(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// listenerPID waits for the reloader's listening connection other than
// not, once its LISTEN has finished (state idle): one caught while LISTEN
// still runs has not "got as far as LISTEN" for the reloader yet.
func listenerPID(t *testing.T, conn *pgx.Conn, not int) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var pid int
		err := conn.QueryRow(context.Background(), `SELECT pid FROM pg_stat_activity WHERE datname = current_database()
			AND query = 'LISTEN `+introspect.ReloadChannel+`' AND state = 'idle' AND pid <> $1`, not).Scan(&pid)
		if err == nil {
			return pid
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("reloader never listened again")
	return 0
}

// A listener whose connection breaks again and again, but reconnects
// fine each time (a server restarted now and then), waits the first
// pause each time rather than twice the last.
func TestListenerPauseResetsAfterGoodReconnect(t *testing.T) {
	dsn := freshDB(t, "CREATE TABLE a (id int)")
	var logs syncLog
	startReloader(t, dsn, introspect.ReloaderOptions{ReconnectPause: 40 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	admin := connect(t, dsn)
	pid := 0
	for range 5 {
		pid = listenerPID(t, admin, pid)
		if _, err := admin.Exec(context.Background(), "SELECT pg_terminate_backend($1)", pid); err != nil {
			t.Fatal(err)
		}
	}
	listenerPID(t, admin, pid)
	pauses := logs.pauses(t)
	if len(pauses) != 5 {
		t.Fatalf("%d retry records for 5 broken connections: %v", len(pauses), pauses)
	}
	for i, p := range pauses {
		if p != 40*time.Millisecond {
			t.Fatalf("retry %d paused %s after a good reconnect; want the first pause, 40ms (all: %v)", i+1, p, pauses)
		}
	}
}

// syncLog collects JSON log records from the reloader's goroutines.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// pauses are the "in" values of the listener's retry records.
func (s *syncLog) pauses(t *testing.T) []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []time.Duration
	for _, line := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		var rec struct {
			Msg string  `json:"msg"`
			In  float64 `json:"in"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if strings.HasPrefix(rec.Msg, "schema reload listener lost") {
			out = append(out, time.Duration(rec.In))
		}
	}
	return out
}

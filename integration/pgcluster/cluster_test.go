package pgcluster

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var shared *Cluster

// The tests that start servers of their own run in parallel. Those that
// set environment variables (TMPDIR among them, to count the directories
// a failed start leaves) cannot, and so run first, while nothing else
// runs, and TestAbandonedDirectoriesAreSwept stays out of their way too.

func TestMain(m *testing.M) { os.Exit(Shared(m, Options{MaxConnections: 50}, &shared)) }

func TestSharedClusterServesQueries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := NewDatabase(t, shared)
	conn, err := pgx.Connect(ctx, shared.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var fsync, maxConn, current string
	if err := conn.QueryRow(ctx, "select current_setting('fsync'), current_setting('max_connections'), current_database()").Scan(&fsync, &maxConn, &current); err != nil {
		t.Fatal(err)
	}
	if fsync != "off" || maxConn != "50" || current != db {
		t.Fatalf("fsync=%s max_connections=%s db=%s", fsync, maxConn, current)
	}
}

// A copy of a template holds the template's rows, and changing the copy
// leaves the template as it was.
func TestNewDatabaseFromCopiesTheTemplate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tmpl := NewDatabase(t, shared)
	exec := func(db, sql string) {
		t.Helper()
		conn, err := pgx.Connect(ctx, shared.DSN(db))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	count := func(db string) int {
		t.Helper()
		conn, err := pgx.Connect(ctx, shared.DSN(db))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM things").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	exec(tmpl, "CREATE TABLE things AS SELECT g FROM generate_series(1, 3) g")
	copy1, copy2 := NewDatabaseFrom(t, shared, tmpl), NewDatabaseFrom(t, shared, tmpl)
	exec(copy1, "INSERT INTO things VALUES (4)")
	if a, b, c := count(copy1), count(copy2), count(tmpl); a != 4 || b != 3 || c != 3 {
		t.Fatalf("rows: copy1 %d, copy2 %d, template %d; want 4, 3, 3", a, b, c)
	}
}

func TestOtherRolesNeedAPassword(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, shared.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE ROLE pw_check LOGIN PASSWORD 'right'"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = conn.Exec(ctx, "DROP ROLE pw_check") })
	if _, err := pgx.Connect(ctx, shared.DSNFor("pw_check", "wrong", "postgres")); err == nil || !strings.Contains(err.Error(), "password authentication failed") {
		t.Fatalf("wrong password: got %v", err)
	}
	ok, err := pgx.Connect(ctx, shared.DSNFor("pw_check", "right", "postgres"))
	if err != nil {
		t.Fatalf("right password: %v", err)
	}
	ok.Close(ctx)
}

func TestCloseStopsServerAndRemovesEverything(t *testing.T) {
	t.Parallel()
	c, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	pid := c.cmd.Process.Pid
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := os.Stat(c.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("cluster dir still there: %v", err)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Fatalf("postmaster %d still running", pid)
	}
}

func TestFailedStartLeavesNothing(t *testing.T) {
	privateTempDir(t)
	_, err := Start(context.Background(), Options{Settings: map[string]string{"shared_buffers": "not-a-size"}})
	if err == nil {
		t.Fatal("start with a bad setting succeeded")
	}
	if !strings.Contains(err.Error(), "shared_buffers") {
		t.Fatalf("error does not quote the server log: %v", err)
	}
	if left := clusterDirs(t); len(left) > 0 {
		t.Fatalf("left directories behind: %v", left)
	}
}

func TestOccupiedPortIsAClearError(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = Start(context.Background(), Options{Port: port})
	if err == nil || !strings.Contains(err.Error(), "port "+strconv.Itoa(port)+" on 127.0.0.1 is in use") {
		t.Fatalf("got %v", err)
	}
}

func TestMissingBinariesSayHowToInstall(t *testing.T) {
	t.Setenv("PGMOAT_PG_BINDIR", t.TempDir())
	_, err := Start(context.Background(), Options{})
	if !errors.Is(err, ErrNoServerBinaries) || !strings.Contains(err.Error(), "apt-get install") {
		t.Fatalf("got %v", err)
	}
}

func TestFindBinDirPrefersEnvironment(t *testing.T) {
	t.Setenv("PGMOAT_PG_BINDIR", shared.BinDir())
	dir, err := FindBinDir()
	if err != nil || dir != shared.BinDir() {
		t.Fatalf("FindBinDir = %q, %v", dir, err)
	}
}

func TestMajorOrdering(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		dir  string
		want float64
	}{
		{"/usr/lib/postgresql/15/bin", 15},
		{"/usr/lib/postgresql/9.6/bin", 9.6},
		{"/usr/lib/postgresql/x/bin", -1},
	} {
		if got := majorOf(tc.dir); got != tc.want {
			t.Errorf("majorOf(%s) = %v, want %v", tc.dir, got, tc.want)
		}
	}
}

func TestAbandonedDirectoriesAreSwept(t *testing.T) {
	old := time.Now().Add(-time.Hour)
	dead := mkClusterDir(t, "99999999\n", old)
	deadInTemp := mkClusterDirIn(t, os.TempDir(), "99999999\n", old) // from before baseDir chose memDir
	young := mkClusterDir(t, "99999999\n", time.Now())
	alive := mkClusterDir(t, strconv.Itoa(os.Getpid())+"\n", old)
	removeAbandonedDirs()
	for _, d := range []string{dead, deadInTemp} {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("dead cluster dir %s not swept", d)
		}
	}
	for _, d := range []string{young, alive} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s swept but should stay: %v", d, err)
		}
	}
}

func mkClusterDir(t *testing.T, pidFile string, mtime time.Time) string {
	t.Helper()
	return mkClusterDirIn(t, baseDir(), pidFile, mtime)
}

func mkClusterDirIn(t *testing.T, base, pidFile string, mtime time.Time) string {
	t.Helper()
	dir, err := os.MkdirTemp(base, dirPrefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data", "postmaster.pid"), []byte(pidFile), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(dir, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	return dir
}

// privateTempDir points os.TempDir at a directory of this test's own, so
// that other clusters on the machine do not disturb what it counts.
func privateTempDir(t *testing.T) {
	dir := t.TempDir()
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil { // the server account must get through
			t.Fatal(err)
		}
	}
	t.Setenv("TMPDIR", dir)
}

func clusterDirs(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(baseDir(), dirPrefix+"*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Restart ends every connection and serves again on the same port;
// Freeze leaves connects hanging until Thaw.
func TestRestartAndFreeze(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, mode := range []ShutdownMode{Fast, Immediate} {
		before, err := pgx.Connect(ctx, c.DSN("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Restart(ctx, mode); err != nil {
			t.Fatalf("restart -m %s: %v", mode, err)
		}
		if _, err := before.Exec(ctx, "select 1"); err == nil {
			t.Fatalf("a connection survived restart -m %s", mode)
		}
		after, err := pgx.Connect(ctx, c.DSN("postgres"))
		if err != nil {
			t.Fatalf("after restart -m %s: %v", mode, err)
		}
		after.Close(ctx)
	}
	open, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close(ctx)
	if err := c.Freeze(); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = pgx.Connect(short, c.DSN("postgres"))
	cancel()
	if err == nil {
		t.Fatal("a frozen server accepted a connection")
	}
	short, cancel = context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = open.Exec(short, "select 1")
	cancel()
	if err == nil {
		t.Fatal("a frozen server's backend answered")
	}
	if err := c.Thaw(); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		t.Fatalf("after thaw: %v", err)
	}
	conn.Close(ctx)
}

func TestReplicaStreamsFromThePrimary(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	primary := ForTest(t, Options{})
	replica := ReplicaForTest(t, primary, Options{})
	if replica.Port() == primary.Port() || replica.SocketDir() == primary.SocketDir() {
		t.Fatalf("replica shares the primary's port or socket: %d %s", replica.Port(), replica.SocketDir())
	}
	if err := primary.Exec(ctx, "postgres", "CREATE TABLE streamed (v int); INSERT INTO streamed VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	if err := primary.WaitReplayed(ctx, replica); err != nil {
		t.Fatal(err)
	}
	if got, err := replica.queryOne(ctx, "SELECT v::text FROM streamed"); err != nil || got != "42" {
		t.Fatalf("replica reads %q, %v", got, err)
	}
	if got, err := replica.queryOne(ctx, "SELECT pg_is_in_recovery()::text"); err != nil || got != "true" {
		t.Fatalf("replica in recovery: %q, %v", got, err)
	}
	if err := replica.Exec(ctx, "postgres", "INSERT INTO streamed VALUES (1)"); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("write on the replica: %v", err)
	}
	if err := replica.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := replica.queryOne(ctx, "SELECT pg_is_in_recovery()::text"); err != nil || got != "false" {
		t.Fatalf("promoted replica in recovery: %q, %v", got, err)
	}
}

package proxy

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// realClientEnv is the environment psql and pgbench run with against the
// proxy as user.
func (f *proxyFixture) realClientEnv(user string) []string {
	host, port, _ := net.SplitHostPort(f.addr)
	return append(os.Environ(), "PGHOST="+host, "PGPORT="+port, "PGUSER="+user, "PGPASSWORD="+user,
		"PGDATABASE="+f.db, "PGSSLMODE=disable", "PGCONNECT_TIMEOUT=10")
}

func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed; run .ci/deps (installs the PostgreSQL client tools)", name)
	}
	return path
}

func (f *proxyFixture) psql(t *testing.T, user, script string, extraEnv ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(needTool(t, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=0")
	cmd.Env = append(f.realClientEnv(user), extraEnv...)
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestPsqlDescribeCommandsWork(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	for _, meta := range []string{`\d`, `\dt`, `\d+ items`, `\di`, `\dv`, `\dn`, `\df`, `\l`, `\du`} {
		out, err := f.psql(t, "alice", `\set ON_ERROR_STOP 1`+"\n"+meta+"\n")
		if err != nil {
			t.Errorf("%s failed: %v\n%s", meta, err, out)
			continue
		}
		if strings.Contains(out, "ERROR") {
			t.Errorf("%s: %s", meta, out)
		}
	}
	// With footers: "Referenced by" comes from a query psql only sends for
	// tables other tables point at.
	out, err := f.psql(t, "alice", `\set ON_ERROR_STOP 1`+"\n"+`\pset tuples_only off`+"\n"+`\d items`+"\n")
	if err != nil || !strings.Contains(out, "owner") || !strings.Contains(out, "item_notes") {
		t.Fatalf(`\d items: %v\n%s`, err, out)
	}
}

func TestPsqlRefusalsAndUsability(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{timeout: 3 * time.Second})
	script := strings.Join([]string{
		"DELETE FROM items;",
		"SET request.user_id = '2';",
		"SELECT set_config('request.user_id', '2', false);",
		"RESET ALL;",
		"SET ROLE postgres;",
		"COMMIT; DROP TABLE items;",
		"SHOW statement_timeout;",
		"SELECT current_setting('request.user_id');",
		"SELECT count(*) FROM items;",
	}, "\n")
	out, _ := f.psql(t, "alice", script, "PGOPTIONS=-c statement_timeout=0")
	denials := regexp.MustCompile(`ERROR:  pgmoat: `).FindAllString(out, -1)
	if len(denials) != 6 {
		t.Fatalf("want 6 pgmoat denials, got %d:\n%s", len(denials), out)
	}
	if !strings.Contains(out, "ignored startup parameter \"options\"") {
		t.Errorf("PGOPTIONS not reported as ignored:\n%s", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	tail := strings.Join(lines[len(lines)-3:], ",")
	if tail != "3s,1,50" {
		t.Fatalf("after refusals: got %q, want 3s,1,50\n%s", tail, out)
	}
}

func TestPgbenchAllModes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 5, acquireTimeout: 10 * time.Second})
	script := filepath.Join(t.TempDir(), "select.sql")
	if err := os.WriteFile(script, []byte("\\set id random(1, 100)\nSELECT label FROM items WHERE id = :id;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pgbench := needTool(t, "pgbench")
	for _, mode := range []string{"simple", "extended", "prepared"} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command(pgbench, "-n", "-M", mode, "-c", "24", "-j", "2", "-t", "30", "-f", script)
			cmd.Env = f.realClientEnv("bob")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("pgbench -M %s: %v\n%s", mode, err, out)
			}
			if !strings.Contains(string(out), "number of failed transactions: 0") || !strings.Contains(string(out), "720/720") {
				t.Fatalf("pgbench -M %s did not finish cleanly:\n%s", mode, out)
			}
		})
	}
	if st := f.pool.Stats(); st.Open > 5 {
		t.Fatalf("pool opened %d, max 5", st.Open)
	}
}

func TestCancelOnlyTouchesTheOwner(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{timeout: 20 * time.Second})
	ctx := context.Background()
	victim := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	bystander := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	const slow = "SELECT count(*) FROM generate_series(1, 300000000)"
	var wg sync.WaitGroup
	var victimErr, bystanderErr error
	wg.Add(2)
	start := time.Now()
	go func() { defer wg.Done(); _, victimErr = victim.Exec(ctx, slow) }()
	go func() {
		defer wg.Done()
		_, bystanderErr = bystander.Exec(ctx, "SELECT count(*) FROM generate_series(1, 3000000)")
	}()
	waitRunning(t, f.db, slow)
	if err := victim.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if victimErr == nil || !strings.Contains(victimErr.Error(), "57014") {
		t.Fatalf("victim: %v", victimErr)
	}
	if time.Since(start) > 15*time.Second {
		t.Fatalf("cancel took %s", time.Since(start))
	}
	if bystanderErr != nil {
		t.Fatalf("bystander was hit: %v", bystanderErr)
	}
	// A forged key (right pid, wrong secret) is ignored.
	key := f.server.sessionKeyFor(t, "bob")
	forged := append([]byte(nil), key.secret...)
	forged[0] ^= 0xff
	f.server.cancel(key.pid, forged)
	var one int
	if err := bystander.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
}

// sessionKeyFor returns the cancel key of the (only) session of user.
func (s *Server) sessionKeyFor(t *testing.T, user string) cancelKey {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sess := range s.sessions {
		if sess.user == user {
			return sess.key
		}
	}
	t.Fatalf("no session for %s", user)
	return cancelKey{}
}

func TestPoolExhaustionIsCleanlyRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 2, acquireTimeout: 300 * time.Millisecond, timeout: 10 * time.Second})
	ctx := context.Background()
	// Two clients hold both backends in open transactions.
	for _, user := range []string{"alice", "bob"} {
		c := f.connect(t, user, pgx.QueryExecModeSimpleProtocol)
		if _, err := c.Exec(ctx, "BEGIN"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
	}
	third := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	_, err := third.Exec(ctx, "SELECT 1")
	if err == nil || !strings.Contains(err.Error(), "53300") {
		t.Fatalf("want 53300, got %v", err)
	}
	if _, err := third.Exec(ctx, "SELECT 1"); err == nil {
		t.Fatalf("still exhausted, should fail again")
	}
}

func TestClientVanishingMidTransactionGivesTheBackendBackClean(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{poolMax: 1, acquireTimeout: 5 * time.Second})
	ctx := context.Background()
	c := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	if _, err := c.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	// The server's clock once alice's transaction has begun: a transaction
	// bob inherited would have started before it. (now() differs from
	// statement_timestamp() in every transaction, whose first statement
	// is pgmoat's per-transaction settings.)
	var afterBegin time.Time
	if err := superuser(t, f).QueryRow(ctx, "SELECT clock_timestamp()").Scan(&afterBegin); err != nil {
		t.Fatal(err)
	}
	c.PgConn().Conn().Close() // vanish without Terminate
	next := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	var uid string
	var started time.Time
	err := next.QueryRow(ctx, "SELECT current_setting('request.user_id'), now()").Scan(&uid, &started)
	if err != nil {
		t.Fatal(err)
	}
	if inTx := started.Before(afterBegin); uid != "2" || inTx {
		t.Fatalf("next borrower got user id %s, inherited transaction %v", uid, inTx)
	}
}

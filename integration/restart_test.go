package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
	"github.com/pgmoat/pgmoat/integration/shop"
)

// outageRig is pgmoat serve in front of a PostgreSQL of its own, which
// the test restarts or freezes.
type outageRig struct {
	cluster   *pgcluster.Cluster
	proxyAddr string
	mcpAddr   string
	log       *lockedBuffer
}

// lockedBuffer collects pgmoat's log while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startOutageRig starts a cluster with the shop database and pgmoat
// serve on it with the pool sized as given.
func startOutageRig(t *testing.T, poolMin, poolMax int, acquire time.Duration) *outageRig {
	t.Helper()
	ctx := context.Background()
	c, err := pgcluster.Start(ctx, pgcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.CreateDatabase(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	if err := shop.Load(ctx, c.DSN("shop"), shop.Options{Scale: 1}); err != nil {
		t.Fatal(err)
	}
	r := &outageRig{cluster: c, proxyAddr: freePort(t), mcpAddr: freePort(t), log: &lockedBuffer{}}
	cfg := writeConfig(t, fmt.Sprintf(`backend:
  dsn: %q
  pool: {min: %d, max: %d, acquire_timeout: %s}
proxy:
  listen: %s
mcp:
  listen: %s
users:
  alice: {password: alice, user_id: 1, profile: readonly}
`, c.DSNFor(shop.ReaderRole, shop.DefaultReaderPassword, "shop"), poolMin, poolMax, acquire, r.proxyAddr, r.mcpAddr))
	cmd := exec.Command(binary, "serve", "--config", cfg)
	cmd.Stdout, cmd.Stderr = r.log, r.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("pgmoat's log:\n%s", r.log)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for r.query(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("pgmoat serve never answered; its log:\n%s", r.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return r
}

func (r *outageRig) dsn() string {
	host, port, _ := net.SplitHostPort(r.proxyAddr)
	return fmt.Sprintf("host=%s port=%s user=alice password=alice dbname=shop sslmode=disable connect_timeout=5", host, port)
}

// query is one new client session through pgmoat running one statement.
func (r *outageRig) query(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, r.dsn())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var n int
	return conn.QueryRow(ctx, "SELECT count(*) FROM products").Scan(&n)
}

// pgbench runs pgbench through pgmoat for d with clients clients; it
// returns the output and the exit error.
func (r *outageRig) pgbench(t *testing.T, clients int, d time.Duration) (string, error) {
	t.Helper()
	bin, err := pgcluster.FindBinDir()
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "select.sql")
	if err := os.WriteFile(script, []byte("SELECT count(*) FROM products;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(r.proxyAddr)
	cmd := exec.Command(filepath.Join(bin, "pgbench"), "-n", "-c", strconv.Itoa(clients), "-j", "2",
		"-T", strconv.Itoa(int(d.Seconds())), "-f", script, "-h", host, "-p", port, "-U", "alice", "shop")
	cmd.Env = append(os.Environ(), "PGPASSWORD=alice", "PGSSLMODE=disable")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// psql runs one new psql session through pgmoat.
func (r *outageRig) psql(t *testing.T) error {
	t.Helper()
	bin, err := pgcluster.FindBinDir()
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(r.proxyAddr)
	cmd := exec.Command(filepath.Join(bin, "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", host, "-p", port, "-U", "alice", "-d", "shop", "-c", "SELECT count(*) FROM products")
	cmd.Env = append(os.Environ(), "PGPASSWORD=alice", "PGSSLMODE=disable")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// metric reads one unlabelled counter from pgmoat's /metrics.
func (r *outageRig) metric(t *testing.T, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + r.mcpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in /metrics", name)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// The server restarts (fast, then immediate) under pgbench load. Once it
// is back, every new session through pgmoat is served: 25 psql sessions
// in a row and a fresh pgbench without a failed transaction. The log and
// /metrics say what happened.
func TestBackendRestartUnderLoad(t *testing.T) {
	t.Parallel()
	r := startOutageRig(t, 4, 8, 2*time.Second)
	ctx := context.Background()
	for _, mode := range []pgcluster.ShutdownMode{pgcluster.Fast, pgcluster.Immediate} {
		t.Run(string(mode), func(t *testing.T) {
			lost := r.metric(t, "pgmoat_pool_lost_total")
			type result struct {
				out string
				err error
			}
			load := make(chan result, 1)
			go func() {
				out, err := r.pgbench(t, 8, 4*time.Second)
				load <- result{out, err}
			}()
			// Restart once pgbench has its clients running.
			acquired := r.metric(t, "pgmoat_pool_acquired_total")
			deadline := time.Now().Add(20 * time.Second)
			for r.metric(t, "pgmoat_pool_acquired_total") < acquired+20 {
				if time.Now().After(deadline) {
					t.Fatalf("pgbench never got going; pgmoat's log:\n%s", r.log)
				}
				time.Sleep(20 * time.Millisecond)
			}
			began := time.Now()
			if err := r.cluster.Restart(ctx, mode); err != nil {
				t.Fatal(err)
			}
			up := time.Now()
			for r.query(ctx) != nil {
				if time.Since(up) > 10*time.Second {
					t.Fatalf("no session served 10s after the server came back")
				}
				time.Sleep(10 * time.Millisecond)
			}
			t.Logf("restart -m %s: server down and up again in %s; first new session through pgmoat served %s after the server was up",
				mode, up.Sub(began).Round(time.Millisecond), time.Since(up).Round(time.Millisecond))
			for i := range 25 {
				if err := r.psql(t); err != nil {
					t.Fatalf("psql session %d of 25 after restart -m %s: %v", i+1, mode, err)
				}
			}
			res := <-load
			t.Logf("pgbench across the restart (clients cut by the restart abort; exit %v):\n%s", res.err, tail(res.out, 6))
			out, err := r.pgbench(t, 4, 2*time.Second)
			if err != nil || !strings.Contains(out, "number of failed transactions: 0") {
				t.Fatalf("a fresh pgbench after restart -m %s: %v\n%s", mode, err, out)
			}
			if got := r.metric(t, "pgmoat_pool_lost_total"); got <= lost {
				t.Fatalf("pgmoat_pool_lost_total %v after restart -m %s, was %v", got, mode, lost)
			}
		})
	}
	if !strings.Contains(r.log.String(), "backend lost") {
		t.Fatalf("no backend lost record in pgmoat's log:\n%s", r.log)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// A server that stops answering (SIGSTOP of all its processes) for longer
// than acquire_timeout: clients the pool cannot serve get 53300 at the
// acquire timeout, including those that would need a new connection to
// the hung server, and once it runs again everyone is served.
func TestBackendHangsLongerThanAcquireTimeout(t *testing.T) {
	const acquire = time.Second
	r := startOutageRig(t, 2, 4, acquire)
	ctx := context.Background()
	if err := r.cluster.Freeze(); err != nil {
		t.Fatal(err)
	}
	thawed := false
	defer func() {
		if !thawed {
			_ = r.cluster.Thaw()
		}
	}()
	// Two clients get the pool's two idle backends and wait with the
	// server; the other four find the pool unable to serve them in time.
	type outcome struct {
		err  error
		took time.Duration
	}
	const clients = 6
	results := make(chan outcome, clients)
	for range clients {
		go func() {
			start := time.Now()
			err := r.query(ctx)
			results <- outcome{err, time.Since(start)}
		}()
	}
	var refused []outcome
	timeout := time.After(4 * acquire) // 53300 comes at 1 acquire timeout
	for len(refused) < clients-2 {
		select {
		case o := <-results:
			refused = append(refused, o)
		case <-timeout:
			t.Fatalf("after %s only %d clients were answered: %+v", 4*acquire, len(refused), refused)
		}
	}
	for _, o := range refused {
		var pe *pgconn.PgError
		if !errors.As(o.err, &pe) || pe.Code != "53300" {
			t.Fatalf("a client of the hung server got %v after %s; want 53300", o.err, o.took)
		}
		if o.took > 2*acquire { // a fixed connect timeout would be 5s
			t.Fatalf("53300 after %s with a %s acquire timeout", o.took, acquire)
		}
	}
	if err := r.cluster.Thaw(); err != nil {
		t.Fatal(err)
	}
	thawed = true
	for range 2 {
		if o := <-results; o.err != nil {
			t.Fatalf("a client that held a backend through the hang: %v", o.err)
		}
	}
	for i := range 10 {
		if err := r.query(ctx); err != nil {
			t.Fatalf("session %d after the server resumed: %v", i+1, err)
		}
	}
	if v := r.metric(t, "pgmoat_pool_exhausted_total"); v < clients-2 {
		t.Fatalf("pgmoat_pool_exhausted_total = %v", v)
	}
	if log := r.log.String(); !strings.Contains(log, "pool exhausted") || !strings.Contains(log, "connect_timeout") {
		t.Fatalf("pgmoat's log does not say the pool was exhausted connecting:\n%s", log)
	}
}

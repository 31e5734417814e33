package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
	"github.com/pgmoat/pgmoat/integration/shop"
	"github.com/pgmoat/pgmoat/introspect"
)

// scaleOut is a primary with the shop database and the reload event
// trigger, two streaming replicas, and pgmoat serve instances reading
// from the replicas.
type scaleOut struct {
	primary  *pgcluster.Cluster
	replicas []*pgcluster.Cluster
}

func startScaleOut(t *testing.T) *scaleOut {
	t.Helper()
	ctx := context.Background()
	p := pgcluster.ForTest(t, pgcluster.Options{})
	if err := p.CreateDatabase(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	if err := shop.Load(ctx, p.DSN("shop"), shop.Options{Scale: 1}); err != nil {
		t.Fatal(err)
	}
	if err := p.Exec(ctx, "shop", introspect.EventTriggerSQL); err != nil {
		t.Fatal(err)
	}
	s := &scaleOut{primary: p}
	for range 2 {
		s.replicas = append(s.replicas, pgcluster.ReplicaForTest(t, p, pgcluster.Options{}))
	}
	return s
}

// instance is one pgmoat serve process.
type instance struct {
	proxyAddr, mcpAddr string
	log                *lockedBuffer
}

func (s *scaleOut) serve(t *testing.T) *instance {
	t.Helper()
	in := &instance{proxyAddr: freePort(t), mcpAddr: freePort(t), log: &lockedBuffer{}}
	dsn := func(c *pgcluster.Cluster) string {
		return c.DSNFor(shop.ReaderRole, shop.DefaultReaderPassword, "shop")
	}
	cfg := writeConfig(t, fmt.Sprintf(`backend:
  dsn: %q
  pool: {min: 2, max: 6}
  replicas: [%q, %q]
proxy:
  listen: %s
mcp:
  listen: %s
  tokens:
    alice-token: {user_id: 1}
  cursor_secret: shared-secret-of-every-instance-0123456789
users:
  alice: {password: alice, user_id: 1}
admin:
  users:
    dba: {password: dba}
`, dsn(s.primary), dsn(s.replicas[0]), dsn(s.replicas[1]), in.proxyAddr, in.mcpAddr))
	cmd := exec.Command(binary, "serve", "--config", cfg)
	cmd.Stdout, cmd.Stderr = in.log, in.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("pgmoat's log:\n%s", in.log)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := in.count(context.Background(), "products"); err == nil && in.mcpUp() {
			return in
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgmoat serve never answered; its log:\n%s", in.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mcpUp says the MCP listener answers.
func (in *instance) mcpUp() bool {
	resp, err := http.Get("http://" + in.mcpAddr + "/metrics")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (in *instance) dsn(db, user string) string {
	host, port, _ := net.SplitHostPort(in.proxyAddr)
	return fmt.Sprintf("host=%s port=%s user=%s password=%s dbname=%s sslmode=disable connect_timeout=5", host, port, user, user, db)
}

// count is SELECT count(*) of table through the proxy as alice, with the
// port of the server that answered.
func (in *instance) count(ctx context.Context, table string) (port int, err error) {
	conn, err := pgx.Connect(ctx, in.dsn("shop", "alice"))
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	var n int64
	err = conn.QueryRow(ctx, "SELECT inet_server_port(), count(*) FROM "+table).Scan(&port, &n)
	return port, err
}

// hostMetric is a per-host series from /metrics.
func (in *instance) hostMetric(t *testing.T, name string, c *pgcluster.Cluster) float64 {
	t.Helper()
	resp, err := http.Get("http://" + in.mcpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^` + name + `\{host="127\.0\.0\.1:` + strconv.Itoa(c.Port()) + `",role="\w+"\} (\S+)$`)
	m := re.FindSubmatch(body)
	if m == nil {
		t.Fatalf("no %s for port %d in /metrics:\n%s", name, c.Port(), body)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

func (in *instance) mcp(t *testing.T) *sdk.ClientSession {
	t.Helper()
	hc := &http.Client{Transport: bearer{token: "alice-token", base: http.DefaultTransport}}
	client := sdk.NewClient(&sdk.Implementation{Name: "scale-out-test", Version: "1"}, nil)
	cs, err := client.Connect(t.Context(), &sdk.StreamableClientTransport{Endpoint: "http://" + in.mcpAddr + "/mcp", HTTPClient: hc}, nil)
	if err != nil {
		t.Fatalf("MCP connect: %v", err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func toolNames(t *testing.T, cs *sdk.ClientSession) []string {
	t.Helper()
	list, err := cs.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range list.Tools {
		names = append(names, tool.Name)
	}
	return names
}

// Two pgmoat instances over one primary and two replicas: proxy reads
// and MCP calls go to the replicas (the primary lends nothing), a DDL
// change on the primary reaches the tools of both instances (their LISTEN
// is on the primary: a NOTIFY never reaches a replica), and the new tool
// serves rows from a replica.
func TestTwoInstancesOverReplicasFollowTheSchema(t *testing.T) {
	t.Parallel()
	s := startScaleOut(t)
	a, b := s.serve(t), s.serve(t)
	ctx := context.Background()
	for _, in := range []*instance{a, b} {
		primaryLent := in.hostMetric(t, "pgmoat_host_acquired_total", s.primary)
		ports := map[int]int{}
		for range 20 {
			port, err := in.count(ctx, "customers")
			if err != nil {
				t.Fatal(err)
			}
			ports[port]++
		}
		if ports[s.primary.Port()] != 0 || ports[s.replicas[0].Port()] == 0 || ports[s.replicas[1].Port()] == 0 {
			t.Fatalf("proxy reads by port: %v (primary %d)", ports, s.primary.Port())
		}
		cs := in.mcp(t)
		for range 4 {
			res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "query_customers", Arguments: map[string]any{"limit": 5}})
			if err != nil || res.IsError {
				t.Fatalf("query_customers: %v %+v", err, res)
			}
		}
		if got := in.hostMetric(t, "pgmoat_host_acquired_total", s.primary); got != primaryLent {
			t.Fatalf("the primary lent %v backends during replica reads", got-primaryLent)
		}
	}
	sa, sb := a.mcp(t), b.mcp(t)
	if slices.Contains(toolNames(t, sa), "query_coupons") {
		t.Fatal("query_coupons before the table exists")
	}
	if err := s.primary.Exec(ctx, "shop", `CREATE TABLE coupons (id integer PRIMARY KEY, code text NOT NULL);
INSERT INTO coupons SELECT g, 'C' || g FROM generate_series(1, 30) g;
GRANT SELECT ON coupons TO `+shop.ReaderRole); err != nil {
		t.Fatal(err)
	}
	for name, cs := range map[string]*sdk.ClientSession{"first": sa, "second": sb} {
		deadline := time.Now().Add(20 * time.Second)
		for !slices.Contains(toolNames(t, cs), "query_coupons") {
			if time.Now().After(deadline) {
				t.Fatalf("the %s instance never listed query_coupons", name)
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, r := range s.replicas {
			if err := s.primary.WaitReplayed(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "query_coupons", Arguments: map[string]any{"limit": 50}})
		if err != nil || res.IsError {
			t.Fatalf("query_coupons on the %s instance: %v %+v", name, err, res)
		}
		body, _ := json.Marshal(res.StructuredContent)
		var out struct {
			RowCount int `json:"row_count"`
		}
		_ = json.Unmarshal(body, &out)
		if out.RowCount != 30 {
			t.Fatalf("query_coupons on the %s instance: %d rows", name, out.RowCount)
		}
	}
}

// A replica killed under pgbench load: only the transactions in flight on
// it are lost (their clients abort; the others run on), it leaves
// rotation with a log line, and a fresh pgbench runs without a failure on
// the replica left.
func TestReplicaKilledUnderPgbench(t *testing.T) {
	t.Parallel()
	s := startScaleOut(t)
	in := s.serve(t)
	bin, err := pgcluster.FindBinDir()
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "select.sql")
	if err := os.WriteFile(script, []byte("SELECT count(*) FROM products;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const clients = 8
	pgbench := func(d time.Duration) (string, error) {
		host, port, _ := net.SplitHostPort(in.proxyAddr)
		cmd := exec.Command(filepath.Join(bin, "pgbench"), "-n", "-c", strconv.Itoa(clients), "-j", "2",
			"-T", strconv.Itoa(int(d.Seconds())), "-f", script, "-h", host, "-p", port, "-U", "alice", "shop")
		cmd.Env = append(os.Environ(), "PGPASSWORD=alice", "PGSSLMODE=disable")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	type result struct {
		out string
		err error
	}
	load := make(chan result, 1)
	go func() {
		out, err := pgbench(5 * time.Second)
		load <- result{out, err}
	}()
	victim, survivor := s.replicas[0], s.replicas[1]
	deadline := time.Now().Add(20 * time.Second)
	for in.hostMetric(t, "pgmoat_host_acquired_total", victim) < 200 {
		if time.Now().After(deadline) {
			t.Fatal("pgbench never reached the replica")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := victim.Close(); err != nil {
		t.Fatal(err)
	}
	res := <-load
	t.Logf("pgbench across the kill (exit %v):\n%s", res.err, tail(res.out, 8))
	aborted := 0
	if m := regexp.MustCompile(`number of clients aborted: (\d+)|(\d+) of \d+ clients? aborted`).FindStringSubmatch(res.out); m != nil {
		aborted, _ = strconv.Atoi(m[1] + m[2])
	}
	aborted = max(aborted, strings.Count(res.out, "aborted in command"))
	t.Logf("%d of %d clients aborted by the kill", aborted, clients)
	if aborted >= clients || !strings.Contains(res.out, "number of transactions actually processed") {
		t.Fatalf("%d of %d clients aborted: more than the transactions in flight on the killed replica\n%s", aborted, clients, res.out)
	}
	if in.hostMetric(t, "pgmoat_host_in_rotation", victim) != 0 || in.hostMetric(t, "pgmoat_host_in_rotation", survivor) != 1 {
		t.Fatal("rotation after the kill is wrong")
	}
	if !strings.Contains(in.log.String(), "host left rotation") {
		t.Fatalf("no host left rotation record:\n%s", in.log)
	}
	survived := in.hostMetric(t, "pgmoat_host_acquired_total", survivor)
	out, err := pgbench(2 * time.Second)
	if err != nil || !strings.Contains(out, "number of failed transactions: 0") {
		t.Fatalf("a fresh pgbench after the kill: %v\n%s", err, out)
	}
	if in.hostMetric(t, "pgmoat_host_acquired_total", survivor) <= survived {
		t.Fatal("the fresh pgbench did not run on the replica left")
	}
}

package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
	"github.com/pgmoat/pgmoat/integration/shop"
)

var (
	cluster *pgcluster.Cluster
	binary  string // the pgmoat binary under test
)

// testParallel is how many tests run at once unless -parallel says
// otherwise. The parallel tests mostly wait (pgbench runs of a fixed
// length, restarts, token lifetimes, replicas catching up), so more of
// them than the default GOMAXPROCS overlap usefully even on two cores.
const testParallel = 4

func TestMain(m *testing.M) {
	flag.Parse()
	parallelGiven := false
	flag.Visit(func(f *flag.Flag) { parallelGiven = parallelGiven || f.Name == "test.parallel" })
	if !parallelGiven {
		_ = flag.Set("test.parallel", strconv.Itoa(max(testParallel, runtime.GOMAXPROCS(0))))
	}
	dir, err := os.MkdirTemp("", "pgmoat-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "pgmoat")
	// The binary is built while the shared cluster starts.
	build := exec.Command("go", "build", "-o", binary, "github.com/pgmoat/pgmoat/cmd/pgmoat")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "build pgmoat:", err)
		os.Exit(1)
	}
	code := pgcluster.Shared(afterBuild{m, build}, pgcluster.Options{}, &cluster)
	if build.ProcessState == nil { // the cluster did not start: m never ran
		_ = build.Wait()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// afterBuild runs the tests once the pgmoat binary is built.
type afterBuild struct {
	m     *testing.M
	build *exec.Cmd
}

func (a afterBuild) Run() int {
	if err := a.build.Wait(); err != nil {
		fmt.Fprintln(os.Stderr, "build pgmoat:", err)
		return 1
	}
	return a.m.Run()
}

// pgmoat runs the binary to completion.
func pgmoat(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errOut.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), 0
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pgmoat.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestVersionAndUsage(t *testing.T) {
	out, _, code := pgmoat(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, "pgmoat ") {
		t.Fatalf("version: %d %q", code, out)
	}
	_, errOut, code := pgmoat(t, "", "frobnicate")
	if code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Fatalf("unknown command: %d %q", code, errOut)
	}
}

func TestConfigErrorsExitTwoWithOneClearLine(t *testing.T) {
	for name, tc := range map[string]struct{ config, want string }{
		"typo":        {"proxy:\n  lisen: 127.0.0.1:1\n", `line 2: unknown key "lisen"; did you mean "listen"?`},
		"no dsn":      {"proxy:\n  listen: 127.0.0.1:1\n", "backend.dsn is not set"},
		"bad profile": {"users:\n  a: {password: x, user_id: 1, profile: nope}\n", `profile "nope" is not defined`},
	} {
		t.Run(name, func(t *testing.T) {
			_, errOut, code := pgmoat(t, "", "serve", "--config", writeConfig(t, tc.config))
			if code != 2 || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Fatalf("exit %d, stderr %q; want one line containing %q", code, errOut, tc.want)
			}
		})
	}
	_, errOut, code := pgmoat(t, "", "serve", "--config", "/nonexistent/pgmoat.yaml")
	if code != 2 || !strings.Contains(errOut, "cannot read config") {
		t.Fatalf("unreadable config: %d %q", code, errOut)
	}
}

func TestServeRefusesWrongPasswordAndUnsafeRoles(t *testing.T) {
	t.Parallel()
	db := pgcluster.NewDatabase(t, cluster)
	if err := shop.Load(context.Background(), cluster.DSN(db), shop.Options{Scale: 1}); err != nil {
		t.Fatal(err)
	}
	wrongPW := writeConfig(t, fmt.Sprintf("backend:\n  dsn: %q\nproxy:\n  listen: %s\n",
		cluster.DSNFor(shop.ReaderRole, "wrong-password", db), freePort(t)))
	_, errOut, code := pgmoat(t, "", "serve", "--config", wrongPW)
	if code != 2 || !strings.Contains(errOut, "password authentication failed") || strings.Contains(errOut, "wrong-password") {
		t.Fatalf("wrong password: exit %d, %q", code, errOut)
	}

	superuser := writeConfig(t, fmt.Sprintf("backend:\n  dsn: %q\nproxy:\n  listen: %s\n", cluster.DSN(db), freePort(t)))
	_, errOut, code = pgmoat(t, "", "serve", "--config", superuser)
	if code != 2 || !strings.Contains(errOut, "backend.unsafe_role: refusing to use backend role") || !strings.Contains(errOut, "superuser") || !strings.Contains(errOut, "--allow-unsafe-backend-role") {
		t.Fatalf("superuser backend: exit %d, %q", code, errOut)
	}
	out, _, code := pgmoat(t, "", "doctor", "--config", superuser)
	if code != 1 || !strings.Contains(out, "[FAIL] role.superuser") || !strings.Contains(out, "Verdict: UNSAFE") {
		t.Fatalf("doctor on superuser: exit %d\n%s", code, out)
	}
	reader := writeConfig(t, fmt.Sprintf("backend:\n  dsn: %q\n", cluster.DSNFor(shop.ReaderRole, shop.DefaultReaderPassword, db)))
	out, _, code = pgmoat(t, "", "doctor", "--config", reader)
	if code != 0 || !strings.Contains(out, "Verdict: OK") {
		t.Fatalf("doctor on the reader role: exit %d\n%s", code, out)
	}
}

// TestDemoRunsAndCleansUp is what a newcomer does: make run, psql in,
// Ctrl-C, and nothing is left behind.
func TestDemoRunsAndCleansUp(t *testing.T) {
	t.Parallel()
	proxyAddr, mcpAddr := freePort(t), freePort(t)
	cmd := exec.Command(binary, "demo", "--proxy-listen", proxyAddr, "--mcp-listen", mcpAddr)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var transcript []string
	var clusterDir string
	dirLine := regexp.MustCompile(`removing (\S+) …`)
	waitFor := func(substr string) {
		t.Helper()
		deadline := time.After(3 * time.Minute)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("demo ended before %q:\n%s", substr, strings.Join(transcript, "\n"))
				}
				transcript = append(transcript, l)
				if m := dirLine.FindStringSubmatch(l); m != nil {
					clusterDir = m[1]
				}
				if strings.Contains(l, substr) {
					return
				}
			case <-deadline:
				t.Fatalf("no %q within 3 minutes:\n%s", substr, strings.Join(transcript, "\n"))
			}
		}
	}
	waitFor("Press Ctrl-C")

	ctx := context.Background()
	host, port, _ := net.SplitHostPort(proxyAddr)
	seen := map[string]int64{}
	for _, user := range []string{"alice", "bob"} {
		conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://%s:%s@%s:%s/shop?sslmode=disable", user, user, host, port))
		if err != nil {
			t.Fatalf("connect as %s: %v", user, err)
		}
		var n int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM customers").Scan(&n); err != nil {
			t.Fatal(err)
		}
		seen[user] = n
		if _, err := conn.Exec(ctx, "DELETE FROM orders"); err == nil || !strings.Contains(err.Error(), "42501") {
			t.Fatalf("DELETE through the demo: %v", err)
		}
		for _, attack := range identitySwitches {
			if _, err := conn.Exec(ctx, attack); err == nil || !strings.Contains(err.Error(), "42501") {
				t.Fatalf("%s through the demo as %s: %v", attack, user, err)
			}
		}
		var after int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM customers").Scan(&after); err != nil || after != n {
			t.Fatalf("%s saw %d customers, then %d after the identity-switch attempts (%v)", user, n, after, err)
		}
		conn.Close(ctx)
	}
	if seen["alice"] == 0 || seen["bob"] == 0 || seen["alice"] == 1000 {
		t.Fatalf("customers seen: %v", seen)
	}
	checkDemoMCP(t, mcpAddr, seen["alice"])
	checkDemoConsole(t, host, port)

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	waitFor("Done.")
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("demo exit: %v", err)
	}
	if clusterDir == "" {
		t.Fatal("demo did not say which directory it removed")
	}
	if _, err := os.Stat(clusterDir); !os.IsNotExist(err) {
		t.Fatalf("%s is still there", clusterDir)
	}
	if out, _ := exec.Command("pgrep", "-f", "postgres -D "+clusterDir).Output(); len(out) > 0 {
		t.Fatalf("postgres still running: %s", out)
	}
	if c, err := net.DialTimeout("tcp", proxyAddr, time.Second); err == nil {
		c.Close()
		t.Fatal("proxy still listening")
	}
}

// identitySwitches are ways an ordinary login tried to become another
// row-level-security identity; each must be refused on the wire.
var identitySwitches = []string{
	"SELECT set_config('request.user_id', '2', false)",
	"SELECT ('SELECT to_tsvector(set_config($$request.user_id$$,$$2$$,false))'::text).ts_stat",
	"SELECT x.set_config FROM (SELECT 'request.user_id' AS a) x",
	"SET request.user_id = '2'",
	"SELECT pg_catalog.set_config('request.user_id', '2', true)",
}

type bearer struct {
	token string
	base  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

// checkDemoMCP lists and calls the demo's tools as alice over HTTP.
func checkDemoMCP(t *testing.T, addr string, aliceCustomers int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hc := &http.Client{Transport: bearer{token: "alice-token", base: http.DefaultTransport}}
	client := sdk.NewClient(&sdk.Implementation{Name: "demo-test", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: "http://" + addr + "/mcp", HTTPClient: hc}, nil)
	if err != nil {
		t.Fatalf("MCP connect: %v", err)
	}
	defer cs.Close()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, tool := range tools.Tools {
		names[tool.Name] = true
	}
	if !names["query_customers"] || !names["query_orders"] {
		t.Fatalf("demo tools: %v", names)
	}
	for range 3 {
		res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "query_customers", Arguments: map[string]any{"limit": 1000}})
		if err != nil || res.IsError {
			if res != nil && len(res.Content) > 0 {
				if tc, ok := res.Content[0].(*sdk.TextContent); ok {
					t.Fatalf("query_customers: %s", tc.Text)
				}
			}
			t.Fatalf("query_customers: %v %+v", err, res)
		}
		body, _ := json.Marshal(res.StructuredContent)
		var out struct {
			RowCount int `json:"row_count"`
		}
		_ = json.Unmarshal(body, &out)
		if int64(out.RowCount) != aliceCustomers {
			t.Fatalf("MCP as alice saw %d customers, the proxy %d", out.RowCount, aliceCustomers)
		}
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`pgmoat_mcp_tool_calls_total{result="ok",tool="query_customers"} 3`,
		`pgmoat_mcp_shape_cache_total{result="hit"} 2`,
		`pgmoat_policy_verdict_cache_total{result="hit"}`,
		`pgmoat_pool_connections{state="idle"}`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// checkDemoConsole is the DBA's view after the calls above: p99 per tool
// and the refused DELETEs.
func checkDemoConsole(t *testing.T, host, port string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://dba:dba@%s:%s/pgmoat?sslmode=disable", host, port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var tool, calls, p50, p99, errs, rowsPerCall string
	err = conn.QueryRow(ctx, "SHOW TOOLS", pgx.QueryExecModeSimpleProtocol).Scan(&tool, &calls, &p50, &p99, &errs, &rowsPerCall)
	if err != nil || tool != "query_customers" || calls != "3" || p99 == "" {
		t.Fatalf("SHOW TOOLS: %s %s %s %v", tool, calls, p99, err)
	}
	rows, err := conn.Query(ctx, "SHOW DENIALS", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	var denials int
	for rows.Next() {
		vals, _ := rows.Values()
		if strings.Contains(fmt.Sprint(vals...), "DELETE FROM orders") {
			denials++
		}
	}
	if denials != 2 {
		t.Fatalf("SHOW DENIALS lists %d refused DELETEs, want 2", denials)
	}
}

package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
	"github.com/pgmoat/pgmoat/integration/shop"
)

// fdLimit is the descriptor limit pgmoat runs under in the flood test,
// the usual soft limit; each flood opens more connections than that, as
// the fault probe did, against the default mcp.http settings.
const (
	fdLimit = 1024
	flood   = 1050
)

// servedOutput collects a running pgmoat's stdout, line by line.
type servedOutput struct {
	mu    sync.Mutex
	lines []string
	more  chan struct{} // closed and replaced on every line
}

func (o *servedOutput) add(line string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lines = append(o.lines, line)
	close(o.more)
	o.more = make(chan struct{})
}

func (o *servedOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.lines, "\n")
}

// waitFor waits for a line containing want, failing if pgmoat exits
// first or within is over.
func (o *servedOutput) waitFor(t *testing.T, want string, exited <-chan struct{}, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		o.mu.Lock()
		more := o.more
		for _, l := range o.lines {
			if strings.Contains(l, want) {
				o.mu.Unlock()
				return
			}
		}
		o.mu.Unlock()
		select {
		case <-more:
		case <-exited:
			t.Fatalf("pgmoat exited before %q:\n%s", want, o)
		case <-deadline:
			t.Fatalf("no %q within %v:\n%s", want, within, o)
		}
	}
}

// TestDescriptorFloodOnBothPorts runs pgmoat serve under an fdLimit-descriptor
// limit and opens more connections than that to each door: silent TCP
// connections to the proxy, and to MCP requests without a token whose
// body never ends. pgmoat must keep running, answer every token-less
// request 401 (while real clients are served beside the MCP flood), back
// off while it has no descriptor left, and serve a real pgx client and a
// real MCP client once the flood is gone.
func TestDescriptorFloodOnBothPorts(t *testing.T) {
	raiseOwnFDLimit(t, 4*flood)
	db := pgcluster.NewDatabase(t, cluster)
	ctx := context.Background()
	if err := shop.Load(ctx, cluster.DSN(db), shop.Options{Scale: 1}); err != nil {
		t.Fatal(err)
	}
	proxyAddr, mcpAddr := freePort(t), freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`backend:
  dsn: %q
  pool: {min: 2, max: 4}
proxy:
  listen: %s
  startup_timeout: 60s
users:
  alice: {password: alice, user_id: 1}
mcp:
  listen: %s
  tokens:
    alice-token: {user_id: 1}
`, cluster.DSNFor(shop.ReaderRole, shop.DefaultReaderPassword, db), proxyAddr, mcpAddr))
	cmd := exec.Command("prlimit", fmt.Sprintf("--nofile=%d:%d", fdLimit, fdLimit), binary, "serve", "--config", cfg)
	cmd.Env = append(os.Environ(), "PGMOAT_LOG_FORMAT=json")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		skipOutsideCI(t, "prlimit (util-linux) could not start: %v", err)
	}
	out := &servedOutput{more: make(chan struct{})}
	exited := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			out.add(sc.Text())
		}
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-exited
	})
	out.waitFor(t, "MCP listening", exited, 30*time.Second)

	// The MCP door: requests without a token, headers sent, body never
	// finished. Each is answered 401 and closed without its body, so
	// real clients are served meanwhile.
	mcpFlood := dialAll(t, mcpAddr, flood, "POST /mcp HTTP/1.1\r\nHost: "+mcpAddr+"\r\nContent-Type: application/json\r\n"+
		"Accept: application/json, text/event-stream\r\nContent-Length: 100000\r\n\r\n{\"jsonrpc\":")
	checkProxyClient(t, proxyAddr, db, 10*time.Second)
	checkMCPClient(t, mcpAddr)
	var refused sync.WaitGroup
	errs := make(chan error, flood)
	for _, c := range mcpFlood {
		refused.Go(func() {
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
			b, err := io.ReadAll(c) // to the server's close
			switch {
			case !strings.HasPrefix(string(b), "HTTP/1.1 401 "):
				errs <- fmt.Errorf("answer %.40q, %v", b, err)
			case err != nil:
				errs <- fmt.Errorf("401 but not closed: %v", err)
			}
		})
	}
	refused.Wait()
	close(errs)
	if n := len(errs); n > 0 {
		t.Errorf("%d of %d token-less requests not answered 401 and closed; first: %v", n, flood, <-errs)
	}
	closeAll(mcpFlood)

	// The proxy door: silent connections until pgmoat has no descriptor
	// left and says so; it keeps running.
	proxyFlood := dialAll(t, proxyAddr, flood, "")
	out.waitFor(t, `"msg":"accept error"`, exited, 20*time.Second)
	select {
	case <-exited:
		t.Fatalf("pgmoat exited during the flood:\n%s", out)
	default:
	}
	closeAll(proxyFlood)

	checkProxyClient(t, proxyAddr, db, 15*time.Second)
	checkMCPClient(t, mcpAddr)
	out.waitFor(t, "proxy: accepting clients again", exited, 5*time.Second)
	select {
	case <-exited:
		t.Fatalf("pgmoat exited:\n%s", out)
	default:
	}
	if n := scrapedCounter(t, mcpAddr, "pgmoat_proxy_accept_errors_total"); n < 1 {
		t.Errorf("pgmoat_proxy_accept_errors_total = %v after the proxy ran out of descriptors", n)
	}
}

// scrapedCounter reads one unlabelled counter from pgmoat's /metrics.
func scrapedCounter(t *testing.T, mcpAddr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + mcpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var v float64
		if n, _ := fmt.Sscanf(sc.Text(), name+" %g", &v); n == 1 {
			return v
		}
	}
	t.Fatalf("no %s in /metrics", name)
	return 0
}

// raiseOwnFDLimit lets the test itself hold the flood.
func raiseOwnFDLimit(t *testing.T, want uint64) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		t.Fatal(err)
	}
	if l.Cur >= want {
		return
	}
	if l.Max < want {
		skipOutsideCI(t, "the descriptor hard limit (%d) is too low for the flood; raise it to %d", l.Max, want)
	}
	old := l
	l.Cur = want
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
}

// dialAll opens n connections to addr and writes send on each.
func dialAll(t *testing.T, addr string, n int, send string) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() { closeAll(conns) })
	for range n {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("flood connection %d: %v", len(conns)+1, err)
		}
		conns = append(conns, c)
		if send != "" {
			if _, err := io.WriteString(c, send); err != nil {
				t.Fatalf("flood connection %d: %v", len(conns), err)
			}
		}
	}
	return conns
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		_ = c.Close()
	}
}

// checkProxyClient connects with pgx and runs a query, retrying within
// the time given: a proxy backing off after a flood takes up to a second
// to accept again.
func checkProxyClient(t *testing.T, addr, db string, within time.Duration) {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	dsn := fmt.Sprintf("postgres://alice:alice@%s:%s/%s?sslmode=disable&connect_timeout=3", host, port, db)
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		n, err := proxyCount(ctx, dsn)
		cancel()
		if err == nil && n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgx through the proxy: %d customers, %v", n, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func proxyCount(ctx context.Context, dsn string) (int64, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int64
	err = conn.QueryRow(ctx, "SELECT count(*) FROM customers").Scan(&n)
	return n, err
}

// checkMCPClient connects the SDK's client with a token and calls a
// tool.
func checkMCPClient(t *testing.T, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	hc := &http.Client{Transport: bearer{token: "alice-token", base: &http.Transport{}}}
	client := sdk.NewClient(&sdk.Implementation{Name: "flood-test", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: "http://" + addr + "/mcp", HTTPClient: hc}, nil)
	if err != nil {
		t.Fatalf("MCP connect: %v", err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "query_customers", Arguments: map[string]any{"limit": 1}})
	if err != nil || res.IsError {
		t.Fatalf("MCP call: %v %+v", err, res)
	}
}

// skipOutsideCI skips a test whose premise this machine lacks, but fails
// it under CI (CI set), where a skipped test would prove nothing.
func skipOutsideCI(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

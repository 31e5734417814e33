package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pgmoat/pgmoat/integration/shop"
)

// The MCP servers compared, in the order runs alternate between them.
const (
	mPgmoatHTTP     = "pgmoat (HTTP)"
	mPgmoatStdio    = "pgmoat (stdio)"
	mServerPostgres = "server-postgres (stdio)"
	mDBHub          = "dbhub (HTTP)"
)

var mcpTargetNames = []string{mPgmoatHTTP, mPgmoatStdio, mServerPostgres, mDBHub}

// mcpTargetKeys name the servers on the command line (-mcp-targets), in
// the order of mcpTargetNames.
var mcpTargetKeys = []string{"pgmoat-http", "pgmoat-stdio", "server-postgres", "dbhub"}

// wantsMCP says whether -mcp-targets selects the server named name.
func (o options) wantsMCP(name string) bool {
	i := slices.Index(mcpTargetNames, name)
	return i >= 0 && slices.Contains(o.mcpTargets, mcpTargetKeys[i])
}

// wantsPeers says whether any npm peer is selected.
func (o options) wantsPeers() bool { return o.wantsMCP(mServerPostgres) || o.wantsMCP(mDBHub) }

// lookupColumns is the projection every server returns.
var lookupColumns = []string{"id", "status", "total_amount", "created_at"}

// mcpTarget is one MCP server under test: how to open a session and what
// one lookup call looks like.
type mcpTarget struct {
	name    string
	connect func(ctx context.Context) (*sdk.ClientSession, error)
	call    func(customers []int32) *sdk.CallToolParams
	// pgids are the process groups serving the sessions, whose CPU the
	// run counts.
	pgids func() []int
	// pprofAddr serves the server's Go profiles; "" when it serves none.
	pprofAddr string
}

// lookupPage is the page every lookup returns: the latest lookupPage
// orders of a group of customers. lookupSpare more orders in each group
// make sure the page is always full.
const (
	lookupPage  = 50
	lookupSpare = 10
)

// pgmoatLookup is the typed tool call: customer_id leads an index, so the
// generated tool takes a list of customers as customer_id_in.
func pgmoatLookup(customers []int32) *sdk.CallToolParams {
	return &sdk.CallToolParams{Name: "query_orders", Arguments: map[string]any{
		"customer_id_in": customers, "order_by": "created_at desc", "limit": lookupPage, "columns": lookupColumns,
	}}
}

// peerLookupSQL is the same lookup as SQL text for servers whose only tool
// takes SQL, in pgmoat's order (the primary key breaks ties), so every
// server returns the same rows. The customer ids are int32s the harness
// drew from the database and formats itself: no outside text reaches the
// statement.
func peerLookupSQL(customers []int32) string {
	ids := make([]string, len(customers))
	for i, c := range customers {
		ids[i] = strconv.FormatInt(int64(c), 10)
	}
	return "SELECT id, status, total_amount, created_at FROM orders WHERE customer_id IN (" + strings.Join(ids, ", ") +
		") ORDER BY created_at DESC, id DESC LIMIT " + strconv.Itoa(lookupPage)
}

func newMCPClient() *sdk.Client {
	return sdk.NewClient(&sdk.Implementation{Name: "pgmoat-bench", Version: "1"}, nil)
}

// stdioTarget starts one server process per session, which is what stdio
// means: a client owns its server.
func stdioTarget(name string, command func() *exec.Cmd, call func([]int32) *sdk.CallToolParams) mcpTarget {
	client := newMCPClient()
	var mu sync.Mutex
	var pids []int // every session's server; the ended ones are skipped when read
	return mcpTarget{name: name, call: call, connect: func(ctx context.Context) (*sdk.ClientSession, error) {
		cmd := command()
		setGroup(cmd)
		var stderr lockedBuffer
		cmd.Stderr = &stderr
		s, err := client.Connect(ctx, &sdk.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second}, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: %s", err, truncate(strings.TrimSpace(stderr.String()), 300))
		}
		mu.Lock()
		pids = append(pids, cmd.Process.Pid)
		mu.Unlock()
		return s, nil
	}, pgids: func() []int {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(pids)
	}}
}

// httpTarget opens streamable-HTTP sessions against endpoint, sending
// token as a bearer token when set; server is the serving process.
func httpTarget(name, endpoint, token string, server *child, call func([]int32) *sdk.CallToolParams) mcpTarget {
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
	hc := &http.Client{Transport: bearer{token: token, next: tr}}
	client := newMCPClient()
	return mcpTarget{name: name, call: call, connect: func(ctx context.Context) (*sdk.ClientSession, error) {
		return client.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: endpoint, HTTPClient: hc,
			DisableStandaloneSSE: true, MaxRetries: -1}, nil)
	}, pgids: func() []int { return []int{server.cmd.Process.Pid} }}
}

type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if b.token == "" {
		return b.next.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// lockedBuffer collects a child's stderr, written from the exec goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 64<<10 {
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// mcpTargets starts what the MCP servers need and returns the ones that
// can run; the others are recorded as skipped. stop ends the servers it
// started, so that later scenarios run on a quiet machine.
func (e *env) mcpTargets(ctx context.Context) (out []mcpTarget, stop func()) {
	var started []*child
	stop = func() {
		for _, c := range started {
			c.stop(5 * time.Second)
		}
	}
	in, err := e.startPgmoat(ctx, "pgmoat-shop", shopDB, shop.ReaderRole, shop.DefaultReaderPassword, authSCRAM)
	if err != nil {
		e.rep.skip(scMCP, mPgmoatHTTP, "pgmoat did not start: %v", err)
		e.rep.skip(scMCP, mPgmoatStdio, "pgmoat did not start: %v", err)
	} else {
		started = append(started, in.proc)
		if err := waitTCP(ctx, in.mcpAddr, 3*time.Second); err != nil {
			e.rep.skip(scMCP, mPgmoatHTTP, "`pgmoat serve` does not serve MCP over HTTP yet (nothing listens on mcp.listen %s)", in.mcpAddr)
		} else {
			t := httpTarget(mPgmoatHTTP, "http://"+in.mcpAddr+"/mcp", mcpToken, in.proc, pgmoatLookup)
			t.pprofAddr = in.pprofAddr
			out = append(out, t)
		}
		bin, cfg := e.pgmoatBin, in.config
		out = append(out, stdioTarget(mPgmoatStdio, func() *exec.Cmd { return exec.Command(bin, "mcp", "--config", cfg) }, pgmoatLookup))
	}
	if !e.o.wantsPeers() {
		return out, stop
	}
	if e.npmDir == "" {
		reason := fmt.Sprintf("npm peers not installed: %v", e.npmErr)
		e.rep.skip(scMCP, mServerPostgres, "%s", reason)
		e.rep.skip(scMCP, mDBHub, "%s", reason)
		return out, stop
	}
	dsn := e.peerDSN()
	bin := filepath.Join(e.npmDir, "node_modules", ".bin")
	env := e.npmEnv()
	out = append(out, stdioTarget(mServerPostgres, func() *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin, "mcp-server-postgres"), dsn)
		cmd.Env = env
		return cmd
	}, func(customers []int32) *sdk.CallToolParams {
		return &sdk.CallToolParams{Name: "query", Arguments: map[string]any{"sql": peerLookupSQL(customers)}}
	}))
	if proc, addr, err := e.startDBHub(ctx, bin, dsn); err != nil {
		e.rep.skip(scMCP, mDBHub, "%v", err)
	} else {
		started = append(started, proc)
		out = append(out, httpTarget(mDBHub, "http://"+addr+"/mcp", "", proc, func(customers []int32) *sdk.CallToolParams {
			return &sdk.CallToolParams{Name: "execute_sql", Arguments: map[string]any{"sql": peerLookupSQL(customers)}}
		}))
	}
	return out, stop
}

func (e *env) peerDSN() string {
	return (&url.URL{Scheme: "postgres", User: url.UserPassword(peerRole, peerPassword),
		Host: fmt.Sprintf("127.0.0.1:%d", e.cluster.Port()), Path: "/" + shopDB, RawQuery: "sslmode=disable"}).String()
}

// startDBHub runs dbhub's streamable-HTTP server, one process for all
// sessions.
func (e *env) startDBHub(ctx context.Context, bin, dsn string) (*child, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	_, port, _ := strings.Cut(addr, ":")
	cmd := exec.Command(filepath.Join(bin, "dbhub"), "--transport", "http", "--port", port, "--dsn", dsn)
	cmd.Env = e.npmEnv()
	cmd.Dir = e.npmDir
	c, err := e.sup.startListening(ctx, "dbhub", cmd, filepath.Join(e.tmp, "dbhub.log"), addr, 30*time.Second)
	if err != nil {
		return nil, "", fmt.Errorf("dbhub did not start: %w", err)
	}
	return c, addr, nil
}

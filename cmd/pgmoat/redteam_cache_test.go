package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
	"github.com/pgmoat/pgmoat/integration/shop"
	"github.com/pgmoat/pgmoat/mcp"
)

// cacheSchema holds what a DBA may change under a running pgmoat without
// touching a relation's columns: a stable function, and a table with
// row-level security beside an ordinary table that may later become its
// inheritance child.
const cacheSchema = `
CREATE FUNCTION public.rt_f() RETURNS int LANGUAGE sql STABLE AS 'SELECT 1';
CREATE TABLE public.rt_parent (id int PRIMARY KEY, manager_id int NOT NULL);
ALTER TABLE public.rt_parent ENABLE ROW LEVEL SECURITY;
CREATE POLICY rt_parent_mine ON public.rt_parent FOR SELECT
  USING (manager_id = NULLIF(current_setting('request.user_id', true), '')::int);
CREATE TABLE public.rt_child (id int PRIMARY KEY, manager_id int NOT NULL);
INSERT INTO public.rt_child VALUES (1, 1), (2, 2), (3, 3);
CREATE TABLE public.rt_events (id int NOT NULL, manager_id int NOT NULL) PARTITION BY RANGE (id);
ALTER TABLE public.rt_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY rt_events_mine ON public.rt_events FOR SELECT
  USING (manager_id = NULLIF(current_setting('request.user_id', true), '')::int);
CREATE TABLE public.rt_loose (id int NOT NULL, manager_id int NOT NULL);
INSERT INTO public.rt_loose VALUES (1, 1), (2, 2), (3, 3);
CREATE TABLE public.rt_counter (id int);
CREATE FUNCTION public.rt_vol(int) RETURNS boolean LANGUAGE sql VOLATILE AS 'SELECT true';
CREATE DOMAIN public.rt_dom AS int;
GRANT SELECT ON public.rt_parent, public.rt_child, public.rt_events, public.rt_loose, public.rt_counter TO ` + shop.ReaderRole

// cacheConfig is one version of the config file the cache attacks
// rewrite: readonly's deny list, two proxy users, two MCP tokens and a
// result cache.
type cacheConfig struct {
	dsn, proxyListen, mcpListen string
	deny                        string // readonly's deny_relations, YAML flow list
}

func (c cacheConfig) write(t *testing.T, path string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "backend:\n  dsn: %q\n  pool: {min: 1, max: 4}\n", c.dsn)
	fmt.Fprintf(&b, "proxy:\n  listen: %s\n", c.proxyListen)
	fmt.Fprintf(&b, "profiles:\n  readonly:\n    deny_relations: %s\n", c.deny)
	b.WriteString("users:\n  alice: {password: alice, user_id: \"1\"}\n  bob: {password: bob, user_id: \"2\"}\n")
	fmt.Fprintf(&b, "mcp:\n  listen: %s\n  result_cache: {ttl: 10m}\n", c.mcpListen)
	b.WriteString("  tokens:\n    alice-token: {user_id: \"1\"}\n    bob-token: {user_id: \"2\"}\n")
	b.WriteString("admin:\n  users:\n    dba: {password: dba}\n")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// cacheStack is serve running on a cacheConfig file.
type cacheStack struct {
	f       *shopFixture
	path    string
	cfg     cacheConfig
	console func(string) string
}

func startCacheStack(t *testing.T) *cacheStack {
	t.Helper()
	f := newShopFixture(t)
	f.superExec(t, cacheSchema)
	st := &cacheStack{f: f, path: filepath.Join(t.TempDir(), "pgmoat.yaml"),
		cfg: cacheConfig{dsn: f.cfg.Backend.DSN.Value(), proxyListen: loopbackAddr(t), mcpListen: loopbackAddr(t), deny: "[]"}}
	st.cfg.write(t, st.path)
	cfg, err := config.Load(st.path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- serve(ctx, out, cfg) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	out.waitFor(t, "MCP listening")
	st.console = func(script string) string { return psqlAt(t, st.cfg.proxyListen, "dba", "pgmoat", script) }
	return st
}

// reload rewrites the file with deny and runs RELOAD, which must apply.
func (st *cacheStack) reload(t *testing.T, deny string) string {
	t.Helper()
	st.cfg.deny = deny
	st.cfg.write(t, st.path)
	out := st.console("RELOAD;\n")
	if !strings.Contains(out, "config:") || strings.Contains(out, "ERROR") {
		t.Fatalf("RELOAD: %s", out)
	}
	return out
}

// connect opens a pgx connection to the proxy as user (password = name).
func (st *cacheStack) connect(t *testing.T, user string) *pgx.Conn {
	t.Helper()
	host, port, _ := net.SplitHostPort(st.cfg.proxyListen)
	conn, err := pgx.Connect(context.Background(), fmt.Sprintf("host=%s port=%s user=%s password=%s dbname=%s sslmode=disable",
		host, port, user, user, st.f.db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func (st *cacheStack) mcpSession(t *testing.T, token string) *sdk.ClientSession {
	t.Helper()
	cs, err := httpSession(t, "http://"+st.cfg.mcpListen+mcp.Path, token)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// denialOf is the SQLSTATE and message of a statement's error, "" when
// it ran.
func denialOf(err error) (code, msg string) {
	if err == nil {
		return "", ""
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code, pe.Message
	}
	return "?", err.Error()
}

func mcpCall(t *testing.T, cs *sdk.ClientSession, tool string, args map[string]any) *sdk.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	return res
}

func mcpToolNames(t *testing.T, cs *sdk.ClientSession) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lr, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range lr.Tools {
		names = append(names, tool.Name)
	}
	return names
}

// TestRedteamCacheAcrossReload attacks what pgmoat keeps across a RELOAD
// and across identities: the MCP result cache, the MCP admission list,
// the verdicts of a function whose volatility changed, and of a table
// that became the inheritance child of a table with row-level security.
// Each time the rule is changed, then the same thing asked again.
func TestRedteamCacheAcrossReload(t *testing.T) {
	st := startCacheStack(t)
	ctx := context.Background()

	// The MCP result cache is per caller: bob never gets alice's rows.
	aliceMCP, bobMCP := st.mcpSession(t, "alice-token"), st.mcpSession(t, "bob-token")
	args := map[string]any{"limit": 1000, "columns": []string{"id"}}
	ra := decodeResult(t, mcpCall(t, aliceMCP, "query_customers", args))
	rb := decodeResult(t, mcpCall(t, bobMCP, "query_customers", args))
	ia, ib := ids(t, ra, "id"), ids(t, rb, "id")
	if len(ia) == 0 || len(ib) == 0 || slices.ContainsFunc(ib, func(id int64) bool { return slices.Contains(ia, id) }) {
		t.Fatalf("alice %v and bob %v share customers: a cached answer crossed identities", ia, ib)
	}

	page := decodeResult(t, mcpCall(t, aliceMCP, "query_customers", map[string]any{"limit": 2}))
	if page.NextCursor == "" {
		t.Fatal("no cursor")
	}
	// A session that hears of list changes: a RELOAD of the profiles
	// alone changes which tools alice is shown.
	changed := make(chan struct{}, 16)
	if _, err := httpSessionWith(t, "http://"+st.cfg.mcpListen+mcp.Path, "alice-token", &sdk.ClientOptions{
		ToolListChangedHandler: func(context.Context, *sdk.ToolListChangedRequest) {
			select {
			case changed <- struct{}{}:
			default:
			}
		},
	}); err != nil {
		t.Fatal(err)
	}

	// A RELOAD that denies the table: a cached answer made under the old
	// rules must not be served, the tool leaves tools/list, and a cursor
	// minted before reads no further page.
	st.reload(t, "[public.customers]")
	select {
	case <-changed:
	case <-time.After(time.Minute):
		t.Error("no tools list_changed notification after a RELOAD that denied public.customers")
	}
	if res := mcpCall(t, aliceMCP, "query_customers", map[string]any{"limit": 2, "cursor": page.NextCursor}); !res.IsError {
		t.Errorf("a cursor minted before the deny read another page: %.200s", text(res))
	}
	if res := mcpCall(t, aliceMCP, "query_customers", args); !res.IsError || !strings.Contains(text(res), "pgmoat") {
		t.Errorf("query_customers after RELOAD denied public.customers answered: error %v %.200s", res.IsError, text(res))
	}
	if names := mcpToolNames(t, aliceMCP); slices.Contains(names, "query_customers") {
		t.Errorf("tools/list after RELOAD still lists query_customers: %v", names)
	}
	// The cached statement (shape cache) of another value is judged again too.
	if res := mcpCall(t, bobMCP, "query_customers", map[string]any{"limit": 5, "columns": []string{"id"}}); !res.IsError {
		t.Errorf("a new call of a denied table's tool ran: %.200s", text(res))
	}
	st.reload(t, "[]")
	if res := mcpCall(t, aliceMCP, "query_customers", args); res.IsError {
		t.Errorf("query_customers after the deny went away: %s", text(res))
	}

	// A function made volatile after a statement calling it was judged
	// (and prepared): after RELOAD both the text and the prepared
	// statement are refused as volatile.
	alice := st.connect(t, "alice")
	if _, err := alice.Prepare(ctx, "rt_f", "SELECT public.rt_f()"); err != nil {
		t.Fatal(err)
	}
	var one int
	if err := alice.QueryRow(ctx, "SELECT public.rt_f()", pgx.QueryExecModeSimpleProtocol).Scan(&one); err != nil {
		t.Fatalf("a stable function before RELOAD: %v", err)
	}
	st.f.superExec(t, "ALTER FUNCTION public.rt_f() VOLATILE")
	t.Logf("RELOAD after ALTER FUNCTION: %s", strings.TrimSpace(st.reload(t, "[]")))
	_, err := alice.Exec(ctx, "SELECT public.rt_f()", pgx.QueryExecModeSimpleProtocol)
	if code, msg := denialOf(err); code != "42501" || !strings.HasPrefix(msg, "pgmoat: function.volatile:") {
		t.Errorf("a function made volatile, after RELOAD: %s %s", code, msg)
	}
	_, err = alice.Exec(ctx, "rt_f")
	if code, msg := denialOf(err); code != "42501" || !strings.HasPrefix(msg, "pgmoat: function.volatile:") {
		t.Errorf("a statement prepared before the function became volatile, after RELOAD: %s %s", code, msg)
	}
	if err := alice.QueryRow(ctx, "SELECT 1", pgx.QueryExecModeSimpleProtocol).Scan(&one); err != nil {
		t.Errorf("the session after the denials: %v", err)
	}

	// A table made the inheritance child of a table with row-level
	// security is read without the parent's policies: after RELOAD it is
	// refused by name, and the parent shows alice her row alone.
	var n int
	if err := alice.QueryRow(ctx, "SELECT count(*) FROM rt_child", pgx.QueryExecModeSimpleProtocol).Scan(&n); err != nil || n != 3 {
		t.Fatalf("rt_child before INHERIT: %d, %v", n, err)
	}
	st.f.superExec(t, "ALTER TABLE public.rt_child INHERIT public.rt_parent")
	t.Logf("RELOAD after INHERIT: %s", strings.TrimSpace(st.reload(t, "[]")))
	err = alice.QueryRow(ctx, "SELECT count(*) FROM rt_child", pgx.QueryExecModeSimpleProtocol).Scan(&n)
	if code, msg := denialOf(err); code != "42501" || !strings.HasPrefix(msg, "pgmoat: relation.partition:") {
		t.Errorf("an RLS parent's new inheritance child, after RELOAD: %d rows, %s %s", n, code, msg)
	}
	if err := alice.QueryRow(ctx, "SELECT count(*) FROM rt_parent", pgx.QueryExecModeSimpleProtocol).Scan(&n); err != nil || n != 1 {
		t.Errorf("rt_parent after INHERIT: %d rows, %v; want alice's one", n, err)
	}

	// A table attached as a partition of a table with row-level security,
	// and a table dropped for a sequence of the same name: the same texts,
	// judged (and cached) allowed before, are refused after RELOAD.
	for _, q := range []string{"SELECT count(*) FROM rt_loose", "SELECT count(*) FROM rt_counter"} {
		if err := alice.QueryRow(ctx, q, pgx.QueryExecModeSimpleProtocol).Scan(&n); err != nil {
			t.Fatalf("%s before: %v", q, err)
		}
	}
	st.f.superExec(t, `ALTER TABLE public.rt_events ATTACH PARTITION public.rt_loose FOR VALUES FROM (MINVALUE) TO (MAXVALUE);
DROP TABLE public.rt_counter; CREATE SEQUENCE public.rt_counter; GRANT SELECT ON public.rt_counter TO `+shop.ReaderRole)
	t.Logf("RELOAD after ATTACH PARTITION and CREATE SEQUENCE: %s", strings.TrimSpace(st.reload(t, "[]")))
	for q, rule := range map[string]string{"SELECT count(*) FROM rt_loose": "relation.partition", "SELECT count(*) FROM rt_counter": "relation.sequence"} {
		err = alice.QueryRow(ctx, q, pgx.QueryExecModeSimpleProtocol).Scan(&n)
		if code, msg := denialOf(err); code != "42501" || !strings.HasPrefix(msg, "pgmoat: "+rule+":") {
			t.Errorf("%s after RELOAD: %d, %s %s", q, n, code, msg)
		}
	}

	// A domain that gains a CHECK calling a volatile function: a Parse
	// naming it as a parameter type runs the function at Bind. Its
	// verdict (memoized per type) must follow the RELOAD. Last: from then
	// on every statement may reach the CHECK (record input), and is denied.
	var dom uint32
	if err := alice.QueryRow(ctx, "SELECT 'public.rt_dom'::regtype::oid::int", pgx.QueryExecModeSimpleProtocol).Scan(&dom); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.PgConn().Prepare(ctx, "dom1", "SELECT $1", []uint32{dom}); err != nil {
		t.Fatalf("a Parse with a plain domain parameter before: %v", err)
	}
	st.f.superExec(t, "ALTER DOMAIN public.rt_dom ADD CONSTRAINT rt_dom_vol CHECK (public.rt_vol(VALUE))")
	t.Logf("RELOAD after ALTER DOMAIN: %s", strings.TrimSpace(st.reload(t, "[]")))
	_, err = alice.PgConn().Prepare(ctx, "dom2", "SELECT $1", []uint32{dom})
	if code, msg := denialOf(err); code != "42501" || !strings.Contains(msg, "rt_vol") {
		t.Errorf("a Parse with the domain parameter after its CHECK calls a volatile function: %s %s", code, msg)
	}
}

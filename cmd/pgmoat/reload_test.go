package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
	"github.com/pgmoat/pgmoat/cmd/pgmoat/telemetry"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
)

// waitFor polls serve's output until it contains want.
func (s *lockedBuffer) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(s.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in serve's output:\n%s", want, s.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func loopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// reloadConfig is one version of the config file the test rewrites.
type reloadConfig struct {
	dsn, proxyListen, mcpListen string
	timeout                     string // readonly's statement_timeout key and value
	deny                        string // readonly's deny_relations, YAML flow list
	carol                       bool   // a second proxy user
	carolPassword               string // default carol
	logValues                   string // mcp.log_values, YAML flow list
}

func (c reloadConfig) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "backend:\n  dsn: %q\n  pool: {min: 1, max: 4}\n", c.dsn)
	fmt.Fprintf(&b, "proxy:\n  listen: %s\n", c.proxyListen)
	fmt.Fprintf(&b, "profiles:\n  readonly:\n    %s\n    deny_relations: %s\n", c.timeout, c.deny)
	b.WriteString("users:\n  alice: {password: alice, user_id: \"1\"}\n")
	if c.carol {
		pw := c.carolPassword
		if pw == "" {
			pw = "carol"
		}
		fmt.Fprintf(&b, "  carol: {password: %q, user_id: \"2\"}\n", pw)
	}
	fmt.Fprintf(&b, "mcp:\n  listen: %s\n  tokens:\n    alice-token: {user_id: \"1\"}\n", c.mcpListen)
	if c.logValues != "" {
		fmt.Fprintf(&b, "  log_values: %s\n", c.logValues)
	}
	b.WriteString("admin:\n  users:\n    dba: {password: dba}\n")
	return b.String()
}

func (c reloadConfig) write(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(c.text()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// psqlAt runs a psql script against addr as user (password = user name)
// and returns what psql printed, errors included.
func psqlAt(t *testing.T, addr, user, db, script string) string {
	t.Helper()
	bin := pgcluster.NeedTool(t, "psql", "the admin console and reload tests drive the proxy with psql")
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=0", "-v", "VERBOSITY=verbose")
	cmd.Env = append(os.Environ(), "PGHOST="+host, "PGPORT="+port, "PGUSER="+user, "PGPASSWORD="+user,
		"PGDATABASE="+db, "PGSSLMODE=disable", "PGCONNECT_TIMEOUT=10")
	cmd.Stdin = strings.NewReader(script)
	out, _ := cmd.CombinedOutput()
	return string(out)
}

func mustContain(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s: no %q in:\n%s", what, w, out)
		}
	}
}

// TestReloadAppliesTheConfigFile runs serve on a config file, edits the
// file and reloads it through the admin console (RELOAD) and SIGHUP.
func TestReloadAppliesTheConfigFile(t *testing.T) {
	f := newShopFixture(t)
	path := filepath.Join(t.TempDir(), "pgmoat.yaml")
	v1 := reloadConfig{dsn: f.cfg.Backend.DSN.Value(), proxyListen: loopbackAddr(t), mcpListen: loopbackAddr(t),
		timeout: "statement_timeout: 5s", deny: "[]"}
	v1.write(t, path)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	// SIGHUP must reach serve, never the default action (exit).
	hup := make(chan os.Signal, 4)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	t.Setenv(telemetry.EnvLogFormat, "json")
	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- serve(ctx, out, cfg) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	out.waitFor(t, "MCP listening")
	addr := v1.proxyListen
	console := func(script string) string { return psqlAt(t, addr, "dba", "pgmoat", script) }
	query := func(user, script string) string { return psqlAt(t, addr, user, f.db, script) }

	mustContain(t, "before", query("alice", "SELECT count(*) > 0 FROM products;\nSHOW statement_timeout;\n"), "t\n", "5s")
	mustContain(t, "carol before", query("carol", "SELECT 1;\n"), "password authentication failed")
	ctxQ := context.Background()
	connected, err := pgx.Connect(ctxQ, fmt.Sprintf("host=%s port=%s user=alice password=alice dbname=%s sslmode=disable",
		strings.Split(addr, ":")[0], strings.Split(addr, ":")[1], f.db))
	if err != nil {
		t.Fatal(err)
	}
	defer connected.Close(ctxQ)

	// A new user, a profile's deny list and timeout, and a listener.
	v2 := v1
	v2.proxyListen, v2.timeout, v2.deny, v2.carol = loopbackAddr(t), "statement_timeout: 1500ms", "[public.products]", true
	v2.write(t, path)
	reloaded := console("RELOAD;\n")
	t.Logf("RELOAD answered: %s", strings.TrimSpace(reloaded))
	mustContain(t, "RELOAD", reloaded,
		"config: profiles, users changed; needs restart: proxy.listen; schema")
	mustContain(t, "carol after RELOAD", query("carol", "SELECT 7 * 6;\n"), "42\n")
	mustContain(t, "alice after RELOAD", query("alice", "SELECT name FROM products;\nSHOW statement_timeout;\n"),
		"ERROR:  42501: pgmoat:", "relation.denied", "1500ms")
	var n int
	if err := connected.QueryRow(ctxQ, "SELECT count(*) FROM customers", pgx.QueryExecModeSimpleProtocol).Scan(&n); err != nil || n == 0 {
		t.Errorf("a client connected before RELOAD: %d customers, %v", n, err)
	}
	var timeout string
	if err := connected.QueryRow(ctxQ, "SHOW statement_timeout", pgx.QueryExecModeSimpleProtocol).Scan(&timeout); err != nil || timeout != "1500ms" {
		t.Errorf("a client connected before RELOAD runs with statement_timeout %q (%v), want the reloaded 1500ms", timeout, err)
	}
	showConfig := console("SHOW CONFIG;\n")
	mustContain(t, "SHOW CONFIG after RELOAD", showConfig,
		"profiles.readonly.statement_timeout|1.5s", "profiles.readonly.deny_relations|public.products",
		"users.carol|user_id=2", "proxy.listen|"+addr, "restart_pending|proxy.listen")

	// A typo'd key: nothing changes, and the error names file, line, key.
	broken := v2
	broken.timeout = "statment_timeout: 2s"
	broken.carol = false
	broken.write(t, path)
	mustContain(t, "broken RELOAD", console("RELOAD;\n"),
		"ERROR:", "config not reloaded", path+" line 8:", `unknown key "statment_timeout"`, `did you mean "statement_timeout"`)
	mustContain(t, "carol after a broken RELOAD", query("carol", "SELECT 7 * 6;\n"), "42\n")
	mustContain(t, "SHOW CONFIG after a broken RELOAD", console("SHOW CONFIG;\n"), "profiles.readonly.statement_timeout|1.5s")

	// A file that loads but cannot be applied (a malformed verifier) is
	// refused whole: the profile change in it is rolled back.
	badPassword := v2
	badPassword.deny, badPassword.carolPassword = "[]", "SCRAM-SHA-256$broken"
	badPassword.write(t, path)
	mustContain(t, "RELOAD with a bad verifier", console("RELOAD;\n"), "ERROR:", "config not reloaded", "user carol")
	mustContain(t, "alice after a refused RELOAD", query("alice", "SELECT name FROM products;\n"), "relation.denied")
	mustContain(t, "carol after a refused RELOAD", query("carol", "SELECT 7 * 6;\n"), "42\n")

	// SIGHUP does what RELOAD does, and reports to serve's output: a log
	// record in the format PGMOAT_LOG_FORMAT names.
	v3 := v2
	v3.timeout, v3.deny, v3.carol = "statement_timeout: 2500ms", "[]", false
	v3.write(t, path)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, `"msg":"reloaded on SIGHUP","changes":"config: profiles, users changed; needs restart: proxy.listen; schema`)
	sighupRecord(t, out.String(), "reloaded on SIGHUP")
	mustContain(t, "carol after SIGHUP", query("carol", "SELECT 1;\n"), "password authentication failed")
	mustContain(t, "alice after SIGHUP", query("alice", "SELECT count(*) > 0 FROM products;\nSHOW statement_timeout;\n"), "t\n", "2500ms")

	broken.write(t, path)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, `"msg":"reload on SIGHUP failed","err":"config not reloaded`)
	if rec := sighupRecord(t, out.String(), "reload on SIGHUP failed"); !strings.Contains(fmt.Sprint(rec["err"]), `unknown key "statment_timeout"`) {
		t.Errorf("the failed reload's record: %v", rec)
	}
	mustContain(t, "SHOW CONFIG after a broken SIGHUP", console("SHOW CONFIG;\n"), "profiles.readonly.statement_timeout|2.5s")
}

// sighupRecord is the JSON log record with msg in serve's output.
func sighupRecord(t *testing.T, out, msg string) map[string]any {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			if rec["level"] == nil || rec["time"] == nil {
				t.Errorf("record without level or time: %s", line)
			}
			return rec
		}
	}
	t.Fatalf("no JSON record %q in:\n%s", msg, out)
	return nil
}

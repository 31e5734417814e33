package live

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
	"github.com/pgmoat/pgmoat/policy"
)

// file writes a config with readonly's deny_relations and mcp.log_values
// as given (YAML flow lists) and listen as proxy.listen.
func file(t *testing.T, path, deny, logValues, listen string) {
	t.Helper()
	text := "backend:\n  dsn: \"host=127.0.0.1 dbname=x\"\n" +
		"proxy:\n  listen: " + listen + "\n" +
		"profiles:\n  readonly:\n    statement_timeout: 5s\n    deny_relations: " + deny + "\n" +
		"users:\n  alice: {password: alice, user_id: \"1\"}\n" +
		"mcp:\n  listen: 127.0.0.1:8765\n  log_values: " + logValues + "\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func start(t *testing.T, path string, schema func(context.Context) (string, error)) (*Config, *policy.Engine, *[]string) {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	engine, err := policy.New(cfg.PolicyOptions())
	if err != nil {
		t.Fatal(err)
	}
	var logValues []string
	live := New(cfg, Options{Profiles: NewProfiles(engine, cfg), Schema: schema,
		LogValues: func(v []string) { logValues = v }})
	return live, engine, &logValues
}

// TestReloadWithoutProxyOrSchema reloads a config where only the engine
// runs: mcp.log_values and profiles change live, a key that needs a
// restart is listed, and a missing schema is reported, not an error.
func TestReloadWithoutProxyOrSchema(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "pgmoat.yaml")
	file(t, path, "[]", "[]", "127.0.0.1:6432")
	live, engine, logValues := start(t, path, nil)
	summary, err := live.Reload(context.Background())
	if err != nil || summary != "config: unchanged; schema: not loaded (MCP is not serving)" {
		t.Fatalf("unchanged file: %q, %v", summary, err)
	}
	file(t, path, "[public.orders]", "[limit]", "127.0.0.1:7432")
	summary, err = live.Reload(context.Background())
	want := "config: profiles, mcp.log_values changed; needs restart: proxy.listen; schema: not loaded (MCP is not serving)"
	if err != nil || summary != want {
		t.Fatalf("changed file: %q, %v; want %q", summary, err, want)
	}
	if !slices.Equal(*logValues, []string{"limit"}) {
		t.Fatalf("log values in force: %v", *logValues)
	}
	if v := engine.Decide(policy.Identity{}, "select * from public.orders"); v.Allowed || v.Rule != policy.RuleRelation {
		t.Fatalf("new deny list: %+v", v)
	}
	rows := map[string]string{}
	for _, r := range live.Rows() {
		rows[r[0]] = r[1]
	}
	if rows["proxy.listen"] != "127.0.0.1:6432" || rows["restart_pending"] != "proxy.listen" {
		t.Fatalf("SHOW CONFIG: listen %q, restart_pending %q", rows["proxy.listen"], rows["restart_pending"])
	}
}

// TestReloadKeepsTheRunningConfigOnABadFile: a file that does not load,
// or whose profiles the engine refuses, changes nothing.
func TestReloadKeepsTheRunningConfigOnABadFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "pgmoat.yaml")
	file(t, path, "[]", "[]", "127.0.0.1:6432")
	live, engine, logValues := start(t, path, nil)
	if err := os.WriteFile(path, []byte("profiles:\n  readonly:\n    max_rowz: 5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := live.Reload(context.Background())
	if err == nil || !strings.Contains(err.Error(), "the running one stays in force") || !strings.Contains(err.Error(), "max_rowz") {
		t.Fatalf("a typo'd key: %v", err)
	}
	file(t, path, "[orders]", "[limit]", "127.0.0.1:6432") // not schema-qualified
	if _, err := live.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), "must be schema-qualified") {
		t.Fatalf("a profile the engine refuses: %v", err)
	}
	if *logValues != nil {
		t.Fatalf("a refused reload changed mcp.log_values: %v", *logValues)
	}
	if v := engine.Decide(policy.Identity{}, "select * from public.orders"); !v.Allowed {
		t.Fatalf("the running profiles changed: %+v", v)
	}
}

// TestReloadReportsTheSchema: the schema part of the answer follows the
// config part, and a failed schema read fails the reload after the
// config was applied, saying so.
func TestReloadReportsTheSchema(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "pgmoat.yaml")
	file(t, path, "[]", "[]", "127.0.0.1:6432")
	var fail error
	live, _, _ := start(t, path, func(context.Context) (string, error) { return "table public.x added", fail })
	summary, err := live.Reload(context.Background())
	if err != nil || summary != "config: unchanged; schema: table public.x added" {
		t.Fatalf("%q, %v", summary, err)
	}
	fail = errors.New("connection refused")
	_, err = live.Reload(context.Background())
	if err == nil || err.Error() != "config: unchanged; schema not reloaded: connection refused" {
		t.Fatalf("%v", err)
	}
}

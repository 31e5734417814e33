package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func check(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Setenv("PGMOAT_CONFIG", "")
	var out, errb bytes.Buffer
	code = runCheck(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestCheckStdinCommitDrop(t *testing.T) {
	code, out, _ := check(t, "COMMIT; DROP TABLE orders\n")
	if code != exitNo {
		t.Fatalf("exit %d, want %d\n%s", code, exitNo, out)
	}
	want := "allow commit COMMIT\ndeny 42501 DROP TABLE orders\n  pgmoat: statement.kind: "
	if !strings.HasPrefix(out, want) {
		t.Fatalf("output:\n%s\nwant prefix:\n%s", out, want)
	}
}

func TestCheckArgumentIsOneQuery(t *testing.T) {
	code, out, _ := check(t, "", "COMMIT; DROP TABLE orders")
	if code != exitNo || !strings.Contains(out, "deny 42501 COMMIT; DROP TABLE orders\n  pgmoat: multi_statement: ") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestCheckAllowShowsRewrite(t *testing.T) {
	code, out, _ := check(t, "", "select * from orders")
	want := "allow select select * from orders\n  rewritten: SELECT * FROM orders LIMIT 1000\n"
	if code != exitOK || out != want {
		t.Fatalf("exit %d:\n%q\nwant\n%q", code, out, want)
	}
}

func TestCheckJSON(t *testing.T) {
	code, out, _ := check(t, "", "--json", "select * from orders limit 5", "select pg_sleep(1)")
	if code != exitNo {
		t.Fatalf("exit %d", code)
	}
	var got []checkResult
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(got) != 2 {
		t.Fatalf("%d results", len(got))
	}
	a, d := got[0], got[1]
	if a.Verdict != "allow" || a.Kind != "select" || a.Rewritten != "" || len(a.Relations) != 1 || a.Relations[0] != "public.orders" {
		t.Errorf("allow result %+v", a)
	}
	if d.Verdict != "deny" || d.SQLState != "42501" || d.Rule != "function.denied" || !strings.HasPrefix(d.Message, "pgmoat: function.denied: ") {
		t.Errorf("deny result %+v", d)
	}
}

func TestCheckStdinScript(t *testing.T) {
	script := "-- report\nselect 'a;b' as x;\nBEGIN READ ONLY;\nselect $$;$$;\nCOMMIT;\n"
	code, out, _ := check(t, script)
	if code != exitOK || strings.Count(out, "allow ") != 4 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestCheckUsageErrors(t *testing.T) {
	cases := map[string][]string{
		"unknown flag":    {"--bogus"},
		"unknown profile": {"--profile", "nope", "select 1"},
		"missing config":  {"--config", filepath.Join(t.TempDir(), "missing.yaml"), "select 1"},
	}
	for name, args := range cases {
		if code, _, errs := check(t, "", args...); code != exitUsage || errs == "" {
			t.Errorf("%s: exit %d, stderr %q", name, code, errs)
		}
	}
	if code, _, errs := check(t, "  \n-- nothing\n"); code != exitUsage || !strings.Contains(errs, "no statement") {
		t.Errorf("empty stdin: exit %d, stderr %q", code, errs)
	}
	if code, _, errs := check(t, "select 1\x00"); code != exitUsage || errs == "" {
		t.Errorf("NUL on stdin: exit %d, stderr %q", code, errs)
	}
}

func TestCheckWithConfigProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pgmoat.yaml")
	cfg := "profiles:\n  analyst:\n    max_rows: 5\n    deny_relations: [public.salaries]\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := check(t, "", "--config", path, "--profile", "analyst", "select * from orders")
	if code != exitOK || !strings.Contains(out, "LIMIT 5\n") {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	code, out, _ = check(t, "", "--config", path, "--profile", "analyst", "select * from salaries")
	if code != exitNo || !strings.Contains(out, "relation.denied") {
		t.Fatalf("exit %d: %s", code, out)
	}
	// PGMOAT_CONFIG is the fallback for --config.
	t.Setenv("PGMOAT_CONFIG", path)
	var o, e bytes.Buffer
	if code := runCheck([]string{"--profile", "analyst", "select 1 from orders"}, nil, &o, &e); code != exitOK || !strings.Contains(o.String(), "LIMIT 5") {
		t.Fatalf("via PGMOAT_CONFIG: exit %d: %s %s", code, o.String(), e.String())
	}
}

// TestCheckDeniesFieldSelectionCalls: the calls a red-team pass made
// through field selection, each of which `pgmoat check` once allowed.
func TestCheckDeniesFieldSelectionCalls(t *testing.T) {
	for _, sql := range []string{
		"SELECT ('SELECT to_tsvector(set_config($$request.user_id$$,$$2$$,false))'::text).ts_stat",
		"SELECT (4.0::float8).pg_sleep",
		"SELECT (42::bigint).pg_advisory_lock",
		"SELECT (g).pg_stat_get_backend_activity FROM generate_series(1,64) g",
		"SELECT (pid).pg_terminate_backend FROM (SELECT 1 AS pid) s",
	} {
		code, out, _ := check(t, "", sql)
		if code != exitNo || !strings.Contains(out, "pgmoat: function.denied: ") {
			t.Errorf("%s: exit %d:\n%s", sql, code, out)
		}
	}
}

// check --json spells the functions a statement calls schema-qualified,
// quoted as SQL would where a name needs it, and no function as [].
func TestCheckJSONFunctions(t *testing.T) {
	code, out, _ := check(t, "", "--json", `select lower('A'), "lower"('B')`, "select 1")
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	var got []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 2 {
		t.Fatalf("%v, %d results:\n%s", err, len(got), out)
	}
	compact := func(raw json.RawMessage) string { return strings.Join(strings.Fields(string(raw)), "") }
	if f := compact(got[0]["functions"]); f != `["pg_catalog.lower"]` {
		t.Errorf("functions of lower() twice: %s", f)
	}
	if f := compact(got[1]["functions"]); f != `[]` {
		t.Errorf("functions of select 1: %s", f)
	}
}

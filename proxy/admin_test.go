package proxy

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// console runs psql against the admin console and returns its output.
func (f *proxyFixture) console(t *testing.T, user, script string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(f.addr)
	cmd := exec.Command(needTool(t, "psql"), "-X", "-A", "-F", "|", "-v", "ON_ERROR_STOP=0")
	cmd.Env = append(os.Environ(), "PGHOST="+host, "PGPORT="+port, "PGUSER="+user, "PGPASSWORD="+user,
		"PGDATABASE="+AdminDatabase, "PGSSLMODE=disable")
	cmd.Stdin = strings.NewReader(script)
	out, _ := cmd.CombinedOutput()
	return string(out)
}

func TestAdminConsoleThroughPsql(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	alice := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	if _, err := alice.Exec(ctx, "DELETE FROM items"); err == nil {
		t.Fatal("DELETE allowed")
	}
	if _, err := alice.Exec(ctx, "SELECT count(*) FROM items"); err != nil {
		t.Fatal(err)
	}
	for cmd, want := range map[string][]string{
		"SHOW HELP;":                           {"command|description", "SHOW DENIALS|"},
		"SHOW POOLS;":                          {"database|user|cl_active", "|proxy_reader|", "|transaction|false"},
		"SHOW CLIENTS;":                        {"client_id|user|user_id", "|alice|1|readonly|"},
		"SHOW SERVERS;":                        {"pid|state|user_id|statement_timeout", "|idle|1|5000|"},
		"SHOW STATS;":                          {"statements|", "denials|1"},
		"SHOW CONFIG;":                         {"backend.dsn|host=x password=********"},
		"SHOW VERSION;":                        {"pgmoat test"},
		"SHOW POLICY;":                         {"readonly|max_rows|1000", "readonly|statement_timeout|5s"},
		"SHOW DENIALS;":                        {"|alice|1|statement.kind|42501|DELETE FROM items"},
		"SHOW TOOLS;":                          {"tool|calls|p50_ms|p99_ms|errors|rows_per_call", "query_items|3|2.00|9.00|0|4.0"},
		"SHOW SLOW;":                           {"time|source|user_id|duration_ms|sql|plan|advice"},
		"CHECK select * from items;":           {"allow|||", "LIMIT 1000"},
		"CHECK select lower(name) from items;": {"|public.items|pg_catalog.lower|"},
		`CHECK COMMIT\; DROP TABLE items;`:     {"deny|42501|multi_statement"},
		"RELOAD;":                              {"schema reloaded: 1 table"},
		"SHOW FOO;":                            {"ERROR:  pgmoat: admin.unknown_command: SHOW FOO"},
		"DROP TABLE x;":                        {"ERROR:  pgmoat: admin.unknown_command"},
	} {
		out := f.console(t, "dba", cmd+"\n")
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: missing %q in:\n%s", cmd, w, out)
			}
		}
	}
	out := f.console(t, "audit", "RELOAD;\nPAUSE;\nSHOW POOLS;\n")
	if strings.Count(out, "admin.role") != 2 || !strings.Contains(out, "cl_active") {
		t.Errorf("auditor:\n%s", out)
	}
	if out := f.console(t, "alice", "SHOW POOLS;\n"); !strings.Contains(out, "password authentication failed for user \"alice\"") {
		t.Errorf("non-admin user got in:\n%s", out)
	}
	if out := f.console(t, "dba", "CHECK "+strings.Repeat("x", 2<<20)+";\n"); !strings.Contains(out, "deny|42501") {
		t.Errorf("CHECK of a 2 MB statement: %.300s", out)
	}
}

func TestAdminKillAndPause(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	bob := f.connect(t, "bob", pgx.QueryExecModeSimpleProtocol)
	key := f.server.sessionKeyFor(t, "bob")
	out := f.console(t, "dba", "KILL "+strconv.Itoa(int(key.pid))+";\nKILL 1;\n")
	if !strings.Contains(out, "KILL") || !strings.Contains(out, "no client with id") {
		t.Fatalf("KILL:\n%s", out)
	}
	if _, err := bob.Exec(ctx, "SELECT 1"); err == nil {
		t.Fatal("killed client still served")
	}
	if out := f.console(t, "dba", "PAUSE;\nSHOW POOLS;\nRESUME;\n"); !strings.Contains(out, "|true") || !strings.Contains(out, "RESUME") {
		t.Fatalf("PAUSE/RESUME:\n%s", out)
	}
	alice := f.connect(t, "alice", pgx.QueryExecModeSimpleProtocol)
	if _, err := alice.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatalf("after RESUME: %v", err)
	}
}

func TestAdminConsoleRefusesExtendedProtocol(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	host, port, _ := net.SplitHostPort(f.addr)
	conn, err := pgx.Connect(context.Background(), "host="+host+" port="+port+" user=dba password=dba dbname=pgmoat sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	err = conn.PgConn().ExecParams(context.Background(), "SHOW POOLS", nil, nil, nil, nil).Read().Err
	if err == nil || !strings.Contains(err.Error(), "simple query protocol only") {
		t.Fatalf("extended protocol: %v", err)
	}
	if _, err := conn.Exec(context.Background(), "SHOW POOLS", pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatalf("simple protocol after the refusal: %v", err)
	}
}

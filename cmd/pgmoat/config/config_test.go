package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const validConfig = `
backend:
  dsn: postgres://pgmoat_reader:s3cret@127.0.0.1:5432/shop
  pool:
    max: 10
    acquire_timeout: 3s
proxy:
  listen: 127.0.0.1:7432
  auth_secret: decoy-salts-key-0123456789abcdef
profiles:
  readonly:
    statement_timeout: 2s
  analyst:
    max_rows: 5000
users:
  alice:
    password: alice-pw
    user_id: 1
  carol:
    password: carol-pw
    user_id: "3"
    profile: analyst
mcp:
  tokens:
    alice-token:
      user_id: 1
admin:
  users:
    dba: {password: dba-pw}
    audit: {password: audit-pw, role: auditor}
`

func TestParseAppliesDefaults(t *testing.T) {
	cfg, err := Parse([]byte(validConfig), "pgmoat.yaml")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"pool.min", cfg.Backend.Pool.Min, 5},
		{"pool.max", cfg.Backend.Pool.Max, 10},
		{"pool.acquire_timeout", cfg.Backend.Pool.AcquireTimeout.D(), 3 * time.Second},
		{"proxy.listen", cfg.Proxy.Listen, "127.0.0.1:7432"},
		{"mcp.listen", cfg.MCP.Listen, DefaultMCPListen},
		{"readonly.statement_timeout", cfg.Profiles["readonly"].StatementTimeout.D(), 2 * time.Second},
		{"readonly.max_rows", cfg.Profiles["readonly"].MaxRows, 1000},
		{"analyst.statement_timeout", cfg.Profiles["analyst"].StatementTimeout.D(), 5 * time.Second},
		{"analyst.max_rows", cfg.Profiles["analyst"].MaxRows, 5000},
		{"alice.user_id", cfg.Users["alice"].UserID, "1"},
		{"alice.profile", cfg.Users["alice"].Profile, "readonly"},
		{"carol.profile", cfg.Users["carol"].Profile, "analyst"},
		{"token profile", cfg.MCP.Tokens["alice-token"].Profile, "readonly"},
		{"dba role", cfg.Admin.Users["dba"].Role, "admin"},
		{"audit role", cfg.Admin.Users["audit"].Role, "auditor"},
		{"rls.setting", cfg.RLS.Setting, "request.user_id"},
		{"proxy.auth", cfg.Proxy.Auth, "scram-sha-256"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestEmptyConfigIsTheDefault(t *testing.T) {
	cfg, err := Parse(nil, "empty.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Profiles["readonly"]; !ok || cfg.Backend.Pool.Max != 20 || cfg.Backend.Pool.Min != 5 {
		t.Fatalf("defaults missing: %+v", cfg)
	}
}

func TestEnvironmentOverridesDSN(t *testing.T) {
	t.Setenv(EnvBackendDSN, "host=db.internal user=pgmoat_reader")
	cfg, err := Parse([]byte(validConfig), "x")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Backend.DSN.Value() != "host=db.internal user=pgmoat_reader" {
		t.Fatalf("dsn = %q", cfg.Backend.DSN.Value())
	}
}

func TestErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unknown top-level key", "proxy:\n  listen: 127.0.0.1:1\nbakend:\n  dsn: x\n",
			`f.yaml line 3: unknown key "bakend"; did you mean "backend"?`},
		{"unknown nested key", "proxy:\n  lisen: 127.0.0.1:1\n",
			`f.yaml line 2: unknown key "lisen"; did you mean "listen"?`},
		{"unknown key far from any", "rls:\n  zzzzzzzz: 1\n",
			`f.yaml line 2: unknown key "zzzzzzzz"; known keys here: setting`},
		{"bad duration", "backend:\n  pool:\n    acquire_timeout: 2 sec\n",
			`f.yaml line 3: "2 sec" is not a duration (write it like 500ms, 5s or 2m)`},
		{"number expected", "backend:\n  pool:\n    max: many\n",
			`f.yaml line 3: "many" is not valid here (expected a whole number)`},
		{"bool expected", "backend:\n  behind_pooler: maybe\n",
			`f.yaml line 2: "maybe" is not valid here (expected true or false)`},
		{"not yaml", "proxy: [\n",
			`f.yaml: not valid YAML`},
		{"pool max zero", "backend:\n  pool:\n    max: -1\n",
			`backend.pool.max: must be at least 1, got -1`},
		{"pool min above max", "backend:\n  pool:\n    min: 30\n    max: 10\n",
			`f.yaml line 3: backend.pool.min: must be between 0 and backend.pool.max (10), got 30`},
		{"bad dsn", "backend:\n  dsn: 'postgres://u:pw@host:notaport/db'\n",
			`f.yaml line 2: backend.dsn: not a valid PostgreSQL connection string`},
		{"listen without port", "proxy:\n  listen: localhost\n",
			`f.yaml line 2: proxy.listen: "localhost" is not host:port (e.g. 127.0.0.1:6432)`},
		{"auth method", "proxy:\n  auth: password\n",
			`f.yaml line 2: proxy.auth: "password" is not one of scram-sha-256, md5, trust`},
		{"tls half", "proxy:\n  tls:\n    cert: a.pem\n",
			`proxy.tls: set both cert and key, or neither`},
		{"max startups above max clients", "proxy:\n  max_client_conn: 50\n  max_startups: 60\n",
			`f.yaml line 3: proxy.max_startups: must be between 1 and proxy.max_client_conn (50), got 60`},
		{"tls require without files", "proxy:\n  tls:\n    require: true\n",
			`proxy.tls.require: needs proxy.tls.cert and proxy.tls.key`},
		{"short auth secret", "proxy:\n  auth_secret: tooshort\n",
			`f.yaml line 2: proxy.auth_secret: use at least 32 characters, got 8`},
		{"max rows", "profiles:\n  readonly:\n    max_rows: -5\n",
			`f.yaml line 3: profiles.readonly.max_rows: must be at least 1, got -5`},
		{"negative timeout", "profiles:\n  readonly:\n    statement_timeout: -1s\n",
			`profiles.readonly.statement_timeout: must not be negative`},
		{"user without id", "users:\n  alice:\n    password: x\n",
			`f.yaml line 2: users.alice.user_id: missing: every user needs the id row-level security sees`},
		{"user without password", "users:\n  alice:\n    user_id: 1\n",
			`users.alice.password: missing (proxy.auth is scram-sha-256)`},
		{"user with unknown profile", "users:\n  alice:\n    password: x\n    user_id: 1\n    profile: readonyl\n",
			`f.yaml line 5: users.alice.profile: profile "readonyl" is not defined under profiles (defined: readonly)`},
		{"short token", "mcp:\n  tokens:\n    abc:\n      user_id: 1\n",
			`f.yaml line 3: mcp.tokens[1]: token is shorter than 8 characters; use a long random token`},
		{"token with unknown profile", "mcp:\n  tokens:\n    abcdefghij:\n      user_id: 1\n      profile: admin\n",
			`f.yaml line 5: mcp.tokens[1].profile: profile "admin" is not defined under profiles`},
		{"anonymous without id", "mcp:\n  anonymous:\n    profile: readonly\n",
			`mcp.anonymous.user_id: missing`},
		{"admin role", "admin:\n  users:\n    dba:\n      password: x\n      role: root\n",
			`f.yaml line 5: admin.users.dba.role: "root" is not admin or auditor`},
		{"admin clashes with user", "users:\n  dba: {password: x, user_id: 1}\nadmin:\n  users:\n    dba: {password: y}\n",
			`admin.users.dba: also defined under users; use distinct names`},
		{"mcp tools key", "mcp:\n  tools:\n    discovry: always\n",
			`f.yaml line 3: unknown key "discovry"; did you mean "discovery"?`},
		{"rls setting", "rls:\n  setting: user_id\n",
			`f.yaml line 2: rls.setting: "user_id" is not a custom setting name like request.user_id`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "f.yaml")
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error:\n  %s\nwant it to contain:\n  %s", err, tc.want)
			}
		})
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	cfg, err := Parse([]byte(validConfig), "x")
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatalf("the config does not marshal, so its JSON form was not checked: %v", err)
	}
	for _, out := range []string{fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", *cfg), fmt.Sprintf("%#v", *cfg), string(js)} {
		for _, secret := range []string{"s3cret", "alice-pw", "dba-pw", "alice-token", "decoy-salts-key"} {
			if strings.Contains(out, secret) {
				t.Errorf("secret %q printed in %s", secret, out)
			}
		}
	}
	_, err = Parse([]byte("backend:\n  dsn: 'host=h port=x password=hunter2'\n"), "x")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error leaks password or is missing: %v", err)
	}
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "cannot read config") {
		t.Fatalf("missing file: %v", err)
	}
	unreadable := filepath.Join(dir, "dir.yaml")
	if err := os.Mkdir(unreadable, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(unreadable); err == nil || !strings.Contains(err.Error(), "cannot read config") {
		t.Fatalf("directory as config: %v", err)
	}
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte(validConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(good)
	if err != nil || cfg.Path != good {
		t.Fatalf("Load good: %v", err)
	}
}

func TestResolvePath(t *testing.T) {
	t.Setenv(EnvConfig, "/etc/pgmoat.yaml")
	if got := ResolvePath(""); got != "/etc/pgmoat.yaml" {
		t.Errorf("env fallback: %q", got)
	}
	if got := ResolvePath("x.yaml"); got != "x.yaml" {
		t.Errorf("flag wins: %q", got)
	}
}

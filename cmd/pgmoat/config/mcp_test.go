package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestMCPServingKeys(t *testing.T) {
	const text = `
mcp:
  jwt:
    secret: 0123456789abcdef0123456789abcdef
    issuer: https://id.example
    audience: pgmoat
    user_claim: uid
    profile_claim: role
    leeway: 30s
  result_cache:
    ttl: 10s
    size: 50
    tools:
      query_products: 5m
      query_orders: 0s
  max_result_bytes: 32768
  max_request_bytes: 1048576
  session_idle_timeout: 5m
  max_sessions_per_token: 7
  http:
    read_header_timeout: 3s
    body_timeout: 4s
    write_timeout: 6s
    idle_timeout: 50s
    max_connections: 64
  data_wrapper: none
  cursor_secret: a-cursor-secret-of-at-least-32-characters
  stateless: true
  prompts:
    - name: customer_overview
      description: Everything about one customer.
      text: Summarize {{email}}.
      arguments:
        - {name: email, required: true}
`
	cfg, err := Parse([]byte(text), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.MCP
	if m.JWT == nil || m.JWT.Secret.Value() != "0123456789abcdef0123456789abcdef" || m.JWT.UserClaim != "uid" || m.JWT.Leeway.D() != 30*time.Second {
		t.Errorf("jwt: %+v", m.JWT)
	}
	if m.ResultCache.TTL.D() != 10*time.Second || m.ResultCache.Size != 50 || m.ResultCache.Tools["query_products"].D() != 5*time.Minute {
		t.Errorf("result_cache: %+v", m.ResultCache)
	}
	if m.MaxResultBytes != 32768 || m.MaxRequestBytes != 1<<20 || m.DataWrapper != "none" {
		t.Errorf("limits: %+v", m)
	}
	if m.SessionIdleTimeout.D() != 5*time.Minute || m.MaxSessionsPerToken != 7 ||
		m.HTTP != (MCPHTTP{Duration(3 * time.Second), Duration(4 * time.Second), Duration(6 * time.Second), Duration(50 * time.Second), 64}) {
		t.Errorf("sessions and http: %+v %+v", m, m.HTTP)
	}
	def := Default().MCP
	if def.SessionIdleTimeout.D() != 30*time.Minute || def.MaxSessionsPerToken != 100 || def.HTTP.MaxConnections != 512 ||
		def.HTTP.ReadHeaderTimeout.D() != 10*time.Second || def.HTTP.BodyTimeout.D() != 30*time.Second || def.HTTP.WriteTimeout.D() != 30*time.Second ||
		def.HTTP.IdleTimeout.D() != 2*time.Minute {
		t.Errorf("defaults: %+v %+v", def, def.HTTP)
	}
	rows := map[string]string{}
	for _, r := range cfg.Rows() {
		rows[r[0]] = r[1]
	}
	if rows["mcp.http.max_connections"] != "64" || rows["mcp.http.body_timeout"] != "4s" || rows["mcp.http.write_timeout"] != "6s" || rows["mcp.session_idle_timeout"] != "5m0s" || rows["mcp.max_sessions_per_token"] != "7" ||
		rows["mcp.stateless"] != "true" || !m.Stateless {
		t.Errorf("SHOW CONFIG rows: %v", rows)
	}
	if len(m.Prompts) != 1 || !m.Prompts[0].Arguments[0].Required {
		t.Errorf("prompts: %+v", m.Prompts)
	}
	for _, leak := range []string{"0123456789abcdef", "a-cursor-secret"} {
		if strings.Contains(fmt.Sprintf("%v %+v", cfg, m), leak) {
			t.Errorf("secret %q printed", leak)
		}
	}
}

func TestMCPServingKeyErrors(t *testing.T) {
	cases := []struct{ text, want string }{
		{"mcp:\n  jwt:\n    secrett: x\n", `unknown key "secrett"; did you mean "secret"?`},
		{"mcp:\n  result_cache:\n    ttl: soon\n", "is not a duration"},
		{"mcp:\n  result_cache:\n    tll: 1s\n", `did you mean "ttl"?`},
		{"mcp:\n  prompts:\n    - nam: x\n", `did you mean "name"?`},
		{"mcp:\n  max_result_bytes: lots\n", "whole number"},
		{"mcp:\n  http:\n    max_conections: 5\n", `unknown key "max_conections"; did you mean "max_connections"?`},
		{"mcp:\n  http:\n    body_timeout: -1s\n", "mcp.http.body_timeout: must be positive"},
		{"mcp:\n  http:\n    write_timeout: -1s\n", "mcp.http.write_timeout: must be positive"},
		{"mcp:\n  max_sessions_per_token: -1\n", "mcp.max_sessions_per_token: must be at least 1"},
		{"mcp:\n  stateless: true\n", "mcp.stateless: needs mcp.cursor_secret"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.text), "t.yaml")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.text, err, c.want)
		}
	}
}

func TestOAuthKeysAreValidated(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"mcp:\n  jwt: {issuer: https://id.example}\n", "mcp.public_url: missing"},
		{"mcp:\n  public_url: http://db.example/mcp\n  jwt: {issuer: https://id.example}\n", "use https"},
		{"mcp:\n  public_url: https://db.example/mcp\n  jwt: {jwks_url: https://id.example/keys, secret: 0123456789abcdef0123456789abcdef}\n", "only one of"},
		{"mcp:\n  public_url: https://db.example/mcp\n  jwt: {issuer: https://id.example, algorithms: [HS256]}\n", "mcp.jwt.algorithms"},
		{"mcp:\n  public_url: https://db.example/mcp\n  jwt: {issuer: https://id.example, scope_profiles: {\"db:read\": nosuch}}\n", "mcp.jwt.scope_profiles.db:read"},
		{"mcp:\n  public_url: https://db.example/mcp\n  oauth: {introspection_url: https://id.example/introspect}\n", "mcp.oauth.client_id"},
	} {
		_, err := Parse([]byte(c.yaml), "pgmoat.yaml")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error with %q", c.yaml, err, c.want)
		}
	}
	ok := "mcp:\n  public_url: https://db.example/mcp\n  jwt: {issuer: https://id.example, scope_profiles: {\"db:read\": readonly}}\n"
	if _, err := Parse([]byte(ok), "pgmoat.yaml"); err != nil {
		t.Errorf("a valid OAuth config: %v", err)
	}
}

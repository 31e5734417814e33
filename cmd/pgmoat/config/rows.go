package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Rows lists the effective configuration as key/value pairs for the admin
// console's SHOW CONFIG. Secrets are masked; MCP tokens are not listed,
// only the identities they map to.
func (c *Config) Rows() [][2]string {
	rows := [][2]string{
		{"backend.dsn", RedactDSN(c.Backend.DSN.Value())},
		{"backend.pool.min", strconv.Itoa(c.Backend.Pool.Min)},
		{"backend.pool.max", strconv.Itoa(c.Backend.Pool.Max)},
		{"backend.pool.acquire_timeout", c.Backend.Pool.AcquireTimeout.D().String()},
		{"backend.pool.max_lifetime", c.Backend.Pool.MaxLifetime.D().String()},
		{"backend.pool.idle_timeout", c.Backend.Pool.IdleTimeout.D().String()},
		{"backend.pool.max_per_identity", strconv.Itoa(c.Backend.Pool.EffectiveMaxPerIdentity())},
		{"backend.behind_pooler", strconv.FormatBool(c.Backend.BehindPooler)},
		{"backend.allow_unsafe_role", strconv.FormatBool(c.Backend.AllowUnsafeRole)},
		{"proxy.listen", c.Proxy.Listen},
		{"proxy.auth", c.Proxy.Auth},
		{"proxy.max_client_conn", strconv.Itoa(c.Proxy.MaxClientConn)},
		{"proxy.max_startups", strconv.Itoa(c.Proxy.EffectiveMaxStartups())},
		{"proxy.idle_transaction_timeout", c.Proxy.IdleTransactionTimeout.D().String()},
		{"proxy.tls", strconv.FormatBool(c.Proxy.TLS.Cert != "")},
		{"proxy.tls.require", strconv.FormatBool(c.Proxy.TLS.Require)},
		{"proxy.auth_secret", c.Proxy.AuthSecret.String()},
		{"mcp.listen", c.MCP.Listen},
		{"mcp.tokens", fmt.Sprintf("%d token(s)", len(c.MCP.Tokens))},
	}
	rows = append(rows, c.authRows()...)
	rows = append(rows, [][2]string{
		{"mcp.session_idle_timeout", c.MCP.SessionIdleTimeout.D().String()},
		{"mcp.max_sessions_per_token", strconv.Itoa(c.MCP.MaxSessionsPerToken)},
		{"mcp.stateless", strconv.FormatBool(c.MCP.Stateless)},
		{"mcp.http.read_header_timeout", c.MCP.HTTP.ReadHeaderTimeout.D().String()},
		{"mcp.http.body_timeout", c.MCP.HTTP.BodyTimeout.D().String()},
		{"mcp.http.write_timeout", c.MCP.HTTP.WriteTimeout.D().String()},
		{"mcp.http.idle_timeout", c.MCP.HTTP.IdleTimeout.D().String()},
		{"mcp.http.max_connections", strconv.Itoa(c.MCP.HTTP.MaxConnections)},
		{"mcp.log_values", strings.Join(c.MCP.LogValues, ", ")},
		{"rls.setting", c.RLS.Setting},
		{"policy.max_judge_bytes", strconv.Itoa(c.Policy.MaxJudgeBytes)},
		{"policy.judge_wait", c.Policy.JudgeWait.D().String()},
	}...)
	for _, name := range sortedKeys(c.Profiles) {
		p := c.Profiles[name]
		key := "profiles." + name + "."
		rows = append(rows,
			[2]string{key + "statement_timeout", p.StatementTimeout.D().String()},
			[2]string{key + "max_rows", strconv.Itoa(p.MaxRows)},
			[2]string{key + "slow_threshold", p.SlowThreshold.D().String()})
		for _, l := range []struct {
			name string
			list []string
		}{{"allow_schemas", p.AllowSchemas}, {"allow_relations", p.AllowRelations}, {"deny_relations", p.DenyRelations},
			{"allow_functions", p.AllowFunctions}, {"deny_functions", p.DenyFunctions}} {
			if len(l.list) > 0 {
				rows = append(rows, [2]string{key + l.name, strings.Join(l.list, ", ")})
			}
		}
	}
	for _, name := range sortedKeys(c.Users) {
		u := c.Users[name]
		rows = append(rows, [2]string{"users." + name, fmt.Sprintf("user_id=%s profile=%s password=%s", u.UserID, u.Profile, u.Password)})
	}
	admins := sortedKeys(c.Admin.Users)
	sort.Strings(admins)
	for _, name := range admins {
		rows = append(rows, [2]string{"admin.users." + name, "role=" + c.Admin.Users[name].Role + " password=" + c.Admin.Users[name].Password.String()})
	}
	return rows
}

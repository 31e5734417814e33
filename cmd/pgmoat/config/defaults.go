package config

import (
	"time"

	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/policy"
	"github.com/pgmoat/pgmoat/proxy"
)

// EffectiveMaxPerIdentity is the effective per-identity cap: the configured one,
// or (unset) the pool's default for backend.pool.max. It is derived where
// it is used rather than filled in, so a change of max alone is not also
// reported as a change of max_per_identity.
func (p Pool) EffectiveMaxPerIdentity() int {
	if p.MaxPerIdentity > 0 {
		return p.MaxPerIdentity
	}
	return proxy.DefaultMaxPerIdentity(p.Max)
}

// EffectiveMaxStartups is the cap on connections logging in at once: the
// configured one, or (unset) the proxy's default for max_client_conn;
// derived where used, as EffectiveMaxPerIdentity is.
func (p Proxy) EffectiveMaxStartups() int {
	if p.MaxStartups > 0 {
		return p.MaxStartups
	}
	return proxy.DefaultMaxStartups(p.MaxClientConn)
}

// applyDefaults fills every unset field with its documented default.
func (c *Config) applyDefaults() {
	p := &c.Backend.Pool
	setInt(&p.Min, DefaultPoolMin)
	setInt(&p.Max, DefaultPoolMax)
	if p.Min > p.Max && p.Max > 0 && c.Backend.Pool.Min == DefaultPoolMin {
		p.Min = p.Max // a small max with the default min is not a mistake
	}
	setDuration(&p.AcquireTimeout, 2*time.Second)
	setDuration(&p.MaxLifetime, time.Hour)
	setDuration(&p.IdleTimeout, 10*time.Minute)
	replicaDefaults(&c.Backend)

	x := &c.Proxy
	setString(&x.Listen, DefaultProxyListen)
	setInt(&x.MaxClientConn, DefaultMaxClientConn)
	setString(&x.Auth, "scram-sha-256")
	setDuration(&x.StartupTimeout, 10*time.Second)
	setInt(&x.MaxMessageSize, DefaultMaxMessageSize)
	setDuration(&x.ShutdownGrace, 30*time.Second)
	setDuration(&x.IdleTransactionTimeout, proxy.DefaultIdleTransactionTimeout)

	setInt(&c.Policy.MaxJudgeBytes, policy.DefaultMaxJudgeBytes)
	setDuration(&c.Policy.JudgeWait, policy.DefaultJudgeWait)

	if c.Profiles == nil {
		c.Profiles = map[string]Profile{}
	}
	if _, ok := c.Profiles[DefaultProfile]; !ok {
		c.Profiles[DefaultProfile] = Profile{}
	}
	for name, pr := range c.Profiles {
		setDuration(&pr.StatementTimeout, policy.DefaultStatementTimeout)
		setInt(&pr.MaxRows, DefaultMaxRows)
		setDuration(&pr.SlowThreshold, policy.DefaultSlowThreshold)
		c.Profiles[name] = pr
	}
	for name, u := range c.Users {
		setString(&u.Profile, DefaultProfile)
		c.Users[name] = u
	}
	setString(&c.MCP.Listen, DefaultMCPListen)
	setDuration(&c.MCP.SessionIdleTimeout, mcp.DefaultSessionTimeout)
	setInt(&c.MCP.MaxSessionsPerToken, mcp.DefaultMaxSessionsPerCaller)
	h := &c.MCP.HTTP
	setDuration(&h.ReadHeaderTimeout, 10*time.Second)
	setDuration(&h.BodyTimeout, mcp.DefaultBodyTimeout)
	setDuration(&h.WriteTimeout, mcp.DefaultWriteTimeout)
	setDuration(&h.IdleTimeout, 2*time.Minute)
	setInt(&h.MaxConnections, DefaultMCPMaxConnections)
	for tok, caller := range c.MCP.Tokens {
		setString(&caller.Profile, DefaultProfile)
		c.MCP.Tokens[tok] = caller
	}
	if a := c.MCP.Anonymous; a != nil {
		setString(&a.Profile, DefaultProfile)
	}
	for name, a := range c.Admin.Users {
		setString(&a.Role, "admin")
		c.Admin.Users[name] = a
	}
	setString(&c.RLS.Setting, DefaultRLSSetting)
}

func setInt(v *int, def int) {
	if *v == 0 {
		*v = def
	}
}

func setString(v *string, def string) {
	if *v == "" {
		*v = def
	}
}

func setDuration(v *Duration, def time.Duration) {
	if *v == 0 {
		*v = Duration(def)
	}
}

// Default returns a config with every default applied and nothing else:
// the readonly profile, no users, no tokens, no backend.
func Default() *Config {
	c := &Config{}
	c.applyDefaults()
	return c
}

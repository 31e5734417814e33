package config

import (
	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/policy"
	"github.com/pgmoat/pgmoat/proxy"
)

// ReplicaPools are the pool configurations of backend.replicas: each
// one's DSN and sizes; the pool fills in the rest from the primary's.
func (b Backend) ReplicaPools() []proxy.PoolConfig {
	var out []proxy.PoolConfig
	for _, r := range b.Replicas {
		p := r.Pool
		out = append(out, proxy.PoolConfig{DSN: r.DSN.Value(), Min: p.Min, Max: p.Max, AcquireTimeout: p.AcquireTimeout.D(),
			MaxLifetime: p.MaxLifetime.D(), IdleTimeout: p.IdleTimeout.D(), MaxPerIdentity: p.EffectiveMaxPerIdentity()})
	}
	return out
}

// PolicyOptions turns the profiles into the policy engine's options.
func (c *Config) PolicyOptions() policy.Options {
	profiles := make(map[string]policy.Profile, len(c.Profiles))
	for name, p := range c.Profiles {
		profiles[name] = policy.Profile{
			Name:             name,
			StatementTimeout: p.StatementTimeout.D(),
			MaxRows:          p.MaxRows,
			SlowThreshold:    p.SlowThreshold.D(),
			AllowSchemas:     p.AllowSchemas,
			AllowRelations:   p.AllowRelations,
			DenyRelations:    p.DenyRelations,
			AllowFunctions:   p.AllowFunctions,
			DenyFunctions:    p.DenyFunctions,
		}
	}
	return policy.Options{Profiles: profiles, MaxJudgeBytes: c.Policy.MaxJudgeBytes, JudgeWait: c.Policy.JudgeWait.D()}
}

// ToolOptions are the MCP tool generator's options: mcp.tools, with the
// default profile's max_rows as the row cap when the section sets none.
func (c *Config) ToolOptions() mcp.GenerateOptions {
	opts := c.MCP.Tools
	if opts.MaxRows == 0 {
		opts.MaxRows = c.Profiles[DefaultProfile].MaxRows
	}
	return opts
}

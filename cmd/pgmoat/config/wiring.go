package config

import (
	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/policy"
)

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

package config

import (
	"strings"
	"testing"
)

// TestMCPToolsTokenBudget: the budget is a key of mcp.tools, and a
// negative one is refused with the key named.
func TestMCPToolsTokenBudget(t *testing.T) {
	cfg, err := Parse([]byte("mcp:\n  tools:\n    token_budget: 3000\n    discovery_threshold: 20\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MCP.Tools.TokenBudget != 3000 || cfg.MCP.Tools.DiscoveryThreshold != 20 {
		t.Errorf("tools %+v", cfg.MCP.Tools)
	}
	if err := cfg.MCP.Tools.Validate(); err != nil {
		t.Error(err)
	}
	cfg, err = Parse([]byte("mcp:\n  tools:\n    token_budget: -1\n"), "t.yaml")
	if err == nil {
		err = cfg.MCP.Tools.Validate()
	}
	if err == nil || !strings.Contains(err.Error(), "token_budget") {
		t.Errorf("negative budget: %v", err)
	}
}

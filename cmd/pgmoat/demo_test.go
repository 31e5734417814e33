package main

import (
	"strings"
	"testing"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
	inspectorcli "github.com/pgmoat/pgmoat/integration/inspector"
)

// The demo banner's Inspector command names the release the Inspector
// tests drive, so what it tells people to run is what was tested.
func TestDemoBannerNamesTheTestedInspector(t *testing.T) {
	var cfg config.Config
	cfg.Proxy.Listen, cfg.MCP.Listen, cfg.RLS.Setting = "127.0.0.1:6432", "127.0.0.1:8765", "request.user_id"
	var b strings.Builder
	printDemoBanner(&b, &cfg)
	if !strings.Contains(b.String(), "npx -y "+inspectorcli.Package+" --cli http://127.0.0.1:8765/mcp") {
		t.Errorf("the banner does not run %s:\n%s", inspectorcli.Package, b.String())
	}
}

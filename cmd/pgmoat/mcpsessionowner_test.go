package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestMCPSessionIsItsCallersAlone: a tool call that names alice's MCP
// session id but carries bob's token is refused before any tool runs,
// so it neither runs as alice nor reads alice's rows; alice's own call on
// the session still answers with her customers.
func TestMCPSessionIsItsCallersAlone(t *testing.T) {
	t.Parallel()
	f := newShopFixture(t)
	url := f.serveHTTP(t, f.cfg)
	code, session, body := initialize(t, url, "alice-token")
	if code != http.StatusOK {
		t.Fatalf("alice: %d %s", code, body)
	}
	const call = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"query_customers","arguments":{"limit":1}}}`
	if code, body := rawPost(t, url, "bob-token", session, call); code/100 == 2 || strings.Contains(body, `"rows"`) {
		t.Fatalf("bob's token on alice's session: %d %s", code, body)
	}
	if code, body := rawPost(t, url, "alice-token", session, call); code != http.StatusOK || !strings.Contains(body, `rows`) {
		t.Fatalf("alice on her session: %d %s", code, body)
	}
}

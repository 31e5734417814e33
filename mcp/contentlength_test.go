package mcp_test

import (
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/pgmoat/pgmoat/mcp"
)

// TestHTTPJSONBodiesCarryContentLength: every JSON answer to a POST
// (initialize, a page of rows, a tool error) is sent with its
// Content-Length rather than chunked, stateful or stateless, and the
// length is the body's.
func TestHTTPJSONBodiesCarryContentLength(t *testing.T) {
	calls := []struct{ name, msg string }{
		{"page", `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"query_orders","arguments":` + benchArgs + `}}`},
		{"tool error", `{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"query_orders","arguments":{"limit":"many"}}}`},
		{"tools/list", `{"jsonrpc":"2.0","id":11,"method":"tools/list","params":{}}`},
	}
	for _, stateless := range []bool{false, true} {
		srv := httptest.NewServer(pageHandler(t, pageServer(t, nil), mcp.HTTPOptions{Stateless: stateless}))
		t.Cleanup(srv.Close)
		c := newHTTPWireClient(t, srv.URL+mcp.Path, srv.Client())
		for _, call := range calls {
			resp, body := c.postResponse(t, call.msg)
			if len(resp.TransferEncoding) > 0 || resp.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
				t.Errorf("stateless=%v %s: Transfer-Encoding %v, Content-Length %q for a %d-byte body",
					stateless, call.name, resp.TransferEncoding, resp.Header.Get("Content-Length"), len(body))
			}
		}
	}
}

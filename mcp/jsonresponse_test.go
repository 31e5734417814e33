package mcp_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pgmoat/pgmoat/mcp"
)

// TestHTTPAnswersPOSTsWithJSON: a tools/call over streamable HTTP is
// answered with one application/json body holding the JSON-RPC response
// (the page spliced in), not an event stream, stateful or stateless.
func TestHTTPAnswersPOSTsWithJSON(t *testing.T) {
	for _, stateless := range []bool{false, true} {
		srv := httptest.NewServer(pageHandler(t, pageServer(t, nil), mcp.HTTPOptions{Stateless: stateless}))
		t.Cleanup(srv.Close)
		c := newHTTPWireClient(t, srv.URL+mcp.Path, srv.Client())
		resp, body := c.postResponse(t, `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"query_orders","arguments":`+benchArgs+`}}`)
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("stateless=%v: Content-Type %q, want application/json", stateless, ct)
		}
		var msg struct {
			ID     int `json:"id"`
			Result struct {
				IsError           bool `json:"isError"`
				StructuredContent struct {
					Rows []map[string]any `json:"rows"`
				} `json:"structuredContent"`
			} `json:"result"`
		}
		if err := json.Unmarshal([]byte(body), &msg); err != nil {
			t.Fatalf("stateless=%v: the body is not one JSON message: %v: %.200s", stateless, err, body)
		}
		if msg.ID != 9 || msg.Result.IsError || len(msg.Result.StructuredContent.Rows) != pageRows {
			t.Fatalf("stateless=%v: id %d, isError %v, %d rows: %.300s", stateless, msg.ID, msg.Result.IsError,
				len(msg.Result.StructuredContent.Rows), body)
		}
	}
}

package mcp_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pgmoat/pgmoat/mcp"
)

// BenchmarkToolCallHTTP is one tools/call end to end over real HTTP on
// loopback: the whole handler stack HTTPHandler builds (bearer
// authentication, cross-origin check, body and write deadlines, request
// id stamp, session cap, splicing, the SDK's streamable handler) in front
// of the fake executor's 50 rows. "wire" posts raw JSON-RPC with a plain
// http.Client and reads the answer as bytes, so what it measures is the
// server with as little client as possible; "sdk" is the SDK's client,
// which decodes every answer, as the bench's load generator does.
// cpu-µs/op counts both ends (one process).
func BenchmarkToolCallHTTP(b *testing.B) {
	for _, stateless := range []bool{false, true} {
		name := "stateful"
		if stateless {
			name = "stateless"
		}
		b.Run("wire/"+name, func(b *testing.B) {
			srv := httptest.NewServer(pageHandler(b, benchServer(b), mcp.HTTPOptions{Stateless: stateless}))
			b.Cleanup(srv.Close)
			c := newHTTPWireClient(b, srv.URL+mcp.Path, srv.Client())
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				c.call(b)
			}
			reportCPU(b, cpu)
		})
	}
	b.Run("sdk", func(b *testing.B) {
		srv := httptest.NewServer(pageHandler(b, benchServer(b), mcp.HTTPOptions{}))
		b.Cleanup(srv.Close)
		cs := connectHTTP(b, srv.URL+mcp.Path, srv.Client().Transport)
		params := &sdk.CallToolParams{Name: "query_orders",
			Arguments: map[string]any{"customer_id": 7, "order_by": "created_at desc", "limit": 50}}
		b.ReportAllocs()
		cpu := cpuTime()
		for b.Loop() {
			res, err := cs.CallTool(context.Background(), params)
			if err != nil || res.IsError {
				b.Fatalf("call: %v %v", err, res)
			}
		}
		reportCPU(b, cpu)
	})
}

// httpWireClient speaks streamable HTTP by hand: one POST per message,
// the session id and protocol version as headers, answers read as bytes.
type httpWireClient struct {
	url     string
	hc      *http.Client
	session string
	id      int
	buf     bytes.Buffer
}

func newHTTPWireClient(b testing.TB, url string, hc *http.Client) *httpWireClient {
	b.Helper()
	c := &httpWireClient{url: url, hc: hc}
	resp := c.post(b, `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`)
	if !strings.Contains(resp, `"protocolVersion"`) {
		b.Fatalf("initialize: %s", resp)
	}
	c.post(b, `{"jsonrpc":"2.0","method":"notifications/initialized","params":{}}`)
	return c
}

// post sends one message and returns the answer's body.
func (c *httpWireClient) post(b testing.TB, msg string) string {
	_, body := c.postResponse(b, msg)
	return body
}

// postResponse sends one message and returns the answer and its body.
func (c *httpWireClient) postResponse(b testing.TB, msg string) (*http.Response, string) {
	req, err := http.NewRequest(http.MethodPost, c.url, strings.NewReader(msg))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+pageToken)
	req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	if c.session != "" {
		req.Header.Set("Mcp-Session-Id", c.session)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	c.buf.Reset()
	if _, err := io.Copy(&c.buf, resp.Body); err != nil {
		b.Fatal(err)
	}
	if resp.StatusCode/100 != 2 {
		b.Fatalf("%s: %s: %s", msg[:min(len(msg), 80)], resp.Status, c.buf.String())
	}
	if id := resp.Header.Get("Mcp-Session-Id"); id != "" {
		c.session = id
	}
	return resp, c.buf.String()
}

// call sends one tools/call and checks that its answer is a page of rows.
func (c *httpWireClient) call(b testing.TB) {
	c.id++
	body := c.post(b, `{"jsonrpc":"2.0","id":`+itoa(c.id)+`,"method":"tools/call","params":{"name":"query_orders","arguments":`+benchArgs+`}}`)
	if len(body) < 1000 || strings.Contains(body[:200], `"isError":true`) {
		b.Fatalf("call %d: %s", c.id, body)
	}
}

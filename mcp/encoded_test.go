package mcp_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/policy"
)

const pageToken = "page-token-0123456789"

// httpSession connects an SDK client to h over streamable HTTP with
// pageToken.
func httpSession(t *testing.T, h http.Handler) *sdk.ClientSession {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return connectHTTP(t, srv.URL+mcp.Path, srv.Client().Transport)
}

func connectHTTP(t testing.TB, url string, rt http.RoundTripper) *sdk.ClientSession {
	t.Helper()
	hc := &http.Client{Transport: bearerRT{rt}}
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, nil).Connect(context.Background(),
		&sdk.StreamableClientTransport{Endpoint: url, HTTPClient: hc, DisableStandaloneSSE: true, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

type bearerRT struct{ next http.RoundTripper }

func (b bearerRT) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+pageToken)
	return b.next.RoundTrip(r)
}

func pageHandler(t testing.TB, s *mcp.Server, o mcp.HTTPOptions) http.Handler {
	t.Helper()
	a, err := mcp.NewAuthenticator(mcp.AuthOptions{Tokens: map[string]policy.Identity{pageToken: {UserID: "7", Profile: "readonly"}}})
	if err != nil {
		t.Fatal(err)
	}
	return s.HTTPHandler(a, o)
}

// runSession serves one session of s over t with Run and connects a
// client to c.
func runSession(t *testing.T, s *mcp.Server, st, ct sdk.Transport) *sdk.ClientSession {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, st) }()
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close(); cancel(); <-done })
	return cs
}

// pageCall calls query_orders and returns its structured content and text.
func pageCall(t *testing.T, cs *sdk.ClientSession, args map[string]any) (mcp.Result, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "query_orders", Arguments: args})
	if err != nil {
		t.Fatalf("query_orders(%v): %v", args, err)
	}
	if len(res.Content) != 1 {
		t.Fatalf("query_orders(%v): %d content blocks", args, len(res.Content))
	}
	text := res.Content[0].(*sdk.TextContent).Text
	if res.IsError {
		t.Fatalf("query_orders(%v): %s", args, text)
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	var r mcp.Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("structured content %s: %v", b, err)
	}
	return r, text
}

// TestEncodedResultsReadTheSameOnEveryTransport: the server writes a page
// once and hands it to the SDK as bytes, spliced into the message by the
// writer where pgmoat owns the transport. Every way of connecting must
// read the same result: the rows, their count, the cursor and the text
// block with its frame.
func TestEncodedResultsReadTheSameOnEveryTransport(t *testing.T) {
	s := pageServer(t, nil)
	sessions := map[string]func() *sdk.ClientSession{
		"sdk connect, in memory": func() *sdk.ClientSession {
			ct, st := sdk.NewInMemoryTransports()
			ss, err := s.SDK().Connect(context.Background(), st, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = ss.Close() })
			cs, err := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, nil).Connect(context.Background(), ct, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cs.Close() })
			return cs
		},
		"run, in memory": func() *sdk.ClientSession {
			ct, st := sdk.NewInMemoryTransports()
			return runSession(t, s, st, ct)
		},
		"run, stdio": func() *sdk.ClientSession {
			a, b := net.Pipe()
			return runSession(t, s, &sdk.IOTransport{Reader: a, Writer: a}, &sdk.IOTransport{Reader: b, Writer: b})
		},
		"http": func() *sdk.ClientSession { return httpSession(t, pageHandler(t, s, mcp.HTTPOptions{})) },
		"http, stateless": func() *sdk.ClientSession {
			return httpSession(t, pageHandler(t, s, mcp.HTTPOptions{Stateless: true}))
		},
	}
	var want mcp.Result
	var wantText string
	for _, name := range []string{"sdk connect, in memory", "run, in memory", "run, stdio", "http", "http, stateless"} {
		t.Run(name, func(t *testing.T) {
			cs := sessions[name]()
			r, text := pageCall(t, cs, map[string]any{"customer_id": 7, "order_by": "created_at desc", "limit": 20})
			if r.RowCount != 20 || len(r.Rows) != 20 || !r.Truncated || r.NextCursor == "" {
				t.Fatalf("%d rows (row_count %d), truncated %v, cursor %q", len(r.Rows), r.RowCount, r.Truncated, r.NextCursor)
			}
			if r.Rows[0]["id"] != float64(100000) || r.Rows[0]["status"] != "pending" || r.Rows[0]["created_at"] != "2024-03-01T12:00:00Z" {
				t.Errorf("first row %v", r.Rows[0])
			}
			lines := strings.Split(text, "\n")
			if !strings.HasPrefix(lines[0], "query_orders returned 20 rows; more rows match: call again with cursor") ||
				lines[2] != "<rows>" || lines[23] != "</rows>" || !strings.Contains(lines[3], `"note":"Leave at the door, ring twice \u003cb\u003eplease\u003c/b\u003e "`) {
				t.Errorf("text block:\n%s", text)
			}
			next, _ := pageCall(t, cs, map[string]any{"customer_id": 7, "order_by": "created_at desc", "limit": 20, "cursor": r.NextCursor})
			if next.RowCount != 20 {
				t.Errorf("next page: %d rows", next.RowCount)
			}
			if want.Rows == nil {
				want, wantText = r, text
				return
			}
			// The cursor is signed per call (it carries nothing random),
			// so every transport reads the same bytes.
			a, _ := json.Marshal(r)
			b, _ := json.Marshal(want)
			if string(a) != string(b) || text != wantText {
				t.Errorf("differs from the first transport:\n%s\n%s", a, b)
			}
		})
	}
}

// TestPerRequestProtocolResultsSayComplete: in the per-request protocol
// the SDK marks its results resultType "complete" and names the server
// in _meta after the handler; the pre-encoded result must say both too.
func TestPerRequestProtocolResultsSayComplete(t *testing.T) {
	a, b := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pageServer(t, nil).Run(ctx, &sdk.IOTransport{Reader: a, Writer: a}) }()
	t.Cleanup(func() { b.Close(); cancel(); <-done })
	req := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"query_orders","arguments":{"customer_id":7,"limit":2},` +
		`"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}` + "\n"
	if _, err := b.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Result struct {
			Meta              map[string]any `json:"_meta"`
			ResultType        string         `json:"resultType"`
			StructuredContent mcp.Result     `json:"structuredContent"`
		} `json:"result"`
		Error any `json:"error"`
	}
	if err := json.NewDecoder(b).Decode(&resp); err != nil {
		t.Fatal(err)
	}
	r := resp.Result
	if resp.Error != nil || r.ResultType != "complete" || r.Meta[sdk.MetaKeyServerInfo] == nil || r.StructuredContent.RowCount != 2 {
		t.Errorf("result: %+v (error %v)", r, resp.Error)
	}
}

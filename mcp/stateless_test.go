package mcp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pgmoat/pgmoat/mcp"
)

// roundRobin is a plain HTTP load balancer: each request goes to the next
// backend, whatever session it belongs to.
type roundRobin struct {
	mu       sync.Mutex
	backends []*url.URL
	next     int
	served   []int // requests per backend
}

func (rr *roundRobin) pick() *url.URL {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	i := rr.next % len(rr.backends)
	rr.next++
	rr.served[i]++
	return rr.backends[i]
}

func newRoundRobin(t *testing.T, backends ...http.Handler) (*roundRobin, *httptest.Server) {
	t.Helper()
	rr := &roundRobin{served: make([]int, len(backends))}
	for _, h := range backends {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		u, _ := url.Parse(srv.URL)
		rr.backends = append(rr.backends, u)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(rr.pick()); r.Out.Host = r.In.Host },
		FlushInterval: -1,
	}
	lb := httptest.NewServer(proxy)
	t.Cleanup(lb.Close)
	return rr, lb
}

// TestStatelessInstancesServeOneClient: two servers with one cursor key
// behind a round-robin balancer, stateless, serve one client whose
// requests alternate between them: the session opens on one and lists on
// the other, and a cursor one of them signed pages on the other. Stateful,
// the same set-up fails: the second instance knows no such session.
func TestStatelessInstancesServeOneClient(t *testing.T) {
	key := []byte("a-cursor-secret-shared-by-every-instance")
	t.Run("stateless", func(t *testing.T) {
		o := mcp.HTTPOptions{Stateless: true}
		rr, lb := newRoundRobin(t, pageHandler(t, pageServer(t, key), o), pageHandler(t, pageServer(t, key), o))
		cs := connectHTTP(t, lb.URL+mcp.Path, lb.Client().Transport)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		tools, err := cs.ListTools(ctx, nil)
		if err != nil || len(tools.Tools) == 0 {
			t.Fatalf("tools/list: %v", err)
		}
		var cursor string
		for i := range 4 {
			args := map[string]any{"customer_id": 7, "order_by": "created_at desc", "limit": 20}
			if cursor != "" {
				args["cursor"] = cursor
			}
			r, _ := pageCall(t, cs, args)
			if r.RowCount != 20 || r.NextCursor == "" {
				t.Fatalf("call %d: %d rows, cursor %q", i, r.RowCount, r.NextCursor)
			}
			cursor = r.NextCursor
		}
		if rr.served[0] < 3 || rr.served[1] < 3 {
			t.Errorf("requests per instance %v: the client did not alternate", rr.served)
		}
	})
	t.Run("a cursor signed with another key is refused", func(t *testing.T) {
		o := mcp.HTTPOptions{Stateless: true}
		_, lb := newRoundRobin(t, pageHandler(t, pageServer(t, key), o), pageHandler(t, pageServer(t, []byte("another-secret-of-at-least-32-characters")), o))
		cs := connectHTTP(t, lb.URL+mcp.Path, lb.Client().Transport)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// initialize went to the first instance, initialized to the
		// second; this call to the first.
		r, _ := pageCall(t, cs, map[string]any{"customer_id": 7, "limit": 20})
		res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "query_orders",
			Arguments: map[string]any{"customer_id": 7, "limit": 20, "cursor": r.NextCursor}})
		if err != nil || !res.IsError || !strings.Contains(res.Content[0].(*sdk.TextContent).Text, "cursor") {
			t.Errorf("a cursor of another key: %v %+v", err, res)
		}
	})
	t.Run("stateful needs sticky sessions", func(t *testing.T) {
		_, lb := newRoundRobin(t, pageHandler(t, pageServer(t, key), mcp.HTTPOptions{}), pageHandler(t, pageServer(t, key), mcp.HTTPOptions{}))
		hc := &http.Client{Transport: bearerRT{lb.Client().Transport}}
		cs, err := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, nil).Connect(context.Background(),
			&sdk.StreamableClientTransport{Endpoint: lb.URL + mcp.Path, HTTPClient: hc, DisableStandaloneSSE: true, MaxRetries: -1}, nil)
		if err == nil {
			defer cs.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err = cs.ListTools(ctx, nil)
		}
		if err == nil {
			t.Fatal("a stateful session served by two instances in turn worked; the stateless test proves nothing")
		}
	})
}

package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
	"github.com/pgmoat/pgmoat/cmd/pgmoat/mcpdoor"
	"github.com/pgmoat/pgmoat/cmd/pgmoat/telemetry"
	inspectorcli "github.com/pgmoat/pgmoat/integration/inspector"
	"github.com/pgmoat/pgmoat/mcp"
)

const jwtSecret = "0123456789abcdef0123456789abcdef-test-secret"

// serveHTTP starts the MCP HTTP door for cfg on a free loopback port and
// returns its URL.
func (f *shopFixture) serveHTTP(t *testing.T, cfg *config.Config, obs ...*telemetry.Observers) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var o *telemetry.Observers
	logger := discardLogger()
	if len(obs) > 0 {
		o, logger = obs[0], obs[0].Logger
	}
	authn, err := mcpdoor.NewAuthenticator(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(authn.Close)
	door, err := newMCPStack(context.Background(), cfg, f.engine, f.pool, logger, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	h := door.ServeHTTP(cfg, ln, authn, o, logger, io.Discard)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return "http://" + ln.Addr().String() + mcp.Path
}

type bearer struct {
	token string
	base  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

// httpSession connects an SDK client over streamable HTTP with token.
func httpSession(t *testing.T, url, token string) (*sdk.ClientSession, error) {
	t.Helper()
	return httpSessionWith(t, url, token, nil)
}

// httpSessionWith is httpSession with client options (handlers of
// notifications).
func httpSessionWith(t *testing.T, url, token string, opts *sdk.ClientOptions) (*sdk.ClientSession, error) {
	t.Helper()
	hc := &http.Client{Transport: bearer{token, http.DefaultTransport}}
	if token == "" {
		hc = http.DefaultClient
	}
	client := sdk.NewClient(&sdk.Implementation{Name: "pgmoat-test", Version: "1"}, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := client.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: url, HTTPClient: hc}, nil)
	if err == nil {
		t.Cleanup(func() { _ = cs.Close() })
	}
	return cs, err
}

func signJWT(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(jwtSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// post sends one raw JSON-RPC initialize and returns the status.
func post(t *testing.T, url string, header map[string]string, body []byte) *http.Response {
	t.Helper()
	if body == nil {
		body = []byte(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestMCPOverHTTP(t *testing.T) {
	t.Parallel()
	f := newShopFixture(t)
	cfg := *f.cfg
	cfg.MCP.JWT = &config.JWT{Secret: jwtSecret, Audience: "pgmoat", Issuer: "https://issuer.test", Profile: "readonly"}
	url := f.serveHTTP(t, &cfg)

	t.Run("tokens name the caller", func(t *testing.T) {
		seen := map[string][]int64{}
		for _, tok := range []string{"alice-token", "bob-token"} {
			cs, err := httpSession(t, url, tok)
			if err != nil {
				t.Fatal(err)
			}
			s := &session{cs: cs}
			r := s.rows(t, "query_customers", map[string]any{"limit": 1000, "columns": []string{"id"}})
			seen[tok] = ids(t, r, "id")
		}
		if len(seen["alice-token"]) == 0 || len(seen["bob-token"]) == 0 {
			t.Fatalf("empty: %v", seen)
		}
		for _, id := range seen["alice-token"] {
			for _, other := range seen["bob-token"] {
				if id == other {
					t.Fatalf("customer %d seen by both tokens", id)
				}
			}
		}
	})

	t.Run("missing, unknown and expired tokens get 401", func(t *testing.T) {
		expired := signJWT(t, jwt.MapClaims{"sub": "1", "aud": "pgmoat", "iss": "https://issuer.test", "exp": time.Now().Add(-time.Minute).Unix()})
		wrongAud := signJWT(t, jwt.MapClaims{"sub": "1", "aud": "other", "iss": "https://issuer.test", "exp": time.Now().Add(time.Hour).Unix()})
		noExp := signJWT(t, jwt.MapClaims{"sub": "1", "aud": "pgmoat", "iss": "https://issuer.test"})
		forged, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "1", "aud": "pgmoat", "iss": "https://issuer.test",
			"exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte("another-secret-another-secret-0123"))
		for name, h := range map[string]map[string]string{
			"none":        nil,
			"unknown":     {"Authorization": "Bearer carol-token"},
			"not bearer":  {"Authorization": "Basic YWxpY2U6YWxpY2U="},
			"expired jwt": {"Authorization": "Bearer " + expired},
			"wrong aud":   {"Authorization": "Bearer " + wrongAud},
			"no exp":      {"Authorization": "Bearer " + noExp},
			"forged jwt":  {"Authorization": "Bearer " + forged},
		} {
			resp := post(t, url, h, nil)
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s: status %d, WWW-Authenticate %q", name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
		}
		if _, err := httpSession(t, url, expired); err == nil {
			t.Error("an SDK client connected with an expired JWT")
		}
	})

	t.Run("a valid JWT runs as its subject", func(t *testing.T) {
		tok := signJWT(t, jwt.MapClaims{"sub": "2", "aud": "pgmoat", "iss": "https://issuer.test", "exp": time.Now().Add(time.Hour).Unix()})
		cs, err := httpSession(t, url, tok)
		if err != nil {
			t.Fatal(err)
		}
		got := ids(t, (&session{cs: cs}).rows(t, "query_customers", map[string]any{"limit": 1000, "columns": []string{"id"}}), "id")
		want := f.superCount(t, "2", "SELECT count(*) FROM customers")
		if len(got) != want {
			t.Errorf("JWT for user 2 saw %d customers, want %d", len(got), want)
		}
	})

	t.Run("DNS rebinding and cross-origin requests are refused", func(t *testing.T) {
		auth := map[string]string{"Authorization": "Bearer alice-token"}
		if resp := post(t, url, auth, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("plain request: %d", resp.StatusCode)
		}
		rebind := map[string]string{"Authorization": "Bearer alice-token", "Host": "evil.example:8765"}
		if resp := post(t, url, rebind, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("foreign Host header: %d, want 403", resp.StatusCode)
		}
		cross := map[string]string{"Authorization": "Bearer alice-token", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
		if resp := post(t, url, cross, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site request: %d, want 403", resp.StatusCode)
		}
	})

	t.Run("request bodies are capped", func(t *testing.T) {
		body := append([]byte(`{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"`), bytes.Repeat([]byte("x"), 3<<20)...)
		body = append(body, []byte(`"}}`)...)
		if resp := post(t, url, map[string]string{"Authorization": "Bearer alice-token"}, body); resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("3 MiB body: %d, want 413", resp.StatusCode)
		}
	})

	t.Run("anonymous access is opt-in and still refuses bad tokens", func(t *testing.T) {
		anon := *f.cfg
		anon.MCP.Anonymous = &config.Caller{UserID: "1", Profile: "readonly"}
		u := f.serveHTTP(t, &anon)
		cs, err := httpSession(t, u, "")
		if err != nil {
			t.Fatal(err)
		}
		if r := (&session{cs: cs}).rows(t, "query_customers", map[string]any{"limit": 1}); r.RowCount != 1 {
			t.Errorf("anonymous call: %d rows", r.RowCount)
		}
		if resp := post(t, u, map[string]string{"Authorization": "Bearer wrong-token"}, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("bad token with anonymous on: %d", resp.StatusCode)
		}
	})

	t.Run("Inspector CLI lists and calls tools", func(t *testing.T) {
		out := inspector(t, url, "--header", "Authorization: Bearer alice-token", "--method", "tools/list")
		if !strings.Contains(out, "query_customers") {
			t.Errorf("tools/list:\n%.500s", out)
		}
		out = inspector(t, url, "--header", "Authorization: Bearer alice-token", "--method", "tools/call",
			"--tool-name", "query_customers", "--tool-arg", "limit=2")
		if !strings.Contains(out, `"row_count": 2`) {
			t.Errorf("tools/call:\n%.800s", out)
		}
	})
}

// inspector runs the MCP Inspector CLI (the release inspector.Package)
// against target (a URL, or a command with its arguments for stdio) and
// returns its output.
func inspector(t *testing.T, target string, args ...string) string {
	t.Helper()
	out, err := inspectorcli.Install(t).Run(t, append(strings.Fields(target), args...)...)
	if err != nil {
		t.Fatalf("inspector %v: %v\n%s", args, err, out)
	}
	return out
}

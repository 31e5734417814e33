package integration

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/jackc/pgx/v5"
	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/auth/extauth"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/pgmoat/pgmoat/integration/inspector"
	"github.com/pgmoat/pgmoat/integration/oidc"
	"github.com/pgmoat/pgmoat/integration/pgcluster"
	"github.com/pgmoat/pgmoat/integration/shop"
)

const clientSecret = "client-secret-0123456789abcdef"

// oauthRig is pgmoat serve as an OAuth protected resource whose tokens
// come from a real oidc-provider.
type oauthRig struct {
	idp              *oidc.Provider
	mcpURL, resource string
	callback         string // the Inspector's OAuth redirect URI
	proxy            string
	db               string
	config           string
	log              *lockedBuffer
}

// The rig's refetch interval for unknown kids.
const minRefetch = 2 * time.Second

func startOAuthRig(t *testing.T) *oauthRig {
	t.Helper()
	mcpAddr := freePort(t)
	r := &oauthRig{resource: "http://" + mcpAddr + "/mcp", proxy: freePort(t), log: &lockedBuffer{}}
	r.mcpURL = r.resource
	r.callback = "http://" + freePort(t) + "/oauth/callback"
	client := func(id, user, scope string) oidc.Client {
		return oidc.Client{ID: id, Secret: clientSecret, UserID: user, Scope: scope}
	}
	short, ps, es, ed, opaque := client("agent-short", "1", "db:read"), client("agent-ps", "1", "db:read"),
		client("agent-2", "2", "db:read"), client("agent-ed", "2", "db:read"), client("agent-opaque", "2", "db:read")
	short.TTL, ps.Alg, es.Alg, ed.Alg, opaque.Opaque = 6*time.Second, "PS256", "ES256", "EdDSA", true
	r.idp = oidc.Start(t, oidc.Options{Resource: r.resource, Scopes: []string{"db:read", "db:limited", "tickets:read"},
		Clients: []oidc.Client{client("agent-1", "1", "db:read db:limited tickets:read"), es, ps, ed, short, opaque,
			client("agent-noscope", "1", "tickets:read"), client("pgmoat", "", ""),
			{ID: "inspector", Secret: clientSecret, UserID: "2", Scope: "db:read db:limited tickets:read", RedirectURIs: []string{r.callback}}}})

	r.db = pgcluster.NewDatabase(t, cluster)
	if err := shop.Load(context.Background(), cluster.DSN(r.db), shop.Options{Scale: 1}); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, fmt.Sprintf(`backend:
  dsn: %q
proxy:
  listen: %s
profiles:
  readonly: {}
  limited: {max_rows: 5}
admin:
  users:
    dba: {password: dba}
mcp:
  listen: %s
  public_url: %s
  jwt:
    issuer: %s
    user_claim: user_id
    jwks_min_refetch: %s
    scope_profiles: {"db:read": readonly, "db:limited": limited}
  oauth:
    introspection_url: %s/token/introspection
    client_id: pgmoat
    client_secret: %s
    cache_ttl: 2s
  tools:
    scopes: {query_support_tickets: ["tickets:read"]}
`, cluster.DSNFor(shop.ReaderRole, shop.DefaultReaderPassword, r.db), r.proxy, mcpAddr, r.resource, r.idp.Issuer,
		minRefetch, r.idp.Issuer, clientSecret))
	r.config = cfg
	cmd := exec.Command(binary, "serve", "--config", cfg)
	cmd.Stdout, cmd.Stderr = r.log, r.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("pgmoat log:\n%s", tail(r.log.String(), 40))
		}
	})
	waitListening(t, mcpAddr)
	waitListening(t, r.proxy)
	return r
}

// post sends a JSON-RPC message with token ("" for none).
func (r *oauthRig) post(t *testing.T, token, body string) *http.Response {
	t.Helper()
	if body == "" {
		body = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	}
	req, _ := http.NewRequest(http.MethodPost, r.mcpURL, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// session connects an SDK client with a fixed bearer token.
func (r *oauthRig) session(t *testing.T, token string) *sdk.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hc := &http.Client{Transport: bearer{token: token, base: http.DefaultTransport}}
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "oauth-test", Version: "1"}, nil).
		Connect(ctx, &sdk.StreamableClientTransport{Endpoint: r.mcpURL, HTTPClient: hc}, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// rowCount calls tool and returns row_count, failing on a tool error.
func rowCount(t *testing.T, cs *sdk.ClientSession, tool string, args map[string]any) int {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	if res.IsError {
		b, _ := json.Marshal(res.Content)
		t.Fatalf("%s: tool error %s", tool, b)
	}
	b, _ := json.Marshal(res.StructuredContent)
	var out struct {
		RowCount int `json:"row_count"`
	}
	_ = json.Unmarshal(b, &out)
	return out.RowCount
}

// customersOf counts what RLS shows user directly in PostgreSQL.
func (r *oauthRig) customersOf(t *testing.T, user string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, cluster.DSNFor(shop.ReaderRole, shop.DefaultReaderPassword, r.db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if _, err := conn.Exec(ctx, "SELECT set_config('request.user_id', $1, false)", user); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM customers").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// showConfig reads SHOW CONFIG from the admin console.
func (r *oauthRig) showConfig(t *testing.T) map[string]string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://dba:dba@%s/pgmoat?sslmode=disable", r.proxy))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SHOW CONFIG", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		out[k] = v
	}
	return out
}

// forge signs claims with key as a provider would.
func forge(t *testing.T, key jose.JSONWebKey, alg jose.SignatureAlgorithm, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// rawJWT assembles a token by hand, for algorithms no library signs.
func rawJWT(header, claims map[string]any, sign func(input string) []byte) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	return input + "." + base64.RawURLEncoding.EncodeToString(sign(input))
}

// expiry reads exp without verifying (the test's own token).
func expiry(t *testing.T, token string) time.Time {
	t.Helper()
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.PS256, jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var c jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {
		t.Fatal(err)
	}
	return c.Expiry.Time()
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.PS256, jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Headers[0].KeyID
}

// challenge parses the response's WWW-Authenticate as clients do.
func challenge(t *testing.T, resp *http.Response) map[string]string {
	t.Helper()
	cs, err := oauthex.ParseWWWAuthenticate(resp.Header.Values("WWW-Authenticate"))
	if err != nil || len(cs) != 1 || cs[0].Scheme != "bearer" {
		t.Fatalf("WWW-Authenticate %q: %v %+v", resp.Header.Values("WWW-Authenticate"), err, cs)
	}
	return cs[0].Params
}

func TestOAuthAgainstARealProvider(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("installs npm packages")
	}
	r := startOAuthRig(t)
	metadataURL := strings.Replace(r.resource, "/mcp", "/.well-known/oauth-protected-resource/mcp", 1)
	good := map[string]any{"iss": r.idp.Issuer, "aud": r.resource, "user_id": "1", "scope": "db:read", "sub": "agent-1"}
	with := func(extra map[string]any) map[string]any {
		c := map[string]any{"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()}
		for k, v := range good {
			c[k] = v
		}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	rsaKey := r.idp.Keys()[0]

	t.Run("protected-resource metadata", func(t *testing.T) {
		for _, u := range []string{metadataURL, strings.TrimSuffix(metadataURL, "/mcp")} {
			var m oauthex.ProtectedResourceMetadata
			resp, err := http.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			err = json.NewDecoder(resp.Body).Decode(&m)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("%s: %d %v", u, resp.StatusCode, err)
			}
			if m.Resource != r.resource || len(m.AuthorizationServers) != 1 || m.AuthorizationServers[0] != r.idp.Issuer ||
				strings.Join(m.ScopesSupported, " ") != "db:limited db:read tickets:read" || strings.Join(m.BearerMethodsSupported, ",") != "header" {
				t.Errorf("%s: %+v", u, m)
			}
		}
	})

	t.Run("doctor checks the provider", func(t *testing.T) {
		out, errOut, _ := pgmoat(t, "", "doctor", "--config", r.config)
		for _, want := range []string{"[ok]   oauth.discovery", "[ok]   oauth.keys", "3 key(s) from " + r.idp.Issuer + "/jwks",
			"tokens verify with RS256, PS256, ES256, EdDSA", "[ok]   oauth.introspection"} {
			if !strings.Contains(out, want) {
				t.Errorf("doctor output lacks %q:\n%s%s", want, out, errOut)
			}
		}
	})

	t.Run("provider tokens run as their user under RLS", func(t *testing.T) {
		for _, c := range []struct{ client, user string }{
			{"agent-1", "1"}, {"agent-2", "2"}, {"agent-ps", "1"}, {"agent-ed", "2"}, {"agent-opaque", "2"},
		} {
			cs := r.session(t, r.idp.Token(t, c.client, "db:read", ""))
			tools, err := cs.ListTools(context.Background(), nil)
			if err != nil || len(tools.Tools) == 0 {
				t.Fatalf("%s: tools/list: %v", c.client, err)
			}
			got := rowCount(t, cs, "query_customers", map[string]any{"limit": 1000, "columns": []string{"id"}})
			if want := r.customersOf(t, c.user); got != want || want == 0 {
				t.Errorf("%s (user %s): %d customers, RLS shows %d", c.client, c.user, got, want)
			}
		}
	})

	t.Run("the most restrictive matching profile wins", func(t *testing.T) {
		cs := r.session(t, r.idp.Token(t, "agent-1", "db:read db:limited", ""))
		if n := rowCount(t, cs, "query_customers", map[string]any{"limit": 100}); n != 5 {
			t.Errorf("db:read + db:limited: %d rows, want the limited profile's 5", n)
		}
	})

	t.Run("refusals are 401 or 403 with a challenge naming the metadata", func(t *testing.T) {
		rogue := oidc.NewKey(t, "RS256", "rogue-1")
		sameKid := oidc.NewKey(t, "RS256", rsaKey.KeyID)
		pubDER, _ := x509.MarshalPKIXPublicKey(rsaKey.Public().Key)
		pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
		cases := []struct {
			name, token string
			status      int
			code, scope string
		}{
			{"no token", "", 401, "", "db:limited db:read tickets:read"},
			{"wrong audience", r.idp.Token(t, "agent-1", "db:read", "http://other.example/mcp"), 401, "invalid_token", ""},
			{"wrong issuer", forge(t, rsaKey, jose.RS256, with(map[string]any{"iss": "http://evil.example"})), 401, "invalid_token", ""},
			{"expired", forge(t, rsaKey, jose.RS256, with(map[string]any{"exp": time.Now().Add(-time.Minute).Unix()})), 401, "invalid_token", ""},
			{"alg none", rawJWT(map[string]any{"alg": "none", "typ": "at+jwt", "kid": rsaKey.KeyID}, with(nil),
				func(string) []byte { return nil }), 401, "invalid_token", ""},
			{"HS256 keyed with the RSA public key", rawJWT(map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": rsaKey.KeyID}, with(nil),
				func(in string) []byte { m := hmac.New(sha256.New, pubPEM); m.Write([]byte(in)); return m.Sum(nil) }), 401, "invalid_token", ""},
			{"key not in the JWKS", forge(t, rogue, jose.RS256, with(nil)), 401, "invalid_token", ""},
			{"a published kid on another key", forge(t, sameKid, jose.RS256, with(nil)), 401, "invalid_token", ""},
			{"inactive opaque token", "opaque-token-the-provider-never-issued", 401, "invalid_token", ""},
			{"no scope that maps to a profile", r.idp.Token(t, "agent-noscope", "tickets:read", ""), 403, "insufficient_scope", "db:limited db:read"},
		}
		for _, c := range cases {
			resp := r.post(t, c.token, "")
			if resp.StatusCode != c.status {
				t.Errorf("%s: status %d, want %d", c.name, resp.StatusCode, c.status)
				continue
			}
			p := challenge(t, resp)
			if p["resource_metadata"] != metadataURL || p["error"] != c.code || (c.scope != "" && p["scope"] != c.scope) {
				t.Errorf("%s: challenge %v", c.name, p)
			}
		}
		// The forged token with the real key is accepted: the refusals
		// above are for what was changed, not the forging.
		if resp := r.post(t, forge(t, rsaKey, jose.RS256, with(nil)), ""); resp.StatusCode != 200 {
			t.Errorf("a well-formed token signed with the provider's key: %d", resp.StatusCode)
		}
	})

	t.Run("a tool's scopes are needed to call it", func(t *testing.T) {
		call := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"query_support_tickets","arguments":{"limit":1}}}`
		resp := r.post(t, r.idp.Token(t, "agent-2", "db:read", ""), call)
		if p := challenge(t, resp); resp.StatusCode != 403 || p["error"] != "insufficient_scope" || p["scope"] != "tickets:read" {
			t.Errorf("without tickets:read: %d %v", resp.StatusCode, p)
		}
		cs := r.session(t, r.idp.Token(t, "agent-1", "db:read tickets:read", ""))
		if n := rowCount(t, cs, "query_support_tickets", map[string]any{"limit": 1}); n != 1 {
			t.Errorf("with tickets:read: %d rows", n)
		}
	})

	t.Run("an MCP client discovers the provider from the 401", func(t *testing.T) {
		h, err := extauth.NewClientCredentialsHandler(&extauth.ClientCredentialsHandlerConfig{
			Credentials: &oauthex.ClientCredentials{ClientID: "agent-1", ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: clientSecret}},
		})
		if err != nil {
			t.Fatal(err)
		}
		var _ sdkauth.OAuthHandler = h
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cs, err := sdk.NewClient(&sdk.Implementation{Name: "oauth-test", Version: "1"}, nil).
			Connect(ctx, &sdk.StreamableClientTransport{Endpoint: r.mcpURL, OAuthHandler: h}, nil)
		if err != nil {
			t.Fatalf("connect with client credentials only: %v", err)
		}
		defer cs.Close()
		if n := rowCount(t, cs, "query_customers", map[string]any{"limit": 1}); n != 1 {
			t.Errorf("query_customers: %d rows", n)
		}
	})

	t.Run("Inspector CLI signs in at the provider the 401 names", func(t *testing.T) {
		cli := inspector.Install(t)
		// Unattended with no stored login it stops at pgmoat's 401.
		out, err := cli.Run(t, r.mcpURL, "--stored-auth-only", "--method", "tools/list")
		if exitCode(err) != 3 || !strings.Contains(out, `"code":"auth_required"`) || !strings.Contains(out, "no bearer token") {
			t.Fatalf("without a login: %v\n%.800s", err, out)
		}

		// The browser flow, the test playing the browser.
		authorize, listed := inspectorSignIn(t, cli, r, "--method", "tools/list", "--format", "json")
		q := authorize.Query()
		if got := authorize.Scheme + "://" + authorize.Host + authorize.Path; got != r.idp.Issuer+"/auth" {
			t.Errorf("authorization endpoint %s, want the provider's %s/auth", got, r.idp.Issuer)
		}
		for k, want := range map[string]string{"resource": r.resource, "client_id": "inspector", "redirect_uri": r.callback,
			"response_type": "code", "code_challenge_method": "S256", "scope": "db:limited db:read tickets:read"} {
			if q.Get(k) != want {
				t.Errorf("authorization request %s=%q, want %q (%s)", k, q.Get(k), want, authorize)
			}
		}
		var tools struct {
			Result struct{ Tools []struct{ Name string } }
		}
		if err := json.Unmarshal([]byte(listed), &tools); err != nil || !slices.ContainsFunc(tools.Result.Tools,
			func(tl struct{ Name string }) bool { return tl.Name == "query_customers" }) {
			t.Fatalf("tools/list after signing in: %v\n%.800s", err, listed)
		}

		// The token it stored serves later unattended runs, as the user
		// who signed in (2), under the db:limited profile's 5 rows.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var stderr strings.Builder
		cmd := cli.Command(ctx, r.mcpURL, "--stored-auth-only", "--method", "tools/call", "--tool-name", "query_customers",
			"--tool-args-json", `{"limit":100,"columns":["id"],"order_by":"id"}`, "--format", "json")
		cmd.Stderr = &stderr
		called, err := cmd.Output()
		var res struct {
			Result struct {
				StructuredContent struct {
					Rows []struct{ ID int }
				}
			}
		}
		if err != nil || json.Unmarshal(called, &res) != nil {
			t.Fatalf("tools/call with the stored token: %v\n%.800s%.800s", err, called, stderr.String())
		}
		var got []int
		for _, row := range res.Result.StructuredContent.Rows {
			got = append(got, row.ID)
		}
		if want := r.customerIDs(t, "2", 5); !slices.Equal(got, want) {
			t.Errorf("query_customers as the signed-in user: ids %v, RLS shows user 2 %v", got, want)
		}
	})

	t.Run("a flood of unknown kids costs the provider one fetch per interval", func(t *testing.T) {
		before, start := r.idp.KeySetRequests(t), time.Now()
		for i := range 40 {
			tok := forge(t, oidc.NewKey(t, "ES256", fmt.Sprintf("bogus-%d", i)), jose.ES256, with(nil))
			if resp := r.post(t, tok, ""); resp.StatusCode != 401 {
				t.Fatalf("bogus kid: %d", resp.StatusCode)
			}
		}
		fetches, allowed := r.idp.KeySetRequests(t)-before, 1+int(time.Since(start)/minRefetch)
		if fetches > allowed {
			t.Errorf("40 unknown kids in %v made %d key-set fetches, at most %d allowed", time.Since(start), fetches, allowed)
		}
	})

	t.Run("the provider rotates its key and new tokens work without a restart", func(t *testing.T) {
		old := r.idp.Token(t, "agent-1", "db:read", "")
		r.idp.Rotate(t, "rsa-2")
		fresh := r.idp.Token(t, "agent-1", "db:read", "")
		if kidOf(t, fresh) != "rsa-2" {
			t.Fatalf("the provider signed with %q after rotating", kidOf(t, fresh))
		}
		// The first attempt may fall within the refetch interval of the
		// flood above; the key is fetched once the interval allows.
		deadline := time.Now().Add(3 * minRefetch)
		for r.post(t, fresh, "").StatusCode != 200 {
			if time.Now().After(deadline) {
				t.Fatal("a token signed with the new key is still refused")
			}
			time.Sleep(200 * time.Millisecond)
		}
		if resp := r.post(t, old, ""); resp.StatusCode != 200 {
			t.Errorf("a token signed before the rotation: %d", resp.StatusCode)
		}
	})

	t.Run("tokens issued before the provider went down work until they expire", func(t *testing.T) {
		long := r.idp.Token(t, "agent-2", "db:read", "")
		short := r.idp.Token(t, "agent-short", "db:read", "")
		exp := expiry(t, short)
		r.idp.Stop()
		cs := r.session(t, long)
		if got, want := rowCount(t, cs, "query_customers", map[string]any{"limit": 1000, "columns": []string{"id"}}), r.customersOf(t, "2"); got != want {
			t.Errorf("after the provider stopped: %d customers, want %d", got, want)
		}
		// An unknown kid makes pgmoat try the provider, which fails; the
		// last good keys stay, and it says so.
		deadline := time.Now().Add(3 * minRefetch)
		for !strings.Contains(r.showConfig(t)["mcp.jwt.keys"], "serving the last good keys") {
			if time.Now().After(deadline) {
				t.Fatalf("SHOW CONFIG mcp.jwt.keys: %q", r.showConfig(t)["mcp.jwt.keys"])
			}
			r.post(t, forge(t, oidc.NewKey(t, "ES256", "after-stop"), jose.ES256, with(nil)), "")
			time.Sleep(200 * time.Millisecond)
		}
		if !strings.Contains(r.log.String(), "keeping the last good keys") {
			t.Error("the log does not say the key set fetch failed")
		}
		if out, _, _ := pgmoat(t, "", "doctor", "--config", r.config); !strings.Contains(out, "[warn] oauth.discovery") {
			t.Errorf("doctor with the provider down:\n%s", out)
		}
		if auth := r.showConfig(t)["mcp.auth"]; !strings.Contains(auth, "keys discovered from "+r.idp.Issuer) || strings.Contains(auth, clientSecret) {
			t.Errorf("SHOW CONFIG mcp.auth: %q", auth)
		}
		for time.Now().Before(exp) {
			status := r.post(t, short, "").StatusCode
			if status != 200 && time.Now().Before(exp) {
				t.Fatalf("the short token was refused (%d) before it expired", status)
			}
			time.Sleep(250 * time.Millisecond) // samples the token's lifetime; orders nothing
		}
		if resp := r.post(t, short, ""); resp.StatusCode != 401 {
			t.Errorf("the short token after its exp: %d", resp.StatusCode)
		}
	})
}

// inspectorSignIn runs the Inspector CLI with args through the OAuth
// browser flow as the provider's authorization-code client "inspector",
// playing the browser on the URL it prints, and returns that URL and the
// CLI's stdout once it is done.
func inspectorSignIn(t *testing.T, cli *inspector.CLI, r *oauthRig, args ...string) (*url.URL, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := cli.BrowserCommand(ctx, append([]string{r.mcpURL, "--client-id", "inspector", "--client-secret", clientSecret,
		"--callback-url", r.callback}, args...)...)
	var stdout strings.Builder
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var said strings.Builder
	var authorize *url.URL
	sc := bufio.NewScanner(stderr)
	sc.Buffer(nil, 1<<20)
	for authorize == nil && sc.Scan() {
		said.WriteString(sc.Text() + "\n")
		if u, ok := strings.CutPrefix(sc.Text(), "Please navigate to: "); ok {
			if authorize, err = url.Parse(strings.TrimSpace(u)); err != nil {
				t.Fatalf("authorization URL %q: %v", u, err)
			}
		}
	}
	if authorize == nil {
		_ = cmd.Wait()
		t.Fatalf("the Inspector printed no authorization URL:\n%s%s", said.String(), stdout.String())
	}
	back, resp := r.idp.Browse(t, authorize.String())
	body, _ := io.ReadAll(resp.Body)
	if back.Query().Get("code") == "" || resp.StatusCode != http.StatusOK {
		t.Errorf("the provider sent the browser to %s; the Inspector answered %s\n%.500s", back, resp.Status, body)
	}
	go func() { _, _ = io.Copy(&said, stderr) }()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("inspector after signing in: %v\n%s%s", err, said.String(), stdout.String())
	}
	return authorize, stdout.String()
}

// customerIDs is the first n customer ids RLS shows user.
func (r *oauthRig) customerIDs(t *testing.T, user string, n int) []int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, cluster.DSNFor(shop.ReaderRole, shop.DefaultReaderPassword, r.db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT set_config('request.user_id', $1, false)", user); err != nil {
		t.Fatal(err)
	}
	rows, _ := conn.Query(ctx, "SELECT id FROM customers ORDER BY id LIMIT $1", n)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// exitCode is a finished command's exit status (-1 when it did not exit).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

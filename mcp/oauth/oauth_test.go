package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const aud = "https://db.example/mcp"

// jwksServer publishes keys; fail makes it answer 500.
type jwksServer struct {
	*httptest.Server
	hits atomic.Int32
	fail atomic.Bool
	keys atomic.Pointer[jose.JSONWebKeySet]
}

func newJWKSServer(t *testing.T, keys ...jose.JSONWebKey) *jwksServer {
	s := &jwksServer{}
	set := jose.JSONWebKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.Public())
	}
	s.keys.Store(&set)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if s.fail.Load() {
			http.Error(w, "down", 500)
			return
		}
		_ = json.NewEncoder(w).Encode(s.keys.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

func rsaJWK(t *testing.T, kid string) jose.JSONWebKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return jose.JSONWebKey{Key: k, KeyID: kid, Use: "sig"}
}

func sign(t *testing.T, k jose.JSONWebKey, alg jose.SignatureAlgorithm, claims map[string]any) string {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: k}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func claims(extra ...any) map[string]any {
	c := map[string]any{"iss": "https://id.example", "aud": aud, "sub": "7", "exp": time.Now().Add(time.Hour).Unix()}
	for i := 0; i < len(extra); i += 2 {
		c[extra[i].(string)] = extra[i+1]
	}
	return c
}

func started(t *testing.T, o KeySetOptions) *KeySet {
	ks := NewKeySet(o)
	ks.Start(context.Background())
	t.Cleanup(ks.Close)
	return ks
}

func TestVerifierRefuses(t *testing.T) {
	key := rsaJWK(t, "k1")
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srv := newJWKSServer(t, key)
	v, err := NewVerifier(VerifierOptions{Keys: started(t, KeySetOptions{URL: srv.URL}), Issuer: "https://id.example", Audience: aud, Leeway: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	hs := func(secret []byte) string {
		enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
		in := enc(map[string]any{"alg": "HS256", "kid": "k1"}) + "." + enc(claims())
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(in))
		return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	pub := key.Key.(*rsa.PrivateKey).PublicKey.N.Bytes()
	for _, c := range []struct {
		name, token, want string
	}{
		{"valid", sign(t, key, jose.RS256, claims()), ""},
		{"PS256 on the same RSA key", sign(t, key, jose.PS256, claims()), ""},
		{"within the leeway", sign(t, key, jose.RS256, claims("exp", time.Now().Add(-30*time.Second).Unix())), ""},
		{"expired", sign(t, key, jose.RS256, claims("exp", time.Now().Add(-2*time.Minute).Unix())), "expired"},
		{"not yet valid", sign(t, key, jose.RS256, claims("nbf", time.Now().Add(2*time.Minute).Unix())), "not valid yet"},
		{"no exp", sign(t, key, jose.RS256, claims("exp", nil)), "exp is missing"},
		{"wrong issuer", sign(t, key, jose.RS256, claims("iss", "https://evil.example")), "iss"},
		{"wrong audience", sign(t, key, jose.RS256, claims("aud", "https://other.example/mcp")), "aud"},
		{"alg none", strings.Join([]string{"eyJhbGciOiJub25lIiwia2lkIjoiazEifQ", strings.Split(sign(t, key, jose.RS256, claims()), ".")[1], ""}, "."), "not a JWT signed with"},
		{"HS256 keyed with the public modulus", hs(pub), "not a JWT signed with"},
		{"ES256 claiming the RSA key's kid", sign(t, jose.JSONWebKey{Key: ec, KeyID: "k1"}, jose.ES256, claims()), "not in the provider's key set"},
		{"unknown key", sign(t, rsaJWK(t, "k2"), jose.RS256, claims()), "not in the provider's key set"},
	} {
		_, _, err := v.Verify(context.Background(), c.token)
		var e *Error
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !errors.As(err, &e) || e.Status != 401 || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want a 401 mentioning %q", c.name, err, c.want)
		}
	}
}

func TestKeySetRefetchIsRateLimitedAndKeepsLastGoodKeys(t *testing.T) {
	key := rsaJWK(t, "k1")
	srv := newJWKSServer(t, key)
	ks := started(t, KeySetOptions{URL: srv.URL, Refetch: time.Hour})
	for range 50 {
		if _, err := ks.Key(context.Background(), "bogus", jose.RS256); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("bogus kid: %v", err)
		}
	}
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("50 unknown kids within the refetch interval: %d fetches, want only the start's", n)
	}
	srv.fail.Store(true)
	if err := ks.refetch(context.Background(), true); err == nil {
		t.Fatal("a failing provider fetched fine")
	}
	if _, err := ks.Key(context.Background(), "k1", jose.RS256); err != nil {
		t.Errorf("the last good key is gone: %v", err)
	}
	if s := ks.Status().String(); !strings.Contains(s, "last fetch failed") || !strings.Contains(s, "serving the last good keys") {
		t.Errorf("status: %s", s)
	}
}

func TestKeySetFetchesOnRotation(t *testing.T) {
	k1, k2 := rsaJWK(t, "k1"), rsaJWK(t, "k2")
	srv := newJWKSServer(t, k1)
	ks := started(t, KeySetOptions{URL: srv.URL, Refetch: time.Nanosecond})
	srv.keys.Store(&jose.JSONWebKeySet{Keys: []jose.JSONWebKey{k2.Public(), k1.Public()}})
	if _, err := ks.Key(context.Background(), "k2", jose.RS256); err != nil {
		t.Errorf("the rotated-in key: %v", err)
	}
}

func TestMappingPicksTheMostRestrictiveProfile(t *testing.T) {
	rank := map[string]int{"readonly": 1, "analyst": 2}
	m := Mapping{ScopeProfiles: map[string]string{"db:read": "readonly", "db:analyst": "analyst"},
		MoreRestrictive: func(a, b string) bool { return rank[a] < rank[b] }}
	for _, c := range []struct {
		claims Claims
		want   string
	}{
		{Claims{"sub": "1", "scope": "db:analyst db:read"}, "readonly"},
		{Claims{"sub": "1", "scope": "openid db:analyst"}, "analyst"},
		{Claims{"sub": "1", "scp": []any{"db:analyst"}}, "analyst"},
		{Claims{"sub": "1", "scope": "openid"}, "insufficient_scope"},
		{Claims{"scope": "db:read"}, "invalid_token"},
	} {
		id, err := m.Identity(c.claims)
		got := id.Profile
		if err != nil {
			got = AsError(err).Code
		}
		if got != c.want {
			t.Errorf("%v: %q, want %q", c.claims, got, c.want)
		}
	}
}

func TestChallengeAndMetadataURL(t *testing.T) {
	r := Resource{URL: "https://db.example/mcp", Scopes: []string{"db:read"}}
	if got := r.MetadataURL(); got != "https://db.example/.well-known/oauth-protected-resource/mcp" {
		t.Errorf("metadata URL %s", got)
	}
	got := r.Challenge(InvalidToken(`kid "x\y" unknown`))
	want := `Bearer resource_metadata="https://db.example/.well-known/oauth-protected-resource/mcp", error="invalid_token", error_description="kid \"x\\y\" unknown", scope="db:read"`
	if got != want {
		t.Errorf("challenge\n got %s\nwant %s", got, want)
	}
	urls, _ := MetadataURLs("https://id.example/tenant")
	if strings.Join(urls, " ") != "https://id.example/tenant/.well-known/openid-configuration https://id.example/.well-known/oauth-authorization-server/tenant https://id.example/.well-known/openid-configuration/tenant" {
		t.Errorf("metadata URLs %v", urls)
	}
}

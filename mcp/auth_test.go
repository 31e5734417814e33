package mcp_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/policy"
)

func pemOf(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// whoami answers with the identity the middleware attached.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	ti := auth.TokenInfoFromContext(r.Context())
	id, _ := ti.Extra["pgmoat.identity"].(policy.Identity)
	_, _ = w.Write([]byte(id.UserID + "/" + id.Profile))
})

func status(t *testing.T, h http.Handler, token string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func TestBearerTokensAndJWTs(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	secret := []byte("0123456789abcdef0123456789abcdef")
	future, past := time.Now().Add(time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
	claims := func(exp int64, extra ...any) jwt.MapClaims {
		c := jwt.MapClaims{"sub": "42", "aud": "pgmoat", "iss": "https://id.test", "exp": exp}
		for i := 0; i+1 < len(extra); i += 2 {
			c[extra[i].(string)] = extra[i+1]
		}
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	hs := sign(jwt.SigningMethodHS256, secret, claims(future, "role", "analyst"))
	cases := []struct {
		name  string
		jwt   mcp.JWTOptions
		token string
		code  int
		who   string
	}{
		{"static token", mcp.JWTOptions{Secret: secret}, "alice-token", 200, "1/readonly"},
		{"unknown static token", mcp.JWTOptions{Secret: secret}, "alice-tokeN", 401, ""},
		{"no token", mcp.JWTOptions{Secret: secret}, "", 401, ""},
		{"HS256 with profile claim", mcp.JWTOptions{Secret: secret, Audience: "pgmoat", Issuer: "https://id.test", ProfileClaim: "role", Profile: "readonly"}, hs, 200, "42/analyst"},
		{"HS256 expired", mcp.JWTOptions{Secret: secret}, sign(jwt.SigningMethodHS256, secret, claims(past)), 401, ""},
		{"HS256 not yet valid", mcp.JWTOptions{Secret: secret}, sign(jwt.SigningMethodHS256, secret, claims(future, "nbf", future)), 401, ""},
		{"HS256 wrong issuer", mcp.JWTOptions{Secret: secret, Issuer: "https://other.test"}, hs, 401, ""},
		{"HS256 wrong audience", mcp.JWTOptions{Secret: secret, Audience: "other"}, hs, 401, ""},
		{"HS256 token against an RSA key", mcp.JWTOptions{PublicKeyPEM: pemOf(t, &rsaKey.PublicKey)}, hs, 401, ""},
		{"RS256", mcp.JWTOptions{PublicKeyPEM: pemOf(t, &rsaKey.PublicKey), Profile: "readonly"}, sign(jwt.SigningMethodRS256, rsaKey, claims(future)), 200, "42/readonly"},
		{"ES256", mcp.JWTOptions{PublicKeyPEM: pemOf(t, &ecKey.PublicKey), Profile: "readonly"}, sign(jwt.SigningMethodES256, ecKey, claims(future)), 200, "42/readonly"},
		{"alg none", mcp.JWTOptions{Secret: secret}, sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(future)), 401, ""},
		{"numeric user claim", mcp.JWTOptions{Secret: secret, UserClaim: "uid", Profile: "readonly"}, sign(jwt.SigningMethodHS256, secret, claims(future, "uid", 7)), 200, "7/readonly"},
		{"missing user claim", mcp.JWTOptions{Secret: secret, UserClaim: "uid"}, hs, 401, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := c.jwt
			a, err := mcp.NewAuthenticator(mcp.AuthOptions{
				Tokens: map[string]policy.Identity{"alice-token": {UserID: "1", Profile: "readonly"}},
				JWT:    &j,
			})
			if err != nil {
				t.Fatal(err)
			}
			code, body := status(t, a.Middleware(whoami), c.token)
			if code != c.code || (c.code == 200 && body != c.who) {
				t.Errorf("got %d %q, want %d %q", code, body, c.code, c.who)
			}
		})
	}
}

func TestAnonymousIsOptIn(t *testing.T) {
	closed, _ := mcp.NewAuthenticator(mcp.AuthOptions{})
	if code, _ := status(t, closed.Middleware(whoami), ""); code != 401 {
		t.Errorf("no tokens configured, no token sent: %d", code)
	}
	open, _ := mcp.NewAuthenticator(mcp.AuthOptions{Anonymous: &policy.Identity{UserID: "9", Profile: "readonly"}})
	if code, who := status(t, open.Middleware(whoami), ""); code != 200 || who != "9/readonly" {
		t.Errorf("anonymous: %d %q", code, who)
	}
	if code, _ := status(t, open.Middleware(whoami), "guess"); code != 401 {
		t.Errorf("anonymous on, wrong token: %d", code)
	}
}

func TestAuthenticatorRefusesWeakSettings(t *testing.T) {
	for name, o := range map[string]mcp.AuthOptions{
		"short token":   {Tokens: map[string]policy.Identity{"abc": {UserID: "1"}}},
		"short secret":  {JWT: &mcp.JWTOptions{Secret: []byte("short")}},
		"no key":        {JWT: &mcp.JWTOptions{}},
		"both keys":     {JWT: &mcp.JWTOptions{Secret: make([]byte, 32), PublicKeyPEM: []byte("x")}},
		"not a PEM key": {JWT: &mcp.JWTOptions{PublicKeyPEM: []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")}},
	} {
		if _, err := mcp.NewAuthenticator(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

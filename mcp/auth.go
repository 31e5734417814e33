package mcp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/pgmoat/pgmoat/policy"
)

// AuthOptions say who may call over HTTP. The zero value lets nobody in.
type AuthOptions struct {
	// Tokens maps static bearer tokens to identities. They are kept only
	// as SHA-256 hashes and compared in constant time.
	Tokens map[string]policy.Identity
	// JWT, when set, also accepts signed JSON Web Tokens.
	JWT *JWTOptions
	// Anonymous, when set, is the identity of requests that carry no
	// Authorization header at all. It is an explicit opt-in for
	// single-user local set-ups; a request with a bad token is still
	// refused.
	Anonymous *policy.Identity
}

// JWTOptions configure JWT bearer tokens. Exactly one of Secret (HS256)
// and PublicKeyPEM (RS256 for an RSA key, ES256 for a P-256 key) is set.
type JWTOptions struct {
	Secret       []byte
	PublicKeyPEM []byte
	// Issuer and Audience, when set, must match iss and aud.
	Issuer   string
	Audience string
	// UserClaim holds the user id; "" means "sub".
	UserClaim string
	// ProfileClaim, when set, names a claim holding the profile; Profile
	// applies when it is empty or absent.
	ProfileClaim string
	Profile      string
	// Leeway tolerates clock skew on exp and nbf.
	Leeway time.Duration
}

// Authenticator verifies bearer tokens for the HTTP transport.
type Authenticator struct {
	tokens    []hashedToken
	jwt       *jwtVerifier
	anonymous *policy.Identity
	// anonToken stands in for the missing token of an anonymous request,
	// so that it passes the SDK's bearer middleware like any other; it is
	// random and never leaves the process.
	anonToken string
}

type hashedToken struct {
	hash [sha256.Size]byte
	id   policy.Identity
}

// NewAuthenticator checks opts and prepares the verifiers.
func NewAuthenticator(opts AuthOptions) (*Authenticator, error) {
	a := &Authenticator{anonymous: opts.Anonymous}
	for tok, id := range opts.Tokens {
		if len(tok) < 8 {
			return nil, errors.New("mcp: bearer tokens must be at least 8 characters long")
		}
		a.tokens = append(a.tokens, hashedToken{hash: sha256.Sum256([]byte(tok)), id: id})
	}
	if opts.JWT != nil {
		v, err := newJWTVerifier(*opts.JWT)
		if err != nil {
			return nil, err
		}
		a.jwt = v
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	a.anonToken = "anon." + hex.EncodeToString(b[:])
	return a, nil
}

// Verify is an auth.TokenVerifier.
func (a *Authenticator) Verify(_ context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
	if a.anonymous != nil && subtle.ConstantTimeCompare([]byte(token), []byte(a.anonToken)) == 1 {
		return tokenInfo(*a.anonymous, time.Time{}), nil
	}
	if id, ok := a.static(token); ok {
		return tokenInfo(id, time.Time{}), nil
	}
	if a.jwt != nil && strings.Count(token, ".") == 2 {
		id, exp, err := a.jwt.verify(token)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", auth.ErrInvalidToken, err)
		}
		return tokenInfo(id, exp), nil
	}
	return nil, fmt.Errorf("%w: unknown bearer token", auth.ErrInvalidToken)
}

// static looks the token up without leaking, through timing, which
// stored hash it resembles: every entry is compared.
func (a *Authenticator) static(token string) (policy.Identity, bool) {
	h := sha256.Sum256([]byte(token))
	var found policy.Identity
	match := 0
	for _, t := range a.tokens {
		if subtle.ConstantTimeCompare(h[:], t.hash[:]) == 1 {
			found, match = t.id, 1
		}
	}
	return found, match == 1
}

func tokenInfo(id policy.Identity, exp time.Time) *auth.TokenInfo {
	return &auth.TokenInfo{
		// UserID binds an HTTP session to its caller: the SDK refuses a
		// session id presented with another caller's token.
		UserID:     id.UserID + "\x00" + id.Profile,
		Expiration: exp,
		Extra:      map[string]any{identityKey: id},
	}
}

// Middleware wraps next with bearer-token authentication: 401 with a
// WWW-Authenticate header for a missing or bad token, the caller attached
// to the request otherwise.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	protected := auth.RequireBearerToken(a.Verify, &auth.RequireBearerTokenOptions{AllowMissingExpiration: true})(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.anonymous != nil && r.Header.Get("Authorization") == "" {
			r = r.Clone(r.Context())
			r.Header.Set("Authorization", "Bearer "+a.anonToken)
		}
		protected.ServeHTTP(challenge{w}, r)
	})
}

// challenge adds the RFC 6750 challenge to a 401 that lacks one, so that
// clients know a bearer token is what to send, and ends the connection
// after a 401 without reading any of the body: net/http would otherwise
// read what is left of it after answering, to reuse the connection, and
// a caller without a valid token that never finishes its body would hold
// the connection (a descriptor) for as long as it liked.
type challenge struct{ http.ResponseWriter }

func (c challenge) WriteHeader(code int) {
	if code == http.StatusUnauthorized {
		if c.Header().Get("WWW-Authenticate") == "" {
			c.Header().Set("WWW-Authenticate", `Bearer realm="pgmoat"`)
		}
		c.Header().Set("Connection", "close")
		// The deadline fails that last read at once; the answer is
		// written before it.
		_ = http.NewResponseController(c.ResponseWriter).SetReadDeadline(time.Now())
	}
	c.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the real writer (flushing
// event streams).
func (c challenge) Unwrap() http.ResponseWriter { return c.ResponseWriter }

type jwtVerifier struct {
	parser *jwt.Parser
	key    any
	opts   JWTOptions
}

func newJWTVerifier(o JWTOptions) (*jwtVerifier, error) {
	if (len(o.Secret) == 0) == (len(o.PublicKeyPEM) == 0) {
		return nil, errors.New("mcp: jwt needs exactly one of a shared secret (HS256) and a public key (RS256/ES256)")
	}
	if o.UserClaim == "" {
		o.UserClaim = "sub"
	}
	v := &jwtVerifier{opts: o}
	var method string
	switch {
	case len(o.Secret) > 0:
		if len(o.Secret) < 32 {
			return nil, errors.New("mcp: the jwt secret must be at least 32 bytes long")
		}
		v.key, method = o.Secret, "HS256"
	default:
		if k, err := jwt.ParseRSAPublicKeyFromPEM(o.PublicKeyPEM); err == nil {
			v.key, method = k, "RS256"
		} else if k, err := jwt.ParseECPublicKeyFromPEM(o.PublicKeyPEM); err == nil {
			v.key, method = k, "ES256"
		} else {
			return nil, errors.New("mcp: the jwt public key is neither an RSA nor an EC public key in PEM form")
		}
	}
	popts := []jwt.ParserOption{jwt.WithValidMethods([]string{method}), jwt.WithExpirationRequired(),
		jwt.WithLeeway(o.Leeway), jwt.WithJSONNumber()}
	if o.Issuer != "" {
		popts = append(popts, jwt.WithIssuer(o.Issuer))
	}
	if o.Audience != "" {
		popts = append(popts, jwt.WithAudience(o.Audience))
	}
	v.parser = jwt.NewParser(popts...)
	return v, nil
}

func (v *jwtVerifier) verify(token string) (policy.Identity, time.Time, error) {
	claims := jwt.MapClaims{}
	if _, err := v.parser.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return v.key, nil }); err != nil {
		return policy.Identity{}, time.Time{}, err
	}
	user := claimText(claims[v.opts.UserClaim])
	if user == "" {
		return policy.Identity{}, time.Time{}, fmt.Errorf("claim %q (the user id) is missing", v.opts.UserClaim)
	}
	id := policy.Identity{UserID: user, Profile: v.opts.Profile}
	if v.opts.ProfileClaim != "" {
		if p := claimText(claims[v.opts.ProfileClaim]); p != "" {
			id.Profile = p
		}
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return policy.Identity{}, time.Time{}, errors.New("exp is missing")
	}
	return id, exp.Time, nil
}

func claimText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	return ""
}

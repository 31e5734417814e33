package mcp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/pgmoat/pgmoat/mcp/oauth"
	"github.com/pgmoat/pgmoat/policy"
)

// AuthOptions say who may call over HTTP. The zero value lets nobody in.
type AuthOptions struct {
	// Tokens maps static bearer tokens to identities. They are kept only
	// as SHA-256 hashes and compared in constant time.
	Tokens map[string]policy.Identity
	// JWT, when set, also accepts signed JSON Web Tokens: with a shared
	// secret, a public key, or the keys of an OAuth provider.
	JWT *JWTOptions
	// Introspection, when set, accepts opaque access tokens the provider
	// vouches for (RFC 7662). Their claims map to identities as JWT's do.
	Introspection *oauth.IntrospectorOptions
	// Resource, when set, makes the HTTP door an OAuth 2.1 protected
	// resource: RFC 9728 metadata served beside Path, and every refusal's
	// challenge naming it.
	Resource *oauth.Resource
	// ToolScopes lists, per tool name, the scopes a tools/call of it
	// needs. They bind tokens from a provider (JWT and introspected);
	// static tokens and the anonymous identity are configured callers and
	// are not scoped.
	ToolScopes map[string][]string
	// Anonymous, when set, is the identity of requests that carry no
	// Authorization header at all. It is an explicit opt-in for
	// single-user local set-ups; a request with a bad token is still
	// refused.
	Anonymous *policy.Identity
	// Client makes the requests to the provider; nil means a client with
	// a 10s timeout.
	Client *http.Client
	Logger *slog.Logger
}

// JWTOptions configure JWT bearer tokens. At most one key source is set:
// Secret (HS256), PublicKeyPEM (RS256 for an RSA key, ES256 for a P-256
// key) or JWKSURL (the provider's keys, RS256/PS256/ES256/EdDSA). With
// none of them and an Issuer, the key set is found through the issuer's
// metadata (OpenID Connect discovery, RFC 8414).
type JWTOptions struct {
	Secret       []byte
	PublicKeyPEM []byte
	JWKSURL      string
	// Issuer and Audience, when set, must match iss and aud. With a
	// provider's keys, Audience is required (RFC 8707: the token names
	// this resource).
	Issuer   string
	Audience string
	// Algorithms restricts a provider's algorithms; nil means
	// oauth.DefaultAlgorithms.
	Algorithms []string
	// KeyRefresh and KeyRefetch pace the key set's fetches (see
	// oauth.KeySetOptions).
	KeyRefresh, KeyRefetch time.Duration
	// UserClaim holds the user id; "" means "sub".
	UserClaim string
	// ScopeProfiles maps scopes (or ProfileClaim's values) to profiles;
	// the most restrictive match wins (MoreRestrictive orders them) and a
	// token that matches none is refused with 403 insufficient_scope.
	ScopeProfiles   map[string]string
	MoreRestrictive func(a, b string) bool
	// ProfileClaim, when set, names a claim holding the profile; Profile
	// applies when it is empty or absent.
	ProfileClaim string
	Profile      string
	// Leeway tolerates clock skew on exp and nbf.
	Leeway time.Duration
}

// Provider says whether the keys come from an OAuth provider.
func (o *JWTOptions) Provider() bool {
	return len(o.Secret) == 0 && len(o.PublicKeyPEM) == 0 && (o.JWKSURL != "" || o.Issuer != "")
}

func (o *JWTOptions) mapping() oauth.Mapping {
	return oauth.Mapping{UserClaim: o.UserClaim, ScopeProfiles: o.ScopeProfiles, MoreRestrictive: o.MoreRestrictive,
		ProfileClaim: o.ProfileClaim, Profile: o.Profile}
}

// Authenticator verifies bearer tokens for the HTTP transport.
type Authenticator struct {
	tokens    []hashedToken
	jwt       *jwtVerifier // a shared secret or one public key
	keys      *oauth.KeySet
	provider  *oauth.Verifier // a provider's key set
	introspec *oauth.Introspector
	mapping   oauth.Mapping
	leeway    time.Duration
	resource  oauth.Resource // zero when not a protected resource
	scopes    map[string][]string
	anonymous *policy.Identity
	log       *slog.Logger
	// anonToken stands in for the missing token of an anonymous request,
	// so that it passes the SDK's bearer middleware like any other; it is
	// random and never leaves the process.
	anonToken string
}

type hashedToken struct {
	hash [sha256.Size]byte
	id   policy.Identity
}

// NewAuthenticator checks opts and prepares the verifiers. With a
// provider's key set it fetches the keys once before returning (a
// provider that does not answer is logged and retried, not fatal); Close
// stops their refreshing.
func NewAuthenticator(opts AuthOptions) (*Authenticator, error) {
	a := &Authenticator{anonymous: opts.Anonymous, scopes: opts.ToolScopes, mapping: oauth.Mapping{Profile: policy.DefaultProfile},
		log: opts.Logger}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	for tok, id := range opts.Tokens {
		if len(tok) < 8 {
			return nil, errors.New("mcp: bearer tokens must be at least 8 characters long")
		}
		a.tokens = append(a.tokens, hashedToken{hash: sha256.Sum256([]byte(tok)), id: id})
	}
	if opts.Resource != nil {
		a.resource = *opts.Resource
	}
	if err := a.setJWT(opts); err != nil {
		return nil, err
	}
	if opts.Introspection != nil {
		in, err := oauth.NewIntrospector(*opts.Introspection)
		if err != nil {
			return nil, err
		}
		a.introspec = in
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	a.anonToken = "anon." + hex.EncodeToString(b[:])
	return a, nil
}

// setJWT prepares the JWT verifier opts.JWT asks for.
func (a *Authenticator) setJWT(opts AuthOptions) error {
	j := opts.JWT
	if j == nil {
		return nil
	}
	a.mapping, a.leeway = j.mapping(), j.Leeway
	if !j.Provider() {
		v, err := newJWTVerifier(*j)
		a.jwt = v
		return err
	}
	algs, err := oauth.ParseAlgorithms(j.Algorithms)
	if err != nil {
		return fmt.Errorf("mcp: jwt: %w", err)
	}
	ko := oauth.KeySetOptions{URL: j.JWKSURL, Client: opts.Client, Refresh: j.KeyRefresh, Refetch: j.KeyRefetch, Logger: opts.Logger}
	if j.JWKSURL == "" {
		issuer, client := j.Issuer, opts.Client
		if client == nil {
			client = &http.Client{Timeout: 10 * time.Second}
		}
		ko.Locate = func(ctx context.Context) (string, error) {
			m, err := oauth.Discover(ctx, client, issuer)
			if err != nil {
				return "", err
			}
			if m.JWKSURI == "" {
				return "", fmt.Errorf("the metadata of %s has no jwks_uri", issuer)
			}
			return m.JWKSURI, nil
		}
	}
	a.keys = oauth.NewKeySet(ko)
	a.provider, err = oauth.NewVerifier(oauth.VerifierOptions{Keys: a.keys, Algorithms: algs, Issuer: j.Issuer,
		Audience: j.Audience, Leeway: j.Leeway})
	if err != nil {
		return fmt.Errorf("mcp: jwt: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	a.keys.Start(ctx)
	return nil
}

// Close stops the key set's refreshing.
func (a *Authenticator) Close() {
	if a.keys != nil {
		a.keys.Close()
	}
}

// Keys reports the provider's key set, when the keys come from one.
func (a *Authenticator) Keys() (oauth.KeyStatus, bool) {
	if a.keys == nil {
		return oauth.KeyStatus{}, false
	}
	return a.keys.Status(), true
}

// Verify is an auth.TokenVerifier.
func (a *Authenticator) Verify(ctx context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
	info, err := a.check(ctx, token)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", auth.ErrInvalidToken, err)
	}
	return info, nil
}

// check verifies token; a refusal is an *oauth.Error.
func (a *Authenticator) check(ctx context.Context, token string) (*auth.TokenInfo, error) {
	if a.anonymous != nil && subtle.ConstantTimeCompare([]byte(token), []byte(a.anonToken)) == 1 {
		return tokenInfo(*a.anonymous, time.Time{}, nil), nil
	}
	if id, ok := a.static(token); ok {
		return tokenInfo(id, time.Time{}, nil), nil
	}
	var (
		claims oauth.Claims
		exp    time.Time
		err    error
	)
	switch {
	case a.jwt != nil && strings.Count(token, ".") == 2:
		claims, exp, err = a.jwt.verify(token)
		if err != nil {
			err = oauth.InvalidToken("%v", err)
		}
	case a.provider != nil && strings.Count(token, ".") == 2:
		claims, exp, err = a.provider.Verify(ctx, token)
	case a.introspec != nil:
		claims, exp, err = a.introspec.Verify(ctx, token)
	default:
		return nil, oauth.InvalidToken("unknown bearer token")
	}
	if err != nil {
		return nil, err
	}
	id, err := a.mapping.Identity(claims)
	if err != nil {
		return nil, err
	}
	scopes := oauth.Scopes(claims)
	if scopes == nil {
		scopes = []string{}
	}
	return tokenInfo(id, exp, scopes), nil
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

// tokenInfo carries the identity to the tool handlers. scopes is nil for
// the configured callers (static tokens, anonymous), which ToolScopes do
// not bind, and non-nil for tokens from a provider.
func tokenInfo(id policy.Identity, exp time.Time, scopes []string) *auth.TokenInfo {
	return &auth.TokenInfo{
		// UserID binds an HTTP session to its caller: the SDK refuses a
		// session id presented with another caller's token.
		UserID:     id.UserID + "\x00" + id.Profile,
		Expiration: exp,
		Scopes:     scopes,
		Extra:      map[string]any{identityKey: id},
	}
}

type verifiedKey struct{}

// Middleware wraps next with bearer-token authentication: a missing or
// bad token gets 401, a token without the scopes a profile needs 403,
// each with a WWW-Authenticate challenge that names the resource
// metadata when there is one; the caller is attached to the request
// otherwise.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	// The SDK's middleware puts the caller where its session handling
	// looks; it is handed the caller checked below.
	attach := auth.RequireBearerToken(func(_ context.Context, _ string, r *http.Request) (*auth.TokenInfo, error) {
		if info, ok := r.Context().Value(verifiedKey{}).(*auth.TokenInfo); ok {
			return info, nil
		}
		return nil, auth.ErrInvalidToken
	}, &auth.RequireBearerTokenOptions{AllowMissingExpiration: true, ClockSkew: a.leeway})(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r)
		if !ok && a.anonymous != nil && r.Header.Get("Authorization") == "" {
			token, ok = a.anonToken, true
		}
		if !ok {
			a.refuse(w, &oauth.Error{Status: http.StatusUnauthorized, Description: "no bearer token"})
			return
		}
		info, err := a.check(r.Context(), token)
		if err != nil {
			a.refuse(w, oauth.AsError(err))
			return
		}
		r = r.Clone(context.WithValue(r.Context(), verifiedKey{}, info))
		r.Header.Set("Authorization", "Bearer "+token)
		attach.ServeHTTP(challenge{w, a}, r)
	})
}

// bearerToken reads an RFC 6750 Authorization header.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

// refuse answers a refused token: the status, the challenge, and the
// connection ended without reading any of the body: net/http would
// otherwise read what is left of it after answering, to reuse the
// connection, and a caller without a valid token that never finishes its
// body would hold the connection (a descriptor) for as long as it liked.
func (a *Authenticator) refuse(w http.ResponseWriter, e *oauth.Error) {
	if e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden {
		w.Header().Set("WWW-Authenticate", a.resource.Challenge(e))
	} else {
		a.log.Warn("MCP request refused: the provider could not vouch for its token", "status", e.Status, "error", e.Description)
	}
	endAfterAnswer(w)
	http.Error(w, "pgmoat: "+e.Error(), e.Status)
}

func endAfterAnswer(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	// The deadline fails that last read at once; the answer is written
	// before it.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now())
}

// challenge gives a 401 written further in (the SDK's own checks) the
// same challenge and connection handling as refuse.
type challenge struct {
	http.ResponseWriter
	a *Authenticator
}

func (c challenge) WriteHeader(code int) {
	if code == http.StatusUnauthorized {
		c.Header().Set("WWW-Authenticate", c.a.resource.Challenge(oauth.InvalidToken("token expired")))
		endAfterAnswer(c.ResponseWriter)
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
		return nil, errors.New("mcp: jwt needs one key source: a shared secret (HS256), a public key (RS256/ES256), a jwks_url or an issuer to discover the keys from")
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

func (v *jwtVerifier) verify(token string) (oauth.Claims, time.Time, error) {
	claims := jwt.MapClaims{}
	if _, err := v.parser.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return v.key, nil }); err != nil {
		return nil, time.Time{}, err
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return nil, time.Time{}, errors.New("exp is missing")
	}
	return oauth.Claims(claims), exp.Time, nil
}

// serveMetadata serves the RFC 9728 document at the bare well-known path
// and the ones suffixed with Path and the public URL's path.
func (a *Authenticator) serveMetadata(mux *http.ServeMux) {
	if a.resource.URL == "" {
		return
	}
	h := a.resource.Handler()
	for _, p := range a.resource.MetadataPaths(Path) {
		mux.Handle(p, h)
	}
}

// StatusRows are SHOW CONFIG's live rows: the provider's keys in use and
// whether the last fetch failed.
func (a *Authenticator) StatusRows() [][2]string {
	ks, ok := a.Keys()
	if !ok {
		return nil
	}
	return [][2]string{{"mcp.jwt.keys", ks.String()}}
}

package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Introspection defaults.
const (
	// DefaultIntrospectionCache is how long an introspection answer is
	// reused: short, since revoking a token at the provider takes effect
	// here only after it.
	DefaultIntrospectionCache = 30 * time.Second
	introspectionCacheSize    = 10000
)

// IntrospectorOptions configure an Introspector.
type IntrospectorOptions struct {
	// URL is the provider's introspection endpoint (RFC 7662).
	URL string
	// ClientID and ClientSecret authenticate pgmoat to it (HTTP Basic).
	ClientID, ClientSecret string
	// Issuer, when set, must equal the answer's iss when it has one.
	Issuer string
	// Audience must be among the answer's aud when it has one.
	Audience string
	// CacheTTL defaults to DefaultIntrospectionCache.
	CacheTTL time.Duration
	Client   *http.Client
}

// Introspector asks the provider about opaque tokens, caching each answer
// (active or not) for CacheTTL and never past the token's exp. The cache
// is keyed by the token's SHA-256, so it holds no token.
type Introspector struct {
	opts  IntrospectorOptions
	cache *lru.Cache[[sha256.Size]byte, introspected]
	// flight makes concurrent first uses of one token share one request.
	mu     sync.Mutex
	flight map[[sha256.Size]byte]*call
	now    func() time.Time
}

type introspected struct {
	claims  Claims
	exp     time.Time
	err     error
	expires time.Time // of the cache entry
}

type call struct {
	done chan struct{}
	res  introspected
}

// NewIntrospector checks o.
func NewIntrospector(o IntrospectorOptions) (*Introspector, error) {
	if o.URL == "" || o.ClientID == "" {
		return nil, errors.New("oauth: introspection needs the endpoint URL and a client id")
	}
	if o.CacheTTL <= 0 {
		o.CacheTTL = DefaultIntrospectionCache
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second}
	}
	c, err := lru.New[[sha256.Size]byte, introspected](introspectionCacheSize)
	if err != nil {
		return nil, err
	}
	return &Introspector{opts: o, cache: c, flight: map[[sha256.Size]byte]*call{}, now: time.Now}, nil
}

// Verify returns the claims of an active token.
func (in *Introspector) Verify(ctx context.Context, token string) (Claims, time.Time, error) {
	key := sha256.Sum256([]byte(token))
	if r, ok := in.cache.Get(key); ok && in.now().Before(r.expires) {
		return r.claims, r.exp, r.err
	}
	in.mu.Lock()
	c, ok := in.flight[key]
	if !ok {
		c = &call{done: make(chan struct{})}
		in.flight[key] = c
	}
	in.mu.Unlock()
	if ok {
		select {
		case <-c.done:
			return c.res.claims, c.res.exp, c.res.err
		case <-ctx.Done():
			return nil, time.Time{}, ctx.Err()
		}
	}
	c.res = in.ask(ctx, token)
	if !errors.Is(c.res.err, errUnavailable) {
		in.cache.Add(key, c.res)
	}
	in.mu.Lock()
	delete(in.flight, key)
	in.mu.Unlock()
	close(c.done)
	return c.res.claims, c.res.exp, c.res.err
}

var errUnavailable = errors.New("the introspection endpoint did not answer")

// ask posts the token and judges the answer.
func (in *Introspector) ask(ctx context.Context, token string) introspected {
	claims, err := in.post(ctx, token)
	now := in.now()
	if err != nil {
		return introspected{err: &Error{Status: http.StatusServiceUnavailable, Description: fmt.Sprintf("%v: %v", errUnavailable, err)}}
	}
	res := introspected{claims: claims, expires: now.Add(in.opts.CacheTTL)}
	if active, _ := claims["active"].(bool); !active {
		res.claims, res.err = nil, InvalidToken("the provider says the token is not active")
		return res
	}
	if n, ok := claims["exp"].(json.Number); ok {
		if s, err := n.Int64(); err == nil {
			res.exp = time.Unix(s, 0)
			if res.exp.Before(res.expires) {
				res.expires = res.exp
			}
		}
	}
	if err := in.check(claims, now); err != nil {
		res.claims, res.err = nil, err
	}
	return res
}

// check applies the claims the provider reported: exp, iss and aud when
// present.
func (in *Introspector) check(c Claims, now time.Time) error {
	if n, ok := c["exp"].(json.Number); ok {
		if s, err := n.Int64(); err == nil && !now.Before(time.Unix(s, 0)) {
			return InvalidToken("the token has expired")
		}
	}
	if iss := ClaimText(c["iss"]); iss != "" && in.opts.Issuer != "" && iss != in.opts.Issuer {
		return InvalidToken("iss %q is not %q", iss, in.opts.Issuer)
	}
	if aud, ok := c["aud"]; ok && in.opts.Audience != "" {
		for _, a := range ClaimValues(aud) {
			if a == in.opts.Audience {
				return nil
			}
		}
		return InvalidToken("aud does not name this resource %q", in.opts.Audience)
	}
	return nil
}

func (in *Introspector) post(ctx context.Context, token string) (Claims, error) {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.opts.URL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(in.opts.ClientID), url.QueryEscape(in.opts.ClientSecret))
	resp, err := in.opts.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// The provider's error answer (RFC 6749 §5.2) says what it wants.
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("POST %s: %s %s", in.opts.URL, resp.Status, strings.TrimSpace(string(msg)))
	}
	d := json.NewDecoder(io.LimitReader(resp.Body, maxDocumentBytes))
	d.UseNumber()
	c := Claims{}
	if err := d.Decode(&c); err != nil {
		return nil, fmt.Errorf("POST %s: %w", in.opts.URL, err)
	}
	return c, nil
}

// Probe introspects a token no provider issued: a provider that accepts
// pgmoat's credentials answers active false.
func (in *Introspector) Probe(ctx context.Context) error {
	c, err := in.post(ctx, "pgmoat-doctor-probe")
	if err != nil {
		return err
	}
	if active, _ := c["active"].(bool); active {
		return fmt.Errorf("%s calls a made-up token active", in.opts.URL)
	}
	return nil
}

package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Key-set defaults.
const (
	// DefaultKeyRefresh is how often the key set is fetched again when
	// nothing asks for it sooner: providers publish a new key before they
	// sign with it, so an hour-old copy usually already holds it.
	DefaultKeyRefresh = 15 * time.Minute
	// DefaultKeyRefetch is the least time between two fetches caused by an
	// unknown kid: a flood of tokens naming made-up kids costs the provider
	// one request per interval, not one per token.
	DefaultKeyRefetch = 10 * time.Second
	// maxDocumentBytes caps a key set or metadata document.
	maxDocumentBytes = 1 << 20
)

// ErrUnknownKey is returned for a token whose kid is not in the key set,
// even after a refetch (or when a refetch was not allowed yet).
var ErrUnknownKey = errors.New("the token's signing key is not in the provider's key set")

// KeySetOptions configure a KeySet.
type KeySetOptions struct {
	// URL is the provider's jwks_uri. When empty, Locate finds it.
	URL string
	// Locate returns the jwks_uri (through OpenID Connect discovery or RFC
	// 8414 metadata); it is asked again until it succeeds once.
	Locate func(ctx context.Context) (string, error)
	// Client fetches the documents; nil means a client with a 10s timeout.
	Client *http.Client
	// Refresh and Refetch default to DefaultKeyRefresh and
	// DefaultKeyRefetch.
	Refresh, Refetch time.Duration
	Logger           *slog.Logger
}

// KeySet is a provider's signing keys, fetched over HTTP and cached. A
// token naming an unknown kid makes it fetch again, at most once per
// Refetch; it also refreshes every Refresh. A failed fetch keeps the last
// keys that were fetched, logs the failure and reports it in Status, so a
// provider that is down does not lock out holders of tokens it already
// issued.
type KeySet struct {
	opts KeySetOptions
	// fetchMu makes fetches one at a time: callers that miss the same new
	// kid together wait for one request.
	fetchMu sync.Mutex
	// mu guards the fields below; fetch writes them, lookups read them.
	mu          sync.Mutex
	url         string
	keys        []jose.JSONWebKey
	fetched     time.Time // last successful fetch
	lastAttempt time.Time
	lastErr     error
	stop        chan struct{}
	done        chan struct{}
}

// NewKeySet prepares a key set; Start fetches it and keeps it fresh.
func NewKeySet(o KeySetOptions) *KeySet {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Refresh <= 0 {
		o.Refresh = DefaultKeyRefresh
	}
	if o.Refetch <= 0 {
		o.Refetch = DefaultKeyRefetch
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &KeySet{opts: o, url: o.URL}
}

// Start fetches the keys once (a failure is logged, not returned: the
// provider may come up later, and unknown kids retry) and then refreshes
// them every Refresh until Close.
func (k *KeySet) Start(ctx context.Context) {
	_ = k.refetch(ctx, true)
	k.stop, k.done = make(chan struct{}), make(chan struct{})
	go k.refreshLoop()
}

// Close stops the refresh loop.
func (k *KeySet) Close() {
	if k.stop == nil {
		return
	}
	close(k.stop)
	<-k.done
}

func (k *KeySet) refreshLoop() {
	defer close(k.done)
	t := time.NewTicker(k.opts.Refresh)
	defer t.Stop()
	for {
		select {
		case <-k.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_ = k.refetch(ctx, true)
			cancel()
		}
	}
}

// Key returns the key a token signed with alg and naming kid verifies
// against. An unknown kid fetches the set again when Refetch allows.
func (k *KeySet) Key(ctx context.Context, kid string, alg jose.SignatureAlgorithm) (jose.JSONWebKey, error) {
	if key, ok := k.lookup(kid, alg); ok {
		return key, nil
	}
	if err := k.refetch(ctx, false); err != nil && !errors.Is(err, errTooSoon) {
		return jose.JSONWebKey{}, fmt.Errorf("%w (and fetching it again failed: %v)", ErrUnknownKey, err)
	}
	if key, ok := k.lookup(kid, alg); ok {
		return key, nil
	}
	return jose.JSONWebKey{}, ErrUnknownKey
}

// lookup finds a key by kid that suits alg; a token without kid matches
// the one suitable key when there is exactly one.
func (k *KeySet) lookup(kid string, alg jose.SignatureAlgorithm) (jose.JSONWebKey, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var found []jose.JSONWebKey
	for _, key := range k.keys {
		if (kid == "" || key.KeyID == kid) && suits(key, alg) {
			found = append(found, key)
		}
	}
	if len(found) != 1 {
		return jose.JSONWebKey{}, false
	}
	return found[0], true
}

// suits says whether key may verify a signature made with alg: a key
// that names its algorithm is used for that one only, a key for
// encryption never, and the key type must be the algorithm's (so an RSA
// key is never taken as an HMAC secret or the other way round).
func suits(key jose.JSONWebKey, alg jose.SignatureAlgorithm) bool {
	if key.Use != "" && key.Use != "sig" {
		return false
	}
	if key.Algorithm != "" && key.Algorithm != string(alg) {
		return false
	}
	return keyType(key) == familyOf(alg)
}

var errTooSoon = errors.New("fetched too recently")

// refetch fetches the set; unless forced, not sooner than Refetch after
// the last attempt.
func (k *KeySet) refetch(ctx context.Context, force bool) error {
	k.fetchMu.Lock()
	defer k.fetchMu.Unlock()
	k.mu.Lock()
	soon := !force && time.Since(k.lastAttempt) < k.opts.Refetch
	if !soon {
		k.lastAttempt = time.Now()
	}
	url := k.url
	k.mu.Unlock()
	if soon {
		return errTooSoon
	}
	keys, url, err := k.fetch(ctx, url)
	k.mu.Lock()
	defer k.mu.Unlock()
	if url != "" {
		k.url = url
	}
	k.lastErr = err
	if err != nil {
		k.opts.Logger.Warn("OAuth key set fetch failed; keeping the last good keys", "jwks_url", url, "keys", len(k.keys), "error", err.Error())
		return err
	}
	k.keys, k.fetched = keys, time.Now()
	k.opts.Logger.Info("OAuth key set fetched", "jwks_url", url, "keys", len(keys))
	return nil
}

func (k *KeySet) fetch(ctx context.Context, url string) ([]jose.JSONWebKey, string, error) {
	if url == "" {
		if k.opts.Locate == nil {
			return nil, "", errors.New("no jwks_url and no way to discover it")
		}
		u, err := k.opts.Locate(ctx)
		if err != nil {
			return nil, "", err
		}
		url = u
	}
	var set jose.JSONWebKeySet
	if err := getJSON(ctx, k.opts.Client, url, &set); err != nil {
		return nil, url, err
	}
	keys := make([]jose.JSONWebKey, 0, len(set.Keys))
	for _, key := range set.Keys {
		if !key.Valid() || keyType(key) == "" {
			continue // a key type this verifier does not use (oct, enc-only)
		}
		keys = append(keys, key.Public())
	}
	if len(keys) == 0 {
		return nil, url, fmt.Errorf("%s holds no usable signing key", url)
	}
	return keys, url, nil
}

// KeyStatus is what SHOW CONFIG and doctor say about a key set.
type KeyStatus struct {
	URL        string
	Keys       int
	KeyIDs     []string
	Algorithms []string // as the keys name them ("" for keys that do not)
	Fetched    time.Time
	LastErr    error
}

// Status reports the keys in use and the outcome of the last fetch.
func (k *KeySet) Status() KeyStatus {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := KeyStatus{URL: k.url, Keys: len(k.keys), Fetched: k.fetched, LastErr: k.lastErr}
	for _, key := range k.keys {
		s.KeyIDs = append(s.KeyIDs, key.KeyID)
		s.Algorithms = append(s.Algorithms, key.Algorithm)
	}
	return s
}

// String is the one-line form of the status.
func (s KeyStatus) String() string {
	var b []byte
	if s.Fetched.IsZero() {
		b = fmt.Appendf(b, "no keys yet from %s", orUnknown(s.URL))
	} else {
		b = fmt.Appendf(b, "%d key(s) from %s, fetched %s", s.Keys, s.URL, s.Fetched.UTC().Format(time.RFC3339))
	}
	if s.LastErr != nil {
		b = fmt.Appendf(b, "; last fetch failed: %v", s.LastErr)
		if !s.Fetched.IsZero() {
			b = append(b, " (serving the last good keys)"...)
		}
	}
	return string(b)
}

func orUnknown(s string) string {
	if s == "" {
		return "an undiscovered jwks_uri"
	}
	return s
}

// getJSON fetches a JSON document of at most maxDocumentBytes.
func getJSON(ctx context.Context, c *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if len(body) > maxDocumentBytes {
		return fmt.Errorf("GET %s: larger than %d bytes", url, maxDocumentBytes)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

// Algorithms splits algs into those some key in the set can verify and
// those none can.
func (k *KeySet) Algorithms(algs []jose.SignatureAlgorithm) (usable, missing []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, alg := range algs {
		ok := false
		for _, key := range k.keys {
			ok = ok || suits(key, alg)
		}
		if ok {
			usable = append(usable, string(alg))
		} else {
			missing = append(missing, string(alg))
		}
	}
	return usable, missing
}

package policy

import (
	"fmt"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Options configure an Engine. The zero value gives the built-in readonly
// profile and the generated offline function catalog.
type Options struct {
	// Profiles by name. "readonly" is always present: the built-in one
	// unless this map overrides it.
	Profiles map[string]Profile
	// Functions supplies function volatility; nil means BuiltinFunctions.
	Functions FunctionCatalog
	// CacheSize is the number of cached verdicts; 0 means 10,000.
	CacheSize int
	// MaxStatementBytes caps statement text; 0 means 1 MiB.
	MaxStatementBytes int
	// MaxDepth caps parse-tree nesting; 0 means DefaultMaxDepth.
	MaxDepth int
}

// Default sizes.
const (
	DefaultCacheSize = 10000
	// maxCachedBytes keeps long texts out of the cache, which holds the
	// text and its rewrite: at the default size the cache then stays
	// under about 160 MB however a client fills it.
	maxCachedBytes = 8 << 10
)

// Engine decides statements. It is safe for concurrent use.
type Engine struct {
	schema   *schema
	nums     nums
	profiles map[string]*rules
	catRels  map[string]bool
	cache    *lru.Cache[cacheKey, Verdict]
	cur      atomic.Pointer[catalogRef]
	maxBytes int
	maxDepth int

	hits, misses atomic.Uint64
}

// CacheStats counts verdict-cache hits and misses since the engine was
// made, for metrics.
type CacheStats struct{ Hits, Misses uint64 }

// CacheStats returns the verdict cache's counters.
func (e *Engine) CacheStats() CacheStats {
	return CacheStats{Hits: e.hits.Load(), Misses: e.misses.Load()}
}

// catalogRef is the function catalog in force and its generation; every
// swap gets a new generation, which is part of the cache key.
type catalogRef struct {
	fc  FunctionCatalog
	gen uint64
}

type cacheKey struct {
	gen     uint64
	profile string
	sql     string
}

// New builds an Engine from opts.
func New(opts Options) (*Engine, error) {
	s, err := newSchema()
	if err != nil {
		return nil, err
	}
	n, err := newNums(s)
	if err != nil {
		return nil, err
	}
	e := &Engine{
		schema:   s,
		nums:     n,
		profiles: map[string]*rules{},
		catRels:  builtinRelations(),
		maxBytes: orDefault(opts.MaxStatementBytes, DefaultMaxStatementBytes),
		maxDepth: orDefault(opts.MaxDepth, DefaultMaxDepth),
	}
	if e.cache, err = lru.New[cacheKey, Verdict](orDefault(opts.CacheSize, DefaultCacheSize)); err != nil {
		return nil, fmt.Errorf("policy: verdict cache: %w", err)
	}
	if err := e.addProfiles(opts.Profiles); err != nil {
		return nil, err
	}
	fc := opts.Functions
	if fc == nil {
		fc = BuiltinFunctions()
	}
	e.cur.Store(&catalogRef{fc: fc, gen: 1})
	return e, nil
}

func (e *Engine) addProfiles(ps map[string]Profile) error {
	if _, ok := ps[DefaultProfile]; !ok {
		r, err := compile(ReadonlyProfile())
		if err != nil {
			return err
		}
		e.profiles[DefaultProfile] = r
	}
	for name, p := range ps {
		if name == "" {
			return fmt.Errorf("policy: profile with an empty name")
		}
		if p.Name != "" && p.Name != name {
			return fmt.Errorf("policy: profile %q is named %q", name, p.Name)
		}
		p.Name = name
		r, err := compile(p)
		if err != nil {
			return err
		}
		e.profiles[name] = r
	}
	return nil
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// Profile returns the named profile with its defaults filled in.
func (e *Engine) Profile(name string) (Profile, bool) {
	if name == "" {
		name = DefaultProfile
	}
	r, ok := e.profiles[name]
	if !ok {
		return Profile{}, false
	}
	return r.profile, true
}

// SetFunctions swaps the function catalog, e.g. after the introspected
// catalog reloads. Cached verdicts made with the old catalog stop matching.
// nil restores the built-in table.
func (e *Engine) SetFunctions(fc FunctionCatalog) {
	if fc == nil {
		fc = BuiltinFunctions()
	}
	for {
		old := e.cur.Load()
		if e.cur.CompareAndSwap(old, &catalogRef{fc: fc, gen: old.gen + 1}) {
			break
		}
	}
	e.cache.Purge()
}

// Decide judges sql, the exact text a client sent (a simple Query, or the
// text of a Parse with $n parameters), for id. Verdicts are cached by
// (catalog generation, profile, exact text): the engine never reuses a
// verdict across texts that differ only in literals, since a literal can
// change it ('pg_authid'::regclass, LIMIT 10 versus LIMIT 10000).
func (e *Engine) Decide(id Identity, sql string) Verdict {
	name := id.Profile
	if name == "" {
		name = DefaultProfile
	}
	cur := e.cur.Load()
	key := cacheKey{gen: cur.gen, profile: name, sql: sql}
	if v, ok := e.cache.Get(key); ok {
		e.hits.Add(1)
		return v
	}
	e.misses.Add(1)
	r, ok := e.profiles[name]
	if !ok {
		return denied(deny(RuleProfile, fmt.Sprintf("unknown profile %q", name)), KindUnknown)
	}
	v := e.decide(r, cur.fc, sql)
	if len(sql) <= maxCachedBytes {
		e.cache.Add(key, v)
	}
	return v
}

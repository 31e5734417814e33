package policy

import (
	"fmt"
	"sync/atomic"
	"time"

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
	// CacheSize is the number of cached verdicts, and of statement
	// shapes in the shape cache (DecideQuery); 0 means 10,000.
	CacheSize int
	// MaxStatementBytes caps statement text; 0 means 1 MiB.
	MaxStatementBytes int
	// MaxDepth caps parse-tree nesting; 0 means DefaultMaxDepth.
	MaxDepth int
	// MaxJudgeBytes bounds the statement text judged at once on cache
	// misses, since judging costs a few hundred times the text in memory;
	// 0 means DefaultMaxJudgeBytes. Texts over 64 KiB share three quarters
	// of it. It is raised when needed to fit one MaxStatementBytes text.
	MaxJudgeBytes int
	// JudgeWait is how long a statement waits for room in MaxJudgeBytes
	// before it is refused with SQLSTATE 53200; 0 means DefaultJudgeWait.
	JudgeWait time.Duration
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
	catRels  map[string]bool
	cache    *lru.Cache[cacheKey, Verdict]
	shapes   *lru.Cache[shapeKey, *shapeEntry]
	cur      atomic.Pointer[catalogRef]
	maxBytes int
	maxDepth int
	budget   *judgeBudget

	hits, misses, busy, shapeHits atomic.Uint64
}

// CacheStats counts verdict-cache hits and misses since the engine was
// made, for metrics. Busy counts the misses refused because the judging
// budget had no room (rule input.busy). ShapeHits counts the Query texts
// DecideQuery answered from the shape cache (neither a hit nor a miss of
// the exact-text cache).
type CacheStats struct{ Hits, Misses, Busy, ShapeHits uint64 }

// CacheStats returns the verdict cache's counters.
func (e *Engine) CacheStats() CacheStats {
	return CacheStats{Hits: e.hits.Load(), Misses: e.misses.Load(), Busy: e.busy.Load(), ShapeHits: e.shapeHits.Load()}
}

// catalogRef is what a verdict depends on besides the text: the function
// catalog and the compiled profiles in force, and their generation. Every
// swap of either gets a new generation, which is part of the cache key, so
// a verdict made under the old ones never answers under the new ones.
// Decide loads it once, so one verdict never mixes old and new.
type catalogRef struct {
	fc       FunctionCatalog
	profiles map[string]*rules // never written after it is published
	gen      uint64
	implied  impliedMemo // per profile, what any SELECT may run unwritten
	// paramTypes are the verdicts on Parse parameter types, per profile.
	paramTypes paramTypeMemo
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
		catRels:  builtinRelations(),
		maxBytes: orDefault(opts.MaxStatementBytes, DefaultMaxStatementBytes),
		maxDepth: orDefault(opts.MaxDepth, DefaultMaxDepth),
	}
	wait := opts.JudgeWait
	if wait <= 0 {
		wait = DefaultJudgeWait
	}
	e.budget = newJudgeBudget(orDefault(opts.MaxJudgeBytes, DefaultMaxJudgeBytes), e.maxBytes, wait)
	if e.cache, err = lru.New[cacheKey, Verdict](orDefault(opts.CacheSize, DefaultCacheSize)); err != nil {
		return nil, fmt.Errorf("policy: verdict cache: %w", err)
	}
	if e.shapes, err = lru.New[shapeKey, *shapeEntry](orDefault(opts.CacheSize, DefaultCacheSize)); err != nil {
		return nil, fmt.Errorf("policy: shape cache: %w", err)
	}
	profiles, err := compileProfiles(opts.Profiles)
	if err != nil {
		return nil, err
	}
	fc := opts.Functions
	if fc == nil {
		fc = BuiltinFunctions()
	}
	e.cur.Store(&catalogRef{fc: fc, profiles: profiles, gen: 1})
	return e, nil
}

// compileProfiles compiles every profile, adding the built-in readonly
// one unless ps overrides it. It fails on the first bad profile.
func compileProfiles(ps map[string]Profile) (map[string]*rules, error) {
	out := make(map[string]*rules, len(ps)+1)
	if _, ok := ps[DefaultProfile]; !ok {
		r, err := compile(ReadonlyProfile())
		if err != nil {
			return nil, err
		}
		out[DefaultProfile] = r
	}
	for name, p := range ps {
		if name == "" {
			return nil, fmt.Errorf("policy: profile with an empty name")
		}
		if p.Name != "" && p.Name != name {
			return nil, fmt.Errorf("policy: profile %q is named %q", name, p.Name)
		}
		p.Name = name
		r, err := compile(p)
		if err != nil {
			return nil, err
		}
		out[name] = r
	}
	return out, nil
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// Profile returns the named profile with its defaults filled in.
func (e *Engine) Profile(name string) (Profile, bool) {
	r, ok := e.cur.Load().profiles[Identity{Profile: name}.ProfileName()]
	if !ok {
		return Profile{}, false
	}
	return r.profile, true
}

// Generation changes whenever the profiles or the function catalog are
// swapped, so callers can tell cheaply whether what they derived from a
// profile is still current.
func (e *Engine) Generation() uint64 { return e.cur.Load().gen }

// SetProfiles replaces every profile at once, as New builds them from
// Options.Profiles (the built-in readonly one stays unless ps overrides
// it). All of them are compiled first: on error nothing changes. Decide
// calls already running finish under the old profiles; cached verdicts
// made under those stop matching.
func (e *Engine) SetProfiles(ps map[string]Profile) error {
	profiles, err := compileProfiles(ps)
	if err != nil {
		return err
	}
	e.swap(func(old *catalogRef) *catalogRef {
		return &catalogRef{fc: old.fc, profiles: profiles, gen: old.gen + 1}
	})
	return nil
}

// CheckProfiles reports whether SetProfiles would accept ps, without
// changing anything, for callers that swap profiles together with
// something else.
func CheckProfiles(ps map[string]Profile) error {
	_, err := compileProfiles(ps)
	return err
}

// swap publishes next(current) under a new generation and drops the
// cached verdicts, which can no longer match.
func (e *Engine) swap(next func(*catalogRef) *catalogRef) {
	for {
		old := e.cur.Load()
		if e.cur.CompareAndSwap(old, next(old)) {
			break
		}
	}
	e.cache.Purge()
	e.shapes.Purge()
}

// SetFunctions swaps the function catalog, e.g. after the introspected
// catalog reloads. Cached verdicts made with the old catalog stop matching.
// nil restores the built-in table.
func (e *Engine) SetFunctions(fc FunctionCatalog) {
	if fc == nil {
		fc = BuiltinFunctions()
	}
	e.swap(func(old *catalogRef) *catalogRef {
		return &catalogRef{fc: fc, profiles: old.profiles, gen: old.gen + 1}
	})
}

// Decide judges sql, the exact text a client sent (a simple Query, or the
// text of a Parse with $n parameters), for id. Verdicts are cached by
// (generation of the catalog and profiles, profile, exact text): the engine never reuses a
// verdict across texts that differ only in literals, since a literal can
// change it ('pg_authid'::regclass, LIMIT 10 versus LIMIT 10000).
func (e *Engine) Decide(id Identity, sql string) Verdict {
	name := id.ProfileName()
	cur := e.cur.Load()
	key := cacheKey{gen: cur.gen, profile: name, sql: sql}
	if v, ok := e.cache.Get(key); ok {
		e.hits.Add(1)
		return v
	}
	e.misses.Add(1)
	r, ok := cur.profiles[name]
	if !ok {
		return denied(deny(RuleProfile, fmt.Sprintf("unknown profile %q", name)), KindUnknown)
	}
	// Texts over the size limit are refused before any parsing and need
	// no room; every other miss holds its length in the budget.
	if n := len(sql); n <= e.maxBytes {
		if !e.budget.acquire(n) {
			e.busy.Add(1)
			return e.budget.busy(n)
		}
		defer e.budget.release(n)
	}
	implied := cur.implied.get(name, func() error {
		return (&walker{s: e.schema, n: &e.nums, r: r, fc: cur.fc, catRels: e.catRels}).impliedCalls()
	})
	v := e.decide(r, cur.fc, implied, sql)
	if len(sql) <= maxCachedBytes {
		e.cache.Add(key, v)
	}
	return v
}

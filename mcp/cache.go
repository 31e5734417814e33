package mcp

import (
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// Cache sizes when the options leave them at zero.
const (
	DefaultShapeCacheSize  = 4096
	DefaultResultCacheSize = 1024
)

// shapeCache maps a call shape to its built and verified statement, so
// building and the policy check are paid once per shape. It is bound to
// one tool set: a schema change brings a new cache.
type shapeCache struct {
	set   *ToolSet
	plans *lru.Cache[string, *plan]
}

func newShapeCache(set *ToolSet, size int) *shapeCache {
	if size <= 0 {
		size = DefaultShapeCacheSize
	}
	c, _ := lru.New[string, *plan](size) // size > 0: cannot fail
	return &shapeCache{set: set, plans: c}
}

// resultCache keeps whole tool results for a short, per-tool time. Entries
// expire lazily on read; the expirable LRU variant was avoided because its
// cleanup goroutine can never be stopped.
type resultCache struct {
	ttl     map[string]time.Duration // per tool; missing means defTTL
	defTTL  time.Duration
	entries *lru.Cache[string, cachedResult]
	now     func() time.Time
}

type cachedResult struct {
	res     *sdk.CallToolResult
	expires time.Time
}

// newResultCache returns nil when no tool has a TTL: caching is off.
func newResultCache(def time.Duration, perTool map[string]time.Duration, size int, now func() time.Time) *resultCache {
	on := def > 0
	for _, d := range perTool {
		on = on || d > 0
	}
	if !on {
		return nil
	}
	if size <= 0 {
		size = DefaultResultCacheSize
	}
	c, _ := lru.New[string, cachedResult](size)
	return &resultCache{ttl: perTool, defTTL: def, entries: c, now: now}
}

func (c *resultCache) ttlOf(tool string) time.Duration {
	if d, ok := c.ttl[tool]; ok {
		return d
	}
	return c.defTTL
}

func (c *resultCache) get(key string) (*sdk.CallToolResult, bool) {
	e, ok := c.entries.Get(key)
	if !ok {
		return nil, false
	}
	if c.now().After(e.expires) {
		c.entries.Remove(key)
		return nil, false
	}
	return e.res, true
}

func (c *resultCache) add(tool, key string, res *sdk.CallToolResult) {
	if d := c.ttlOf(tool); d > 0 {
		c.entries.Add(key, cachedResult{res: res, expires: c.now().Add(d)})
	}
}

// Stats are the MCP front end's counters since start.
type Stats struct {
	Calls        uint64 // tool calls
	Errors       uint64 // calls answered with isError
	ShapeHits    uint64 // statement found built and verified
	ShapeMisses  uint64 // statement built and verified anew
	ResultHits   uint64 // whole result served from the result cache
	ResultMisses uint64 // result cache on but the entry missing or stale
	Reloads      uint64 // tool sets swapped in after a schema change
	AcceptErrors uint64 // failed accepts of the HTTP listener (Server.AcceptFailed)
}

// ShapeHitRatio is hits / (hits + misses), 0 before the first call.
func (s Stats) ShapeHitRatio() float64 { return ratio(s.ShapeHits, s.ShapeMisses) }

// ResultHitRatio is the result cache's hit ratio.
func (s Stats) ResultHitRatio() float64 { return ratio(s.ResultHits, s.ResultMisses) }

func ratio(hits, misses uint64) float64 {
	if hits+misses == 0 {
		return 0
	}
	return float64(hits) / float64(hits+misses)
}

type counters struct {
	calls, errors, shapeHits, shapeMisses, resultHits, resultMisses, reloads, acceptErrors atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Calls: c.calls.Load(), Errors: c.errors.Load(), ShapeHits: c.shapeHits.Load(), ShapeMisses: c.shapeMisses.Load(),
		ResultHits: c.resultHits.Load(), ResultMisses: c.resultMisses.Load(), Reloads: c.reloads.Load(),
		AcceptErrors: c.acceptErrors.Load(),
	}
}

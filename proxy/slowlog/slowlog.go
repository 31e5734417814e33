package slowlog

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/pgmoat/pgmoat/policy"
	"github.com/pgmoat/pgmoat/proxy"
)

// Explainer runs EXPLAIN of a statement's generic plan under an identity;
// *proxy.Executor is one.
type Explainer interface {
	ExplainGeneric(ctx context.Context, id policy.Identity, sql string, paramOIDs []uint32) (string, error)
}

// Options configure a Log.
type Options struct {
	Explainer Explainer
	// Threshold is the slow threshold of a profile; nil or a result of 0
	// means policy.DefaultSlowThreshold. EngineThresholds follows RELOAD.
	Threshold func(profile string) time.Duration
	// Interval is the least time between two EXPLAINs (0: no limit).
	Interval time.Duration
	Logger   *slog.Logger // nil: entries are kept for SHOW SLOW only
}

// Log captures slow statements from both doors with their plan:
// EXPLAIN (VERBOSE, FORMAT JSON) of the same statement's generic plan
// (its text and parameter types, never its values), under the same
// identity, run after the statement finished (outside the caller's time
// budget) and at most once per interval. A nil *Log captures nothing.
type Log struct {
	x         Explainer
	threshold func(profile string) time.Duration
	interval  time.Duration
	logger    *slog.Logger

	mu      sync.Mutex
	last    time.Time
	closed  bool                  // no EXPLAIN starts once set
	entries []proxy.SlowStatement // newest last, at most keep
	wg      sync.WaitGroup        // EXPLAINs in flight; Add under mu
}

// New makes a Log; Close it before the pool the explainer uses closes.
func New(o Options) *Log {
	return &Log{x: o.Explainer, threshold: o.Threshold, interval: o.Interval, logger: o.Logger}
}

// keep is how many entries SHOW SLOW shows.
const keep = 100

// candidate is one statement to explain.
type candidate struct {
	source    string // "mcp" or "proxy"
	user      string // proxy login, "" for MCP
	id        policy.Identity
	sql       string // with $n parameters, no values
	paramOIDs []uint32
	d         time.Duration
}

// EngineThresholds reads each profile's slow threshold from the engine,
// so a reloaded profile takes effect at once.
func EngineThresholds(e *policy.Engine) func(string) time.Duration {
	return func(profile string) time.Duration {
		p, _ := e.Profile(profile)
		return p.SlowThreshold
	}
}

// Observe is called after every statement the MCP side ran; args are
// not used: the plan is the generic one.
func (l *Log) Observe(id policy.Identity, sql string, d time.Duration) {
	if l == nil || d < l.thresholdOf(id.Profile) {
		return
	}
	l.capture(candidate{source: "mcp", id: id, sql: sql, d: d})
}

// ObserveProxied is the proxy's OnSlow hook: it runs on a session's hot
// path, so everything past the rate limit happens on another goroutine,
// including normalizing the client's text.
func (l *Log) ObserveProxied(q proxy.SlowQuery) {
	if l == nil || !l.admit() {
		return
	}
	go func() {
		defer l.wg.Done()
		sql, oids := proxiedText(q)
		l.explain(candidate{source: "proxy", user: q.User, id: q.Identity, sql: sql, paramOIDs: oids, d: q.Duration})
	}()
}

// proxiedText is a client's statement with its literals replaced by $n,
// and the types to prepare it with: the client's own where its Parse
// gave them, the literals' where normalizing made the placeholder.
// Without the literals' types the server sees unknowns, and a text like
// generate_series(1, 10) no longer resolves to a function.
func proxiedText(q proxy.SlowQuery) (string, []uint32) {
	sql, oids := policy.NormalizeTyped(q.SQL)
	for i, oid := range q.ParamOIDs {
		if oid == 0 {
			continue
		}
		for len(oids) <= i {
			oids = append(oids, 0)
		}
		oids[i] = oid
	}
	return sql, oids
}

func (l *Log) capture(c candidate) {
	if !l.admit() {
		return
	}
	go func() {
		defer l.wg.Done()
		l.explain(c)
	}()
}

// admit applies the rate limit and counts the EXPLAIN about to start;
// after close nothing is admitted.
func (l *Log) admit() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || time.Since(l.last) < l.interval {
		return false
	}
	l.last = time.Now()
	l.wg.Add(1)
	return true
}

func (l *Log) thresholdOf(profile string) time.Duration {
	profile = policy.Identity{Profile: profile}.ProfileName()
	if l.threshold != nil {
		if t := l.threshold(profile); t > 0 {
			return t
		}
	}
	return policy.DefaultSlowThreshold
}

func (l *Log) explain(c candidate) {
	entry := proxy.SlowStatement{Time: time.Now(), Source: c.source, UserID: c.id.UserID, Duration: c.d, SQL: c.sql}
	var plan json.RawMessage
	if c.sql == "" {
		// A text the parser could not read cannot be scrubbed of its
		// values: it is neither explained nor logged.
		entry.Plan = "plan unavailable: the statement text could not be normalized"
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		text, err := l.x.ExplainGeneric(ctx, c.id, c.sql, c.paramOIDs)
		cancel()
		if err != nil {
			entry.Plan = "plan unavailable: " + err.Error()
		} else {
			entry.Plan, entry.Advice = SummarizePlan(text)
			if json.Valid([]byte(text)) {
				plan = json.RawMessage(text)
			}
		}
	}
	l.mu.Lock()
	l.entries = append(l.entries, entry)
	if len(l.entries) > keep {
		l.entries = l.entries[len(l.entries)-keep:]
	}
	l.mu.Unlock()
	if l.logger != nil {
		attrs := []any{"source", c.source, "user_id", c.id.UserID, "profile", c.id.Profile, "sql", c.sql,
			"duration_ms", float64(c.d.Microseconds()) / 1000, "plan_summary", entry.Plan, "advice", entry.Advice}
		if c.user != "" {
			attrs = append(attrs, "user", c.user)
		}
		if plan != nil {
			attrs = append(attrs, "plan", plan)
		}
		l.logger.Warn("slow statement", attrs...)
	}
}

// Snapshot is SHOW SLOW: newest first.
func (l *Log) Snapshot() []proxy.SlowStatement {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]proxy.SlowStatement, 0, len(l.entries))
	for i := len(l.entries) - 1; i >= 0; i-- {
		out = append(out, l.entries[i])
	}
	return out
}

// Close stops new EXPLAINs and waits for those in flight, so that the
// pool can close after it. Safe to call more than once; entries stay
// readable.
func (l *Log) Close() {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.wg.Wait()
}

type planNode struct {
	NodeType     string     `json:"Node Type"`
	RelationName string     `json:"Relation Name"`
	Schema       string     `json:"Schema"`
	Filter       string     `json:"Filter"`
	TotalCost    float64    `json:"Total Cost"`
	PlanRows     float64    `json:"Plan Rows"`
	Plans        []planNode `json:"Plans"`
}

// filterColumn finds "(column = ...)" style conditions in a Filter.
var filterColumn = regexp.MustCompile(`\((?:[a-z_][a-z0-9_]*\.)?([a-z_][a-z0-9_]*) (?:=|<|>|<=|>=|~~\*?) `)

// SummarizePlan turns EXPLAIN (FORMAT JSON) output into one line, and
// where a sequential scan filters on a column, the index that would help.
func SummarizePlan(v any) (summary, advice string) {
	raw, err := json.Marshal(v)
	if s, ok := v.(string); ok {
		raw, err = []byte(s), nil
	}
	if err != nil {
		return "", ""
	}
	var top []struct {
		Plan planNode `json:"Plan"`
	}
	if err := json.Unmarshal(raw, &top); err != nil || len(top) == 0 {
		return "", ""
	}
	var parts, advices []string
	var walk func(n planNode)
	walk = func(n planNode) {
		part := n.NodeType
		if n.RelationName != "" {
			part += " on " + n.RelationName
		}
		parts = append(parts, part)
		if n.NodeType == "Seq Scan" && n.Filter != "" {
			for _, m := range filterColumn.FindAllStringSubmatch(n.Filter, -1) {
				schema := n.Schema
				if schema == "" {
					schema = "public"
				}
				advices = append(advices, fmt.Sprintf("CREATE INDEX ON %s.%s (%s)", schema, n.RelationName, m[1]))
			}
		}
		for _, c := range n.Plans {
			walk(c)
		}
	}
	walk(top[0].Plan)
	summary = fmt.Sprintf("%s (cost %.0f, rows %.0f)", strings.Join(parts, " > "), top[0].Plan.TotalCost, top[0].Plan.PlanRows)
	return summary, strings.Join(advices, "; ")
}

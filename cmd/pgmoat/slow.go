package main

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

// slowLog captures slow MCP statements with their plan: EXPLAIN (FORMAT
// JSON) of the same statement and parameters, under the same identity,
// run after the call returned (outside the caller's time budget) and at
// most once per interval.
type slowLog struct {
	x          *proxy.Executor
	thresholds map[string]time.Duration // by profile
	interval   time.Duration
	logger     *slog.Logger

	mu      sync.Mutex
	last    time.Time
	entries []proxy.SlowStatement // newest last, at most slowKeep
	wg      sync.WaitGroup
}

const slowKeep = 100

// observe is called after every statement the MCP side ran.
func (l *slowLog) observe(id policy.Identity, sql string, args []any, d time.Duration) {
	if l == nil || d < l.threshold(id.Profile) {
		return
	}
	l.mu.Lock()
	if time.Since(l.last) < l.interval {
		l.mu.Unlock()
		return
	}
	l.last = time.Now()
	l.mu.Unlock()
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.explain(id, sql, args, d)
	}()
}

func (l *slowLog) threshold(profile string) time.Duration {
	if profile == "" {
		profile = policy.DefaultProfile
	}
	if t, ok := l.thresholds[profile]; ok && t > 0 {
		return t
	}
	return 500 * time.Millisecond
}

func (l *slowLog) explain(id policy.Identity, sql string, args []any, d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	entry := proxy.SlowStatement{Time: time.Now(), Source: "mcp", UserID: id.UserID, Duration: d, SQL: sql}
	res, err := l.x.Query(ctx, id, "EXPLAIN (VERBOSE, FORMAT JSON) "+sql, args...)
	if err != nil {
		entry.Plan = "EXPLAIN failed: " + err.Error()
	} else if len(res.Rows) > 0 {
		entry.Plan, entry.Advice = summarizePlan(res.Rows[0][0])
	}
	l.mu.Lock()
	l.entries = append(l.entries, entry)
	if len(l.entries) > slowKeep {
		l.entries = l.entries[len(l.entries)-slowKeep:]
	}
	l.mu.Unlock()
	if l.logger != nil {
		l.logger.Warn("slow statement", "source", "mcp", "user_id", id.UserID, "sql", sql,
			"duration_ms", float64(d.Microseconds())/1000, "plan", entry.Plan, "advice", entry.Advice)
	}
}

// snapshot is SHOW SLOW: newest first.
func (l *slowLog) snapshot() []proxy.SlowStatement {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]proxy.SlowStatement, 0, len(l.entries))
	for i := len(l.entries) - 1; i >= 0; i-- {
		out = append(out, l.entries[i])
	}
	return out
}

// wait lets explains in flight finish (tests, shutdown).
func (l *slowLog) wait() { l.wg.Wait() }

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

// summarizePlan turns EXPLAIN (FORMAT JSON) output into one line, and
// where a sequential scan filters on a column, the index that would help.
func summarizePlan(v any) (summary, advice string) {
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

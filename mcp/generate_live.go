package mcp

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pgmoat/pgmoat/introspect"
)

// LiveTools holds the current ToolSet and regenerates it when the schema
// changes. Readers call Current, which never blocks; a tool call keeps the
// set it started with even if a reload swaps in a new one meanwhile.
type LiveTools struct {
	opts GenerateOptions
	log  *slog.Logger
	mu   sync.Mutex // serializes updates
	cur  atomic.Pointer[ToolSet]
}

// NewLiveTools generates the first set. logger nil means slog.Default().
func NewLiveTools(snap *introspect.Snapshot, opts GenerateOptions, logger *slog.Logger, now time.Time) (*LiveTools, error) {
	if logger == nil {
		logger = slog.Default()
	}
	l := &LiveTools{opts: opts, log: logger}
	set, err := Regenerate(nil, snap, opts, now)
	if err != nil {
		return nil, err
	}
	l.cur.Store(set)
	return l, nil
}

// Current returns the current tool set.
func (l *LiveTools) Current() *ToolSet { return l.cur.Load() }

// Update regenerates from a new snapshot, logs every tool change, swaps the
// new set in and returns the changes. On error the current set stays.
func (l *LiveTools) Update(snap *introspect.Snapshot, now time.Time) (ToolDiff, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	prev := l.cur.Load()
	set, err := Regenerate(prev, snap, l.opts, now)
	if err != nil {
		l.log.Error("tool regeneration failed; keeping the previous tools", "err", err)
		return ToolDiff{}, err
	}
	l.cur.Store(set)
	d := CompareTools(prev, set)
	for _, line := range d.Lines() {
		l.log.Info("tool change: " + line)
	}
	for _, t := range set.Tables {
		for _, p := range t.Params {
			if p.Deprecation != nil && p.Deprecation.Since.Equal(now) {
				l.log.Warn("tool parameter deprecated", "tool", t.Name, "param", p.Name, "until", p.Deprecation.Until, "reason", p.Deprecation.Reason)
			}
		}
	}
	return d, nil
}

// Regenerate is Generate plus history: parameters that disappeared since
// prev (dropped column, dropped index) and parameters of @deprecated
// columns stay accepted for the grace period, marked with a Deprecation
// that says until when. It is pure: now is passed in.
func Regenerate(prev *ToolSet, snap *introspect.Snapshot, opts GenerateOptions, now time.Time) (*ToolSet, error) {
	grace := opts.withDefaults().DeprecationGrace
	return generate(snap, opts, func(set *ToolSet) {
		for _, t := range append(slices.Clone(set.Tables), set.Entities...) {
			var old *ToolSpec
			if prev != nil {
				old, _ = prev.Tool(t.Name)
			}
			r, _ := snap.Relation(t.Table.Schema, t.Table.Name)
			carryDeprecations(t, old, r, now, grace)
		}
	})
}

func carryDeprecations(t, old *ToolSpec, r *introspect.Relation, now time.Time, grace time.Duration) {
	var kept []*Param
	for _, p := range t.Params {
		if p.Deprecation != nil {
			since := now
			if op, ok := findParam(old, p.Name); ok && op.Deprecation != nil && !op.Deprecation.Since.IsZero() {
				since = op.Deprecation.Since
			}
			p.Deprecation.Since, p.Deprecation.Until = since, since.Add(grace)
			if now.After(p.Deprecation.Until) {
				continue
			}
		}
		kept = append(kept, p)
	}
	kept = append(kept, vanished(t, old, r, now, grace)...)
	if len(kept) == len(t.Params) && !anyDeprecated(kept) {
		return
	}
	t.Params = orderParams(kept)
	t.InputSchema = inputSchema(t.Params)
}

// vanished returns the filters old had and t lacks, still in their grace
// period.
func vanished(t, old *ToolSpec, r *introspect.Relation, now time.Time, grace time.Duration) []*Param {
	if old == nil {
		return nil
	}
	var out []*Param
	for _, op := range old.Params {
		if !op.Kind.IsFilter() {
			continue
		}
		if _, ok := t.Param(op.Name); ok {
			continue
		}
		p := *op
		d := Deprecation{Since: now}
		if op.Deprecation != nil && !op.Deprecation.Since.IsZero() {
			d.Since = op.Deprecation.Since
		}
		d.Until = d.Since.Add(grace)
		if now.After(d.Until) {
			continue
		}
		switch {
		case hasColumn(t, op.Column):
			d.Reason = "no index serves it any more"
			d.Message = fmt.Sprintf("parameter %s still works but is slow and will be removed after %s; prefer the other filters.",
				op.Name, d.Until.UTC().Format(time.RFC3339))
		case r != nil && columnExists(r, op.Column):
			continue // hidden by configuration now: never keep a filter on a hidden column
		default:
			d.Removed = true
			d.Reason = "column dropped"
			d.Message = fmt.Sprintf("parameter %s no longer exists: column %s was removed from %s. Call again without it.",
				op.Name, op.Column, t.Table)
		}
		p.Deprecation = &d
		p.Required = false
		p.Description = "DEPRECATED: " + d.Message
		s := *op.Schema
		s.Deprecated = true
		p.Schema = &s
		out = append(out, &p)
	}
	return out
}

func findParam(t *ToolSpec, name string) (*Param, bool) {
	if t == nil {
		return nil, false
	}
	return t.Param(name)
}

func hasColumn(t *ToolSpec, col string) bool {
	return slices.ContainsFunc(t.Columns, func(c ColumnSpec) bool { return c.Name == col })
}

func columnExists(r *introspect.Relation, col string) bool {
	_, ok := r.Column(col)
	return ok
}

func anyDeprecated(ps []*Param) bool {
	return slices.ContainsFunc(ps, func(p *Param) bool { return p.Deprecation != nil })
}

// orderParams keeps filters first and the fixed parameters last.
func orderParams(ps []*Param) []*Param {
	slices.SortStableFunc(ps, func(a, b *Param) int {
		fa, fb := a.Kind.IsFilter(), b.Kind.IsFilter()
		switch {
		case fa && !fb:
			return -1
		case !fa && fb:
			return 1
		}
		return 0
	})
	return ps
}

// ToolDiff is what changed in the listed tools between two sets.
type ToolDiff struct {
	Added   []string
	Removed []string
	Changed []ToolChange
}

// ToolChange names what changed in one tool.
type ToolChange struct {
	Tool    string
	Changes []string
}

// CompareTools diffs the tools two sets list (and the table tools behind
// query_table in discovery mode). prev may be nil.
func CompareTools(prev, cur *ToolSet) ToolDiff {
	var d ToolDiff
	old := map[string]*ToolSpec{}
	if prev != nil {
		for _, t := range allTools(prev) {
			old[t.Name] = t
		}
	}
	for _, t := range allTools(cur) {
		o, ok := old[t.Name]
		delete(old, t.Name)
		if !ok {
			d.Added = append(d.Added, t.Name)
			continue
		}
		if ch := compareTool(o, t); len(ch) > 0 {
			d.Changed = append(d.Changed, ToolChange{Tool: t.Name, Changes: ch})
		}
	}
	if prev != nil {
		for _, t := range allTools(prev) {
			if _, gone := old[t.Name]; gone {
				d.Removed = append(d.Removed, t.Name)
			}
		}
	}
	return d
}

func allTools(s *ToolSet) []*ToolSpec {
	out := slices.Clone(s.Meta)
	out = append(out, s.Tables...)
	return append(out, s.Entities...)
}

func compareTool(a, b *ToolSpec) []string {
	var out []string
	for _, p := range b.Params {
		op, ok := a.Param(p.Name)
		switch {
		case !ok:
			out = append(out, "parameter "+p.Name+" added")
		case !sameJSON(op.Schema, p.Schema) || op.Required != p.Required:
			out = append(out, "parameter "+p.Name+" changed")
		}
	}
	for _, p := range a.Params {
		if _, ok := b.Param(p.Name); !ok {
			out = append(out, "parameter "+p.Name+" removed")
		}
	}
	for _, c := range b.Columns {
		if !hasColumn(a, c.Name) {
			out = append(out, "column "+c.Name+" added")
		}
	}
	for _, c := range a.Columns {
		if !hasColumn(b, c.Name) {
			out = append(out, "column "+c.Name+" removed")
		}
	}
	if a.Description != b.Description {
		out = append(out, "description changed")
	}
	if len(out) == 0 && !sameJSON(a.Listing(), b.Listing()) {
		out = append(out, "schema changed")
	}
	return out
}

func sameJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// Empty reports whether nothing changed.
func (d ToolDiff) Empty() bool { return len(d.Added)+len(d.Removed)+len(d.Changed) == 0 }

// Lines renders the diff as one log line per change.
func (d ToolDiff) Lines() []string {
	var out []string
	for _, n := range d.Added {
		out = append(out, "tool "+n+" added")
	}
	for _, n := range d.Removed {
		out = append(out, "tool "+n+" removed")
	}
	for _, c := range d.Changed {
		for _, ch := range c.Changes {
			out = append(out, "tool "+c.Tool+": "+ch)
		}
	}
	return out
}

package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pgmoat/pgmoat/policy"
)

// cachedQuery answers a table or entity call, from the result cache when
// it is on and holds a fresh answer for the same caller and arguments
// under the same rules: the key carries the engine's generation, so after
// a RELOAD changed the profiles no answer the old rules let through is
// served (an answer is served before any policy check).
func (s *Server) cachedQuery(ctx context.Context, id policy.Identity, set *ToolSet, spec *ToolSpec, raw json.RawMessage) *sdk.CallToolResult {
	rc := s.results.Load()
	if rc == nil || rc.ttlOf(spec.Name) <= 0 {
		return s.runQuery(ctx, id, set, spec, raw)
	}
	key, ok := resultKey(spec.Name, id, s.opts.Engine.Generation(), raw)
	if !ok {
		return s.runQuery(ctx, id, set, spec, raw)
	}
	if res, ok := rc.get(key); ok {
		s.stats.resultHits.Add(1)
		infoOf(ctx).resultHit = true
		return res
	}
	s.stats.resultMisses.Add(1)
	res := s.runQuery(ctx, id, set, spec, raw)
	if !res.IsError {
		rc.add(spec.Name, key, res)
	}
	return res
}

// resultKey is the caller and the generation of the rules plus the
// arguments in canonical form (keys sorted, numbers as written). The
// generation is read before the call is judged, so an answer made under
// newer rules may sit under an older key, never the reverse.
func resultKey(tool string, id policy.Identity, gen uint64, raw json.RawMessage) (string, bool) {
	obj, err := decodeObject(raw)
	if err != nil {
		return "", false
	}
	canon, err := json.Marshal(obj)
	if err != nil {
		return "", false
	}
	return tool + "\x00" + id.UserID + "\x00" + id.Profile + "\x00" + strconv.FormatUint(gen, 10) + "\x00" + string(canon), true
}

func (s *Server) runQuery(ctx context.Context, id policy.Identity, set *ToolSet, spec *ToolSpec, raw json.RawMessage) *sdk.CallToolResult {
	a, err := parseArgs(spec, raw, s.opts.MaxValueBytes)
	if err != nil {
		return errorResult(advice(spec, err))
	}
	return s.execute(ctx, id, set, spec, a)
}

// execute runs a validated call: shape, statement (cached), policy check,
// execution under the caller's identity, shaping.
func (s *Server) execute(ctx context.Context, id policy.Identity, set *ToolSet, spec *ToolSpec, a *callArgs) *sdk.CallToolResult {
	keys := orderKeys(spec, a.order)
	digest := cursorDigest(spec, id, a, keys)
	var position []*string
	var after []bool
	if a.cursor != "" {
		if spec.PrimaryKey == nil {
			return errorResult(spec.Name + " has no cursor: it has no primary key to page by. Narrow the filters instead.")
		}
		pos, err := decodeCursor(s.opts.CursorKey, digest, a.cursor, len(keys))
		if err != nil {
			return errorResult(advice(spec, err))
		}
		position, after = pos, nullPattern(pos)
	}
	sh := newShape(spec, a, after)
	pl, hit, err := s.plan(set, sh, id)
	infoOf(ctx).shapeHit = hit
	if err != nil {
		s.staleCheck(err)
		infoOf(ctx).noteDenial(err)
		return errorResult(advice(spec, err))
	}
	pageSize, fetch, probeLost := s.pageSize(spec, id, a.limit)
	infoOf(ctx).sql = pl.sql
	budget := s.opts.MaxResultBytes
	if budget <= 0 {
		budget = DefaultMaxResultBytes
	}
	// The executor's bound is on text forms, which JSON may shrink (bytea
	// hex becomes base64): twice the budget never drops a value that
	// would fit, and still bounds what a call holds.
	rows, err := s.opts.Executor.Query(ctx, id, 2*budget, pl.sql, pl.bindValues(a, position, fetch)...)
	if err != nil {
		s.staleCheck(err)
		infoOf(ctx).noteDenial(err)
		s.opts.Logger.Info("tool call failed", "tool", spec.Name, "user", id.UserID, "err", err)
		logIfInternal(s.opts.Logger, spec.Name, err)
		return errorResult(advice(spec, err))
	}
	if len(rows.Columns) != len(pl.selected) {
		s.staleCheck(&staleError{what: "a column"})
		return errorResult(advice(spec, &staleError{what: "a column of " + spec.Table.String()}))
	}
	pg, last, err := shapeRows(pl, rows, pageSize, probeLost, budget)
	if err != nil {
		return errorResult(advice(spec, err))
	}
	if last != nil && spec.PrimaryKey != nil {
		pg.NextCursor = encodeCursor(s.opts.CursorKey, digest, last)
	}
	return encodePage(pg, spec.Name, s.opts.DataWrapper)
}

// pageSize is min(requested or default, tool maximum, profile max_rows).
// fetch asks for one probe row beyond it to learn whether more exist;
// when the profile's cap makes the probe impossible, probeLost is set.
func (s *Server) pageSize(spec *ToolSpec, id policy.Identity, requested int) (page, fetch int, probeLost bool) {
	page = spec.DefaultLimit
	if requested > 0 {
		page = requested
	}
	page = min(page, spec.MaxRows)
	profMax := policy.DefaultMaxRows
	if p, ok := s.opts.Engine.Profile(id.Profile); ok && p.MaxRows > 0 {
		profMax = p.MaxRows
	}
	page = max(min(page, profMax), 1)
	fetch = page + 1
	return page, fetch, fetch > profMax
}

// plan returns the verified statement of a shape, building and checking
// it on the first call of the shape.
func (s *Server) plan(set *ToolSet, sh *shape, id policy.Identity) (pl *plan, hit bool, err error) {
	cache := s.shapes.Load()
	key := sh.key(id.Profile)
	if cache.set == set {
		if pl, ok := cache.plans.Get(key); ok {
			s.stats.shapeHits.Add(1)
			return pl, true, nil
		}
	}
	s.stats.shapeMisses.Add(1)
	rel, ok := set.Snapshot.Relation(sh.tool.Table.Schema, sh.tool.Table.Name)
	if !ok {
		return nil, false, &staleError{what: "relation " + sh.tool.Table.String()}
	}
	pl, err = build(sh, rel)
	if err != nil {
		return nil, false, err
	}
	if err := verify(s.opts.Engine, id, sh.tool, pl.sql); err != nil {
		return nil, false, err
	}
	if cache.set == set {
		cache.plans.Add(key, pl)
	}
	return pl, false, nil
}

// callInfo collects what one tool call did, for its CallRecord.
type callInfo struct {
	shapeHit, resultHit bool
	rule                string // policy rule, when the call was denied
	sql                 string // the statement sent to the executor
}

type callInfoKey struct{}

// infoOf returns the call's info; a throwaway one outside a handler.
func infoOf(ctx context.Context) *callInfo {
	if ci, ok := ctx.Value(callInfoKey{}).(*callInfo); ok {
		return ci
	}
	return &callInfo{}
}

func (ci *callInfo) noteDenial(err error) {
	var pe *policy.Error
	if errors.As(err, &pe) {
		ci.rule = pe.Rule
	}
}

// searchFunctions are the only functions a built statement may call.
var searchFunctions = []policy.FunctionName{
	{Schema: "pg_catalog", Name: "websearch_to_tsquery"},
	{Schema: "pg_catalog", Name: "to_tsvector"},
}

// verify puts a built statement through the same policy decision as psql
// traffic and checks that it reads only the tool's relation: a builder
// bug must still be caught.
func verify(engine *policy.Engine, id policy.Identity, spec *ToolSpec, sql string) error {
	v := engine.Decide(id, sql)
	if err := v.Err(); err != nil {
		return err
	}
	want := policy.RelationName{Schema: spec.Table.Schema, Name: spec.Table.Name}
	if v.Kind != policy.KindSelect || len(v.Relations) != 1 || v.Relations[0] != want {
		return &policy.Error{SQLState: policy.SQLStateDenied, Rule: "mcp.verify",
			Message: fmt.Sprintf("pgmoat: mcp.verify: the statement built for %s reads %s instead of %s alone; refused",
				spec.Name, quotedRelations(v.Relations), quoteQualified(spec.Table))}
	}
	for _, f := range v.Functions {
		if !slices.Contains(searchFunctions, f) {
			return &policy.Error{SQLState: policy.SQLStateDenied, Rule: "mcp.verify",
				Message: fmt.Sprintf("pgmoat: mcp.verify: the statement built for %s calls %s; refused", spec.Name, f)}
		}
	}
	return nil
}

// quotedRelations spells relations as SQL would, which keeps "a.b"."c"
// and "a"."b.c" apart in a message.
func quotedRelations(rels []policy.RelationName) string {
	parts := make([]string, len(rels))
	for i, r := range rels {
		parts[i] = policy.QuoteIdent(r.Schema) + "." + policy.QuoteIdent(r.Name)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func (s *Server) staleCheck(err error) {
	if s.opts.OnStale == nil {
		return
	}
	_, stale := err.(*staleError)
	if de, ok := asDBError(err); ok {
		switch de.SQLState {
		case stateUndefinedTab, stateUndefinedCol, stateUndefinedObj:
			stale = true
		}
	}
	if stale {
		s.opts.OnStale()
	}
}

// logIfInternal logs, with a stack, a failure that is none of the kinds a
// caller can cause (policy, database, stale schema, cancellation): those
// are pgmoat's own bugs and need the stack to be found.
func logIfInternal(logger *slog.Logger, tool string, err error) {
	var pe *policy.Error
	var se *staleError
	var ae *argError
	if logger == nil || errors.As(err, &pe) || errors.As(err, &se) || errors.As(err, &ae) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return
	}
	if _, ok := asDBError(err); ok {
		return
	}
	logger.Error("internal error", "tool", tool, "err", err, "stack", string(debug.Stack()))
}

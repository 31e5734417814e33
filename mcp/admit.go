package mcp

import (
	"context"
	"fmt"
	"strings"
	"sync"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/policy"
)

// LeftOut is a tool the policy would refuse for a profile, and why: it is
// not listed to that profile (invariant 11).
type LeftOut struct {
	Tool     string
	Relation introspect.QualifiedName
	Reason   string
}

// Admit judges every table and entity tool of set for id: a tool is
// admitted when the policy allows the widest statement it builds (every
// filter present, so the text-search functions too, every column, the
// default order). Narrower calls of the tool only drop parts of that
// statement. left says why each other tool was refused.
func Admit(set *ToolSet, engine *policy.Engine, id policy.Identity) (admitted map[string]bool, left []LeftOut) {
	admitted = map[string]bool{}
	for _, t := range append(append([]*ToolSpec(nil), set.Tables...), set.Entities...) {
		if err := admitTool(set, engine, id, t); err != nil {
			left = append(left, LeftOut{Tool: t.Name, Relation: t.Table, Reason: err.Error()})
			continue
		}
		admitted[t.Name] = true
	}
	return admitted, left
}

// ReadableByAny is a GenerateOptions.Readable that asks engine whether
// any of profiles may read a relation at all (SELECT 1 FROM it): what it
// refuses for every profile, no tool of it could ever be admitted.
// Admit still judges each tool per profile.
func ReadableByAny(engine *policy.Engine, profiles []string) func(introspect.QualifiedName) bool {
	return func(q introspect.QualifiedName) bool {
		sql := "SELECT 1 FROM " + quoteQualified(q)
		for _, p := range profiles {
			if engine.Decide(policy.Identity{Profile: p}, sql).Err() == nil {
				return true
			}
		}
		return false
	}
}

// Only returns a copy of set that lists just the admitted table and
// entity tools (the discovery tools stay), for printing what one profile
// would see.
func (s *ToolSet) Only(admitted map[string]bool) *ToolSet {
	out := *s
	self := func(t *ToolSpec) (*ToolSpec, bool) { return t, true }
	desc := func(t *ToolSpec) *string { return &t.Description }
	out.Tables, out.Entities = listed(s.Tables, admitted, self, desc), listed(s.Entities, admitted, self, desc)
	out.Warnings = nil
	for _, w := range s.Warnings {
		name, _, _ := strings.Cut(w, ":")
		if t, ok := s.Tool(name); ok && t.Table.Name != "" && !admitted[name] {
			continue // about a tool this profile does not get
		}
		out.Warnings = append(out.Warnings, w)
	}
	out.index()
	return &out
}

// listed is what a profile sees of ts, given the tools admitted to it: a
// table or entity tool (one spec finds a ToolSpec for) only if admitted,
// and described naming only the related tools it sees too (describeFor);
// any other tool as it is. ts is a ToolSet's specs or a tools/list
// answer; desc points at a tool's description. A tool whose description
// stays is shared, not copied.
func listed[T any](ts []*T, admitted map[string]bool, spec func(*T) (*ToolSpec, bool), desc func(*T) *string) []*T {
	kept := make([]*T, 0, len(ts))
	for _, t := range ts {
		if sp, ok := spec(t); ok {
			if !admitted[sp.Name] {
				continue
			}
			if d := sp.describeFor(admitted); d != *desc(t) {
				c := *t
				*desc(&c) = d
				t = &c
			}
		}
		kept = append(kept, t)
	}
	return kept
}

func admitTool(set *ToolSet, engine *policy.Engine, id policy.Identity, t *ToolSpec) error {
	rel, ok := set.Snapshot.Relation(t.Table.Schema, t.Table.Name)
	if !ok {
		return fmt.Errorf("relation %s is not in the catalog", t.Table)
	}
	a := &callArgs{filters: map[string]filterValue{}}
	for _, p := range t.Params {
		if p.Kind.IsFilter() {
			a.filters[p.Name] = filterValue{param: p}
		}
	}
	pl, err := build(newShape(t, a, nil), rel)
	if err != nil {
		return err
	}
	return verify(engine, id, t, pl.sql)
}

// admission caches Admit per profile for one tool set and one engine
// generation (profiles or catalog swapped: judged again).
type admission struct {
	set *ToolSet
	gen uint64

	mu        sync.Mutex
	byProfile map[string]map[string]bool
}

func (s *Server) admitted(set *ToolSet, id policy.Identity) map[string]bool {
	gen := s.opts.Engine.Generation()
	a := s.admissions.Load()
	if a == nil || a.set != set || a.gen != gen {
		a = &admission{set: set, gen: gen, byProfile: map[string]map[string]bool{}}
		s.admissions.Store(a)
	}
	profile := id.ProfileName()
	a.mu.Lock()
	defer a.mu.Unlock()
	if m, ok := a.byProfile[profile]; ok {
		return m
	}
	m, left := Admit(set, s.opts.Engine, id)
	if len(left) > 0 {
		s.opts.Logger.Info("tools left out of tools/list: the policy refuses their statements", "profile", profile, "count", len(left), "first", left[0].Tool, "reason", left[0].Reason)
	}
	a.byProfile[profile] = m
	return m
}

// filterToolsList is receiving middleware: a tools/list answer carries
// only the tools the caller's profile may run.
func (s *Server) filterToolsList(next sdk.MethodHandler) sdk.MethodHandler {
	return filterAnswer(next, "tools/list", func(req sdk.Request, lr *sdk.ListToolsResult) *sdk.ListToolsResult {
		id, ok := s.identityOf(req.GetExtra())
		if !ok {
			return lr
		}
		set := s.shapes.Load().set
		tableTool := func(t *sdk.Tool) (*ToolSpec, bool) {
			spec, ok := set.Tool(t.Name)
			return spec, ok && spec.Table.Name != ""
		}
		out := *lr
		out.Tools = listed(lr.Tools, s.admitted(set, id), tableTool, func(t *sdk.Tool) *string { return &t.Description })
		return &out
	})
}

// filterAnswer is receiving middleware that passes a successful answer to
// method through filter, and every other answer on as it is.
func filterAnswer[R sdk.Result](next sdk.MethodHandler, method string, filter func(sdk.Request, R) R) sdk.MethodHandler {
	return func(ctx context.Context, m string, req sdk.Request) (sdk.Result, error) {
		res, err := next(ctx, m, req)
		r, ok := res.(R)
		if err != nil || m != method || !ok {
			return res, err
		}
		return filter(req, r), nil
	}
}

// visibleSet is set as the caller of a request may see it: only the table
// and entity tools tools/list shows them (Only), so the resources and
// the explore prompt describe no table the policy refuses the caller's
// profile. A request without an identity sees no table.
func (s *Server) visibleSet(set *ToolSet, extra *sdk.RequestExtra) *ToolSet {
	id, ok := s.identityOf(extra)
	if !ok {
		return set.Only(nil)
	}
	return set.Only(s.admitted(set, id))
}

// filterResourcesList is receiving middleware: a resources/list answer
// carries only the table resources of tables the caller's profile is
// shown.
func (s *Server) filterResourcesList(next sdk.MethodHandler) sdk.MethodHandler {
	return filterAnswer(next, "resources/list", func(req sdk.Request, lr *sdk.ListResourcesResult) *sdk.ListResourcesResult {
		set := s.shapes.Load().set
		hidden := map[string]bool{}
		for _, t := range set.Tables {
			hidden[TableURI(t.Table)] = true
		}
		for _, t := range s.visibleSet(set, req.GetExtra()).Tables {
			delete(hidden, TableURI(t.Table))
		}
		kept := make([]*sdk.Resource, 0, len(lr.Resources))
		for _, r := range lr.Resources {
			if !hidden[r.URI] {
				kept = append(kept, r)
			}
		}
		out := *lr
		out.Resources = kept
		return &out
	})
}

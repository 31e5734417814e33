package mcp

import (
	"math"
	"slices"

	"github.com/pgmoat/pgmoat/introspect"
)

// arrange decides which table tools tools/list carries one by one and
// which it leaves to the discovery tools (list_tables, describe_table,
// query_table), so that the list stays within the token budget.
//
// In auto mode every table tool is listed when all of them (with the
// entities) fit the budget. Otherwise the discovery tools are listed, and
// table tools follow in order of usefulness (see usefulness) while they
// fit: the listed ones are always the most useful prefix, so a table
// crosses the line only when the schema, its statistics or the
// configuration change. "always" lists no table tool, "never" all of them
// whatever they cost.
func (g *generator) arrange() {
	g.set.TokenBudget = g.opts.TokenBudget
	switch g.opts.Discovery {
	case "never":
		g.set.Discovery = false
		if total := g.cost(g.set.Tables) + g.cost(g.set.Entities); total > g.opts.TokenBudget {
			g.warn("discovery is never: tools/list costs about %d tokens, above the budget of %d", total, g.opts.TokenBudget)
		}
		return
	case "always":
		g.unlist(g.set.Tables, 0)
		return
	}
	fixed := g.cost(g.set.Entities)
	if len(g.set.Tables) <= g.maxListed() && fixed+g.cost(g.set.Tables) <= g.opts.TokenBudget {
		return
	}
	order := g.byUsefulness()
	n := g.fitting(order, fixed)
	for {
		g.unlist(order, n)
		// Hints to unlisted tables now go through query_table and cost a
		// few tokens more: drop the least useful listed tool until the
		// list fits again. n only shrinks, so this ends.
		if n == 0 || g.listedCost() <= g.opts.TokenBudget {
			break
		}
		n--
	}
	if over := g.listedCost(); over > g.opts.TokenBudget {
		g.warn("tools/list costs about %d tokens with no table tool listed, above the budget of %d: the entities alone exceed it",
			over, g.opts.TokenBudget)
	}
}

// maxListed is the configured cap on listed table tools (discovery_threshold),
// or no cap.
func (g *generator) maxListed() int {
	if g.opts.DiscoveryThreshold > 0 {
		return g.opts.DiscoveryThreshold
	}
	return math.MaxInt
}

// fitting is how many tools of order fit beside the entities and the
// discovery tools, at their current cost.
func (g *generator) fitting(order []*ToolSpec, fixed int) int {
	g.set.Meta = g.metaTools()
	used := fixed + g.cost(g.set.Meta)
	n := 0
	for _, t := range order {
		c := t.TokenCost()
		if n >= g.maxListed() || used+c > g.opts.TokenBudget {
			break
		}
		used += c
		n++
	}
	return n
}

// unlist lists the first n tools of order and the discovery tools, leaves
// the rest to query_table and rewrites every description for the new line.
func (g *generator) unlist(order []*ToolSpec, n int) {
	g.set.Discovery = true
	clear(g.unlisted)
	for i, t := range order {
		t.Unlisted = i >= n
		if t.Unlisted {
			g.unlisted[t.Name] = true
		}
	}
	for _, f := range g.redescribe {
		f()
	}
	g.set.Meta = g.metaTools()
}

func (g *generator) cost(ts []*ToolSpec) int {
	total := 0
	for _, t := range ts {
		total += t.TokenCost()
	}
	return total
}

func (g *generator) listedCost() int { return g.cost(g.set.Listed()) }

// byUsefulness orders the table tools most useful first; ties keep
// snapshot order, so the order is deterministic.
func (g *generator) byUsefulness() []*ToolSpec {
	order := slices.Clone(g.set.Tables)
	score := map[*ToolSpec]int{}
	for _, t := range order {
		r, _ := g.snap.Relation(t.Table.Schema, t.Table.Name)
		ov, _ := g.opts.override(t.Table)
		score[t] = usefulness(r, g.refName, r != nil && r.Comment != "" || ov.Description != "")
	}
	slices.SortStableFunc(order, func(a, b *ToolSpec) int { return score[b] - score[a] })
	return order
}

// usefulness scores how much a model gains from seeing a table's tool
// without asking list_tables first:
//
//   - 10 when the table is documented (a COMMENT or a configured
//     description): the model can tell from the list what it holds;
//   - 3 per related exposed relation (foreign keys either way, up to 5):
//     central tables are where questions start and joins pass through;
//   - 1 per order of magnitude of pg_class.reltuples (0 when never
//     analyzed): big tables are the ones worth an indexed lookup, lookup
//     tables of a few rows are easy to reach through query_table.
func usefulness(r *introspect.Relation, exposed map[introspect.QualifiedName]string, documented bool) int {
	if r == nil {
		return 0
	}
	s := 0
	if documented {
		s += 10
	}
	related := map[introspect.QualifiedName]bool{}
	for _, fk := range r.ForeignKeys {
		if _, ok := exposed[fk.To]; ok && fk.To != r.QualifiedName() {
			related[fk.To] = true
		}
	}
	for _, fk := range r.ReferencedBy {
		if _, ok := exposed[fk.From]; ok && fk.From != r.QualifiedName() {
			related[fk.From] = true
		}
	}
	s += 3 * min(len(related), 5)
	if r.EstimatedRows > 0 {
		s += int(math.Log10(float64(r.EstimatedRows)))
	}
	return s
}

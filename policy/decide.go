package policy

import (
	"fmt"
	"slices"

	pg_query "github.com/pganalyze/pg_query_go/v5"
	"github.com/pganalyze/pg_query_go/v5/parser"
)

// denied turns a denial into a Verdict of the given kind (the denial's
// own kind wins when it has one).
func denied(d *denial, kind Kind) Verdict {
	if d.kind != "" {
		kind = d.kind
	}
	return Verdict{SQLState: d.state, Rule: d.rule, Reason: d.reason, Kind: kind}
}

// decide is Decide without the cache. A rewrite is itself judged before it
// is returned: the text pgmoat sends must be allowed as it stands, touch
// the same relations and functions, and need no further rewrite. This
// guards against deparser quirks (a few odd type spellings deparse to
// text that does not parse back).
func (e *Engine) decide(r *rules, fc FunctionCatalog, implied error, sql string) Verdict {
	return e.decideTraced(r, fc, implied, sql, nil)
}

// decideTraced is decide recording in tr, when set, what the verdict read
// of the text's constants. The second judging reads the rewrite, not the
// text, and is not traced: it judges the deparse of the bounded tree.
func (e *Engine) decideTraced(r *rules, fc FunctionCatalog, implied error, sql string, tr *shapeTrace) Verdict {
	v := e.decideOnce(r, fc, implied, sql, tr)
	if v.Rewritten == "" {
		return v
	}
	again := e.decideOnce(r, fc, implied, v.Rewritten, nil)
	switch {
	case !again.Allowed:
		return denied(deny(RuleRewrite, fmt.Sprintf("the bounded statement is not allowed as deparsed (%s: %s)", again.Rule, again.Reason)), v.Kind)
	case again.Rewritten != "" || !slices.Equal(again.Relations, v.Relations) || !slices.Equal(again.Functions, v.Functions) || !slices.Equal(again.Implicit, v.Implicit):
		return denied(deny(RuleRewrite, "the bounded statement does not deparse to the same query"), v.Kind)
	}
	return v
}

// decideOnce judges one text.
func (e *Engine) decideOnce(r *rules, fc FunctionCatalog, implied error, sql string, tr *shapeTrace) Verdict {
	if d := checkInput(sql, e.maxBytes, &e.nums); d != nil {
		return denied(d, KindUnknown)
	}
	text, names, err := encodingOf(fc).serverNames(sql)
	if err != nil {
		return (&walker{}).deniedErr(err, KindUnknown)
	}
	js, err := pg_query.ParseToJSON(text)
	if err != nil {
		return denied(&denial{state: SQLStateSyntax, rule: RuleParse, reason: err.Error()}, KindUnknown)
	}
	pb, lossy, err := e.schema.jsonToProtobufNames(sql, js, e.maxDepth, names)
	if err != nil {
		return (&walker{}).deniedErr(err, KindUnknown)
	}
	w := &walker{s: e.schema, n: &e.nums, r: r, fc: fc, catRels: e.catRels, maxDepth: e.maxDepth, exactOnly: lossy, implied: implied, trace: tr}
	v, needExact := w.judge(pb, r.profile)
	if !needExact {
		return v
	}
	// The tree holds an integer the JSON lost; bound and deparse the
	// exact tree instead. That tree holds the parser's cut of every
	// name, so a text whose names the server cuts otherwise is refused.
	if names != nil {
		return denied(deny(RuleIdentifierEncoding, "a statement that needs its exact tree cannot also hold names the database's encoding cuts otherwise than UTF-8"), KindUnknown)
	}
	if pb, err = parser.ParseToProtobuf(sql); err != nil {
		return denied(&denial{state: SQLStateSyntax, rule: RuleParse, reason: err.Error()}, KindUnknown)
	}
	if tr != nil {
		*tr = shapeTrace{}
	}
	w = &walker{s: e.schema, n: &e.nums, r: r, fc: fc, catRels: e.catRels, maxDepth: e.maxDepth, implied: implied, trace: tr}
	v, _ = w.judge(pb, r.profile)
	return v
}

// judge walks every statement of a parsed text and bounds its SELECTs.
// needExact reports that a rewrite is due, or a SET read an integer,
// but the tree came from lossy JSON (w.exactOnly); the caller then
// judges the exact tree.
func (w *walker) judge(pb []byte, p Profile) (v Verdict, needExact bool) {
	raws := allBytes(pb, w.n.resultStmts)
	if len(raws) == 0 {
		return denied(deny(RuleInput, "no statement (only comments or semicolons)"), KindEmpty), false
	}
	if len(raws) > 1 && !p.AllowMultiStatement {
		return denied(deny(RuleMultiStmt, fmt.Sprintf("%d statements in one query; send one statement at a time", len(raws))), w.firstKind(raws[0])), false
	}
	var kind Kind
	rewritten, endsEarly := false, false
	out := make([][]byte, len(raws))
	for i, raw := range raws {
		out[i] = raw
		node, _ := findBytes(raw, w.n.rawStmt)
		k, err := w.statement(node)
		if i == 0 {
			kind = k
		}
		if w.lostInt {
			return Verdict{}, true // SET x = -5 is not SET x = 0
		}
		if err != nil {
			return w.deniedErr(err, k), false
		}
		if i < len(raws)-1 && (k == KindCommit || k == KindRollback) {
			endsEarly = true
		}
		if k != KindSelect {
			continue
		}
		if w.implied != nil {
			return w.deniedErr(w.implied, k), false
		}
		_, sel, _ := w.concrete(node)
		bounded, err := w.bound(sel, p.MaxRows)
		if err != nil {
			return w.deniedErr(err, k), false
		}
		if bounded != nil {
			out[i] = w.rawWithSelect(raw, bounded)
			rewritten = true
		}
	}
	if d := w.r.deniedAnySchema(w.rels); d != nil {
		return denied(d, kind), false
	}
	if w.setting != nil && len(raws) > 1 {
		return denied(deny(RuleSettings, "a client setting must be sent alone, not with other statements"), kind), false
	}
	if w.deallocation != nil && len(raws) > 1 {
		return denied(deny(RuleKind, "DEALLOCATE must be sent alone, not with other statements"), kind), false
	}
	v = Verdict{Allowed: true, Kind: kind, Relations: w.rels, Functions: w.funcs, Implicit: w.implicit, Setting: w.setting,
		Deallocate: w.deallocation, EndsEarly: endsEarly}
	if !rewritten {
		return v, false
	}
	if w.exactOnly {
		return v, true
	}
	sql, err := w.rebuild(pb, out)
	if err != nil {
		return w.deniedErr(err, kind), false
	}
	v.Rewritten = sql
	return v, false
}

func (w *walker) deniedErr(err error, kind Kind) Verdict {
	if d, ok := err.(*denial); ok {
		return denied(d, kind)
	}
	return denied(deny(RuleNode, err.Error()), kind)
}

// firstKind classifies a statement without judging it, for the verdict of
// a multi-statement text.
func (w *walker) firstKind(raw []byte) Kind {
	node, _ := findBytes(raw, w.n.rawStmt)
	m, b, err := w.concrete(node)
	if err != nil {
		return KindUnknown
	}
	if m.name == "TransactionStmt" {
		if k := w.transactionKind(b); k != KindTransaction {
			return k
		}
	}
	return statementKind(m.name)
}

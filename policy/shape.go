package policy

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pganalyze/pg_query_go/v5/parser"
)

// The shape cache answers a simple-protocol text that differs from one
// already judged only in the values of its constants, without parsing it.
// README.md ("Shape cache") gives the safety argument; in short:
//
//   - scanShape accepts only texts it lexes exactly as PostgreSQL does;
//   - a constant is free (its value may differ between texts sharing an
//     entry) only if the parse tree holds it as one A_Const at its
//     position, with its value, where the deparser prints it plainly, and
//     no rule read it; every other constant is pinned: its text is part of
//     the key;
//   - a text that casts a constant to a reg* type or calls a function
//     taking a name shares nothing;
//   - before an entry answers, a probe text with every free constant
//     replaced by a sentinel of its kind is judged in full: its verdict
//     must equal the learnt text's, and the deparse of both trees, as
//     well as the rewrite, must be one template with the constants at the
//     sentinels' places.

// maxShapeVariants bounds the pinned-value variants learnt per shape.
const maxShapeVariants = 16

type shapeKey struct {
	gen     uint64
	profile string
	shape   string
}

// shapeEntry is one shape's cached knowledge. info is set once the shape
// has been studied; variants (by pinned values) are learnt on their second
// sighting.
type shapeEntry struct {
	info     atomic.Pointer[shapeInfo]
	mu       sync.Mutex
	variants map[string]*shapeVariant
}

// shapeInfo is what holds for every text of a shape.
type shapeInfo struct {
	noShare string // why the shape shares nothing; "" if it may
	pinned  []int  // indices of the pinned constants
}

type shapeVariant struct {
	seen int
	tmpl *shapeTemplate // nil until learnt, or when it cannot be
	done bool           // learning was tried
}

// shapeTemplate answers every text of one variant: the verdict, and the
// rewrite as literal pieces with the free constants between them.
type shapeTemplate struct {
	v  Verdict // Rewritten empty
	rw *textTemplate
}

// textTemplate is lits[0] const(slots[0]) lits[1] ... lits[len(slots)].
type textTemplate struct {
	lits  []string
	slots []int
	size  int
}

func (t *textTemplate) fill(sql string, consts []shapeTok) string {
	var b strings.Builder
	b.Grow(t.size + len(sql))
	b.WriteString(t.lits[0])
	for i, s := range t.slots {
		b.WriteString(constPrinted(sql, consts[s]))
		b.WriteString(t.lits[i+1])
	}
	return b.String()
}

// pinKey joins the texts of the pinned constants.
func pinKey(sql string, consts []shapeTok, pinned []int) string {
	if len(pinned) == 0 {
		return ""
	}
	var b []byte
	for _, i := range pinned {
		t := consts[i]
		b = binary.AppendUvarint(b, uint64(t.end-t.start))
		b = append(b, sql[t.start:t.end]...)
	}
	return string(b)
}

// DecideQuery judges the text of a simple-protocol Query. It answers as
// Decide does (TestShapeDifferential compares them), but a text that
// differs from texts already judged only in constants the verdict does not
// depend on is answered from the shape cache, without a parse.
func (e *Engine) DecideQuery(id Identity, sql string) Verdict {
	name := id.Profile
	if name == "" {
		name = DefaultProfile
	}
	cur := e.cur.Load()
	if v, ok := e.cache.Get(cacheKey{gen: cur.gen, profile: name, sql: sql}); ok {
		e.hits.Add(1)
		return v
	}
	if len(sql) > maxCachedBytes || len(sql) > e.maxBytes {
		return e.Decide(id, sql)
	}
	sh, ok := scanShape(sql, false)
	if !ok || len(sh.consts) == 0 {
		return e.Decide(id, sql)
	}
	key := shapeKey{gen: cur.gen, profile: name, shape: sh.key}
	ent, found := e.shapes.Get(key)
	if found {
		if v, ok := ent.answer(sql, sh.consts); ok {
			e.shapeHits.Add(1)
			return v
		}
	}
	v := e.Decide(id, sql)
	if !found {
		e.shapes.ContainsOrAdd(key, &shapeEntry{})
		return v
	}
	if v.Rule != RuleBusy {
		e.learn(cur, name, ent, sql)
	}
	return v
}

// answer returns the verdict for sql from a learnt variant.
func (ent *shapeEntry) answer(sql string, consts []shapeTok) (Verdict, bool) {
	info := ent.info.Load()
	if info == nil || info.noShare != "" {
		return Verdict{}, false
	}
	pins := pinKey(sql, consts, info.pinned)
	ent.mu.Lock()
	va := ent.variants[pins]
	var t *shapeTemplate
	if va != nil {
		t = va.tmpl
	}
	ent.mu.Unlock()
	if t == nil {
		return Verdict{}, false
	}
	v := t.v
	if t.rw != nil {
		v.Rewritten = t.rw.fill(sql, consts)
	}
	return v, true
}

// learn studies a shape on its second sighting, which is also the first
// of that text's variant, and learns a variant on its second sighting. Learning judges texts in full and so holds room in
// the judging budget; without room it is skipped.
func (e *Engine) learn(cur *catalogRef, name string, ent *shapeEntry, sql string) {
	r, ok := cur.profiles[name]
	if !ok {
		return
	}
	sh, ok := scanShape(sql, true)
	if !ok {
		return
	}
	info := ent.info.Load()
	if info != nil && info.noShare != "" {
		return
	}
	if info != nil {
		pins := pinKey(sql, sh.consts, info.pinned)
		ent.mu.Lock()
		if ent.variants == nil {
			ent.variants = map[string]*shapeVariant{}
		}
		va := ent.variants[pins]
		if va == nil && len(ent.variants) < maxShapeVariants {
			va = &shapeVariant{}
			ent.variants[pins] = va
		}
		learnNow := va != nil && !va.done && va.seen >= 1
		if va != nil {
			va.seen++
			if learnNow {
				va.done = true
			}
		}
		ent.mu.Unlock()
		if !learnNow {
			return
		}
		if !e.budget.acquire(len(sql)) {
			ent.mu.Lock()
			va.done = false
			ent.mu.Unlock()
			return
		}
		defer e.budget.release(len(sql))
		t, _ := e.buildTemplate(cur, name, r, sql, sh, info)
		ent.mu.Lock()
		va.tmpl = t
		ent.mu.Unlock()
		return
	}
	if !e.budget.acquire(len(sql)) {
		return
	}
	defer e.budget.release(len(sql))
	info = e.studyShape(cur, name, r, sql, sh)
	if !ent.info.CompareAndSwap(nil, info) || info.noShare != "" {
		return
	}
	// This text counts as its variant's first sighting.
	ent.mu.Lock()
	ent.variants = map[string]*shapeVariant{pinKey(sql, sh.consts, info.pinned): {seen: 1}}
	ent.mu.Unlock()
}

// impliedFor is the profile's implied-calls judgment under cur.
func (e *Engine) impliedFor(cur *catalogRef, name string, r *rules) error {
	return cur.implied.get(name, func() error {
		return (&walker{s: e.schema, n: &e.nums, r: r, fc: cur.fc, catRels: e.catRels}).impliedCalls()
	})
}

// unshareableRules are verdicts whose reason quotes the text (parse
// errors name the token), or that come from checks outside the tree.
func unshareableRule(rule string) bool {
	switch rule {
	case RuleParse, RuleInput, RuleDepth, RuleBusy, RuleRewrite, RuleProfile:
		return true
	}
	return false
}

// studyShape decides, from one text of a shape, which constants are
// pinned, or that the shape shares nothing.
func (e *Engine) studyShape(cur *catalogRef, name string, r *rules, sql string, sh shape) *shapeInfo {
	var tr shapeTrace
	v := e.decideTraced(r, cur.fc, e.impliedFor(cur, name, r), sql, &tr)
	if tr.noShare != "" {
		return &shapeInfo{noShare: tr.noShare}
	}
	if unshareableRule(v.Rule) {
		return &shapeInfo{noShare: "verdict of rule " + v.Rule}
	}
	sites, err := constSites(sql)
	if err != nil {
		return &shapeInfo{noShare: "does not parse"}
	}
	pinned, why := pinnedConsts(sql, sh, sites, tr.reads)
	if why != "" {
		return &shapeInfo{noShare: why}
	}
	return &shapeInfo{pinned: pinned}
}

// pinnedConsts matches the text's constants with the tree's A_Consts and
// the rules' reads, and returns the indices of the constants that must be
// pinned. why is set when the text cannot share at all.
func pinnedConsts(sql string, sh shape, sites []constSite, reads []int32) (pinned []int, why string) {
	tokAt := make(map[int32]int, len(sh.toks))
	constAt := make(map[int32]int, len(sh.consts))
	for i, t := range sh.toks {
		tokAt[t.start] = i
	}
	for i, t := range sh.consts {
		constAt[t.start] = i
	}
	pin := make([]bool, len(sh.consts))
	// A constant derived from the token after an operator (doNegate
	// folds -5 into one A_Const placed at the minus): pin that token.
	pinAfter := func(ti int) {
		if ti+1 < len(sh.toks) {
			if ci, ok := constAt[sh.toks[ti+1].start]; ok {
				pin[ci] = true
			}
		}
	}
	// place sorts a tree position: a constant, or some other token.
	place := func(loc int32) string {
		if loc < 0 {
			return ""
		}
		ti, ok := tokAt[loc]
		if !ok {
			return fmt.Sprintf("a constant at byte %d, where no token starts", loc)
		}
		if sh.toks[ti].kind == tokOp {
			pinAfter(ti)
		}
		return ""
	}
	matched := make([]int, len(sh.consts))
	for _, s := range sites {
		if why := place(s.loc); why != "" {
			return nil, why
		}
		ci, ok := constAt[s.loc]
		if !ok {
			continue
		}
		matched[ci]++
		t := sh.consts[ci]
		want := tokDec
		if t.kind == tokInt || t.kind == tokStr {
			want = t.kind
		}
		if !s.plain || s.kind != want || s.value != constValue(sql, t) {
			pin[ci] = true
		}
	}
	for _, loc := range reads {
		if loc < 0 {
			return nil, "a rule read a constant of unknown position"
		}
		if why := place(loc); why != "" {
			return nil, why
		}
		if ci, ok := constAt[loc]; ok {
			pin[ci] = true
		}
	}
	for ci, n := range matched {
		if n != 1 {
			pin[ci] = true // consumed by the grammar, or made into two nodes
		}
	}
	for ci, p := range pin {
		if p {
			pinned = append(pinned, ci)
		}
	}
	return pinned, ""
}

// sentinel returns the probe value for free constant k of kind kind: one
// no text is likely to hold, of the same lexical kind, printed by the
// deparser exactly as written.
func sentinel(kind tokKind, k int) string {
	switch kind {
	case tokInt:
		return strconv.Itoa(1987600000 + k)
	case tokBigInt:
		return strconv.Itoa(98765432100000 + k)
	case tokDec:
		return strconv.Itoa(1987700000+k) + ".25"
	}
	return fmt.Sprintf("'Pg''%05dM'", k)
}

// buildTemplate learns the variant of sql: its verdict, and the rewrite
// as a template, checked against a probe text judged in full.
func (e *Engine) buildTemplate(cur *catalogRef, name string, r *rules, sql string, sh shape, info *shapeInfo) (*shapeTemplate, string) {
	implied := e.impliedFor(cur, name, r)
	var tr shapeTrace
	v := e.decideTraced(r, cur.fc, implied, sql, &tr)
	if why := checkTrace(tr, sh, info); why != "" || unshareableRule(v.Rule) {
		return nil, "text: " + why
	}
	// The probe: every free constant replaced by its sentinel.
	var b strings.Builder
	var sentinels []string
	free := make([]int, 0, len(sh.consts))
	last := 0
	for ci, t := range sh.consts {
		if slices.Contains(info.pinned, ci) {
			continue
		}
		s := sentinel(t.kind, len(free))
		b.WriteString(sql[last:t.start])
		b.WriteString(s)
		last = int(t.end)
		free = append(free, ci)
		sentinels = append(sentinels, s)
	}
	b.WriteString(sql[last:])
	probe := b.String()
	psh, ok := scanShape(probe, true)
	if !ok || psh.key != sh.key || pinKey(probe, psh.consts, info.pinned) != pinKey(sql, sh.consts, info.pinned) {
		return nil, "probe lexes differently"
	}
	var ptr shapeTrace
	pv := e.decideTraced(r, cur.fc, implied, probe, &ptr)
	if why := checkTrace(ptr, psh, info); why != "" {
		return nil, "probe: " + why
	}
	if !sameVerdict(v, pv) {
		return nil, "probe verdict differs"
	}
	// The trees: deparsed, the probe's must be a template giving the
	// text's own deparse. This is what shows that no free constant
	// shaped the tree beyond its own value.
	dt, err1 := deparseText(sql)
	dp, err2 := deparseText(probe)
	if err1 != nil || err2 != nil {
		return nil, "does not deparse"
	}
	tree, ok := makeTemplate(dp, sentinels, free)
	if !ok || tree.fill(sql, sh.consts) != dt {
		return nil, "tree depends on a free constant"
	}
	t := &shapeTemplate{v: v}
	t.v.Rewritten = ""
	if v.Rewritten != "" {
		rw, ok := makeTemplate(pv.Rewritten, sentinels, free)
		if !ok || rw.fill(sql, sh.consts) != v.Rewritten {
			return nil, "rewrite depends on a free constant"
		}
		t.rw = rw
	}
	return t, ""
}

// checkTrace checks a traced judgment against the shape's study: nothing
// refused sharing, and every constant read is pinned.
func checkTrace(tr shapeTrace, sh shape, info *shapeInfo) string {
	if tr.noShare != "" {
		return tr.noShare
	}
	for _, loc := range tr.reads {
		if loc < 0 {
			return "a read of unknown position"
		}
		for ci, t := range sh.consts {
			if t.start == loc && !slices.Contains(info.pinned, ci) {
				return "a rule read a free constant"
			}
		}
	}
	return ""
}

// sameVerdict compares everything but the rewrite's text.
func sameVerdict(a, b Verdict) bool {
	return a.Allowed == b.Allowed && a.SQLState == b.SQLState && a.Rule == b.Rule &&
		a.Reason == b.Reason && a.Kind == b.Kind &&
		slices.Equal(a.Relations, b.Relations) && slices.Equal(a.Functions, b.Functions) &&
		slices.Equal(a.Implicit, b.Implicit) && (a.Rewritten == "") == (b.Rewritten == "") && a.EndsEarly == b.EndsEarly
}

func deparseText(sql string) (string, error) {
	pb, err := parser.ParseToProtobuf(sql)
	if err != nil {
		return "", err
	}
	return parser.DeparseFromProtobuf(pb)
}

// makeTemplate finds each sentinel exactly once in out, standing as a
// token of its own, and cuts out around them. slotOf[i] is the constant
// index sentinel i stands for.
func makeTemplate(out string, sentinels []string, slotOf []int) (*textTemplate, bool) {
	type hit struct{ at, n, slot int }
	hits := make([]hit, 0, len(sentinels))
	for i, s := range sentinels {
		if strings.Count(out, s) != 1 {
			return nil, false
		}
		at := strings.Index(out, s)
		if at > 0 && glues(out[at-1]) || at+len(s) < len(out) && glues(out[at+len(s)]) {
			return nil, false
		}
		hits = append(hits, hit{at, len(s), slotOf[i]})
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i].at < hits[j].at })
	t := &textTemplate{}
	last := 0
	for _, h := range hits {
		if h.at < last {
			return nil, false
		}
		t.lits = append(t.lits, out[last:h.at])
		t.slots = append(t.slots, h.slot)
		last = h.at + h.n
	}
	t.lits = append(t.lits, out[last:])
	t.size = len(out)
	return t, true
}

// glues reports whether c, next to a sentinel, would make it part of a
// longer token.
func glues(c byte) bool {
	return isLetter(c) || isDigit(c) || c == '.' || c == '$' || c == '\'' || c == '"'
}

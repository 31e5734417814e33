package proxy

import (
	"context"
	"strconv"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/policy"
)

// Drivers send their client SETs in the extended protocol too (pgjdbc,
// Npgsql, pgx, GUI tools built on them), unnamed or prepared under a name
// and executed again. The session answers each message of such a
// statement itself, as PostgreSQL answers it, and never sends the
// statement to a backend, where it would outlive the lending:
//
//   - Parse: ParseComplete; the statement is remembered with its
//     setting, nothing is taken yet.
//   - Bind: BindComplete, a portal of the session's own (setPortal);
//     like PostgreSQL's, it lives until the batch's Sync.
//   - Describe: ParameterDescription and NoData for the statement,
//     NoData for the portal.
//   - Execute: the setting is taken as a simple-protocol SET is
//     (takeClientSetting, with its TimeZone check on a server and its
//     refusal inside a transaction), each time a portal of the statement
//     runs; CommandComplete SET or RESET. A portal runs once: PostgreSQL
//     refuses a second Execute of a finished utility portal (55000).
//   - Close: CloseComplete.
//   - Sync: ReadyForQuery, and before it the ParameterStatus of each
//     reported setting whose value the batch changed, where PostgreSQL
//     14 and later send it.
//
// A batch is one implicit transaction in PostgreSQL: when a later
// message of the batch fails, the server rolls the SET back with the
// rest. So does the session: the settings before the batch's first SET
// are kept until its Sync is answered (extSets.undo), put back when an
// error ended the batch, and nothing is reported. A simple Query the
// session answers itself (a SET, a DEALLOCATE, an empty one) that ends
// the batch before Sync is part of that transaction too: the batch's
// SETs are settled when it succeeds and put back when it is refused. A SET the backend's
// statements come after in the same batch is in force for them: the
// backend is lent with the new settings. A BEGIN among those statements
// makes the batch's transaction the block, whose end decides the SET
// (clientsetblock.go).
//
// A SET after a statement a backend runs in the same batch, or inside a
// transaction block, is refused (settings.transaction): the backend's
// transaction has begun without it, and the session cannot undo it at a
// ROLLBACK it does not see. The refusal takes its place in the answers
// owed, after those of the statements before it.

// setPortal is a portal bound to a client SET statement.
type setPortal struct {
	cs *policy.ClientSetting
	// dealloc is set instead of cs for a DEALLOCATE (deallocate.go).
	dealloc *policy.Deallocation
	done    bool // executed: a second Execute is refused, as PostgreSQL does
}

// extSets is the state of the extended-protocol client SETs; the
// session goroutine's, with the rest of sessionWork's batch fields.
type extSets struct {
	// portals are the portals bound to client SETs, until Sync.
	portals map[string]*setPortal
	// taken says a SET of the current batch was taken; undo is the
	// session's client settings before the batch's first one (maps of
	// settings are never modified, only replaced).
	taken bool
	undo  map[string]string
	// names are the reported settings the batch set, before what the
	// client was last told of each (nil: nothing).
	names  []string
	before []*pgproto3.ParameterStatus
	// late are the reports of a batch a simple Query ended
	// (endOpenBatch, settleOpenBatch): they go just before that Query's
	// ReadyForQuery, as PostgreSQL sends them.
	late []*pgproto3.ParameterStatus
	// block says a transaction block began after the batch's SETs, which
	// so end with it (clientsetblock.go), kept that the block committed
	// them before the batch's Sync. held says the block went on past the
	// batch's Sync, heldUndo being the settings before them, heldNames
	// the reported ones they set and heldTold what the client was told of
	// each. due are the reports of a block's rollback, for the backend's
	// next ReadyForQuery; undone the names of the settings it undid,
	// whose server reports are not passed on until then.
	block, kept, held bool
	heldUndo          map[string]string
	heldNames         []string
	heldTold          []*pgproto3.ParameterStatus
	due               []*pgproto3.ParameterStatus
	undone            []string
	// blockPortals are the kinds of the batch's portals that begin or
	// end a transaction; sentBegin says a BEGIN was sent after the
	// batch's SETs, sentUndo what a ROLLBACK sent after it, or in a block
	// that holds SETs, leaves in force for the rest of the batch, until
	// its answer puts them back (clientsetblock.go).
	blockPortals map[string]policy.Kind
	sentBegin    bool
	sentUndo     *sessionSettings
}

// parseSetting answers a Parse of an allowed client SET.
func (s *session) parseSetting(m *pgproto3.Parse, v policy.Verdict, gen uint64) {
	st := clientStmt{sql: m.Query, kind: v.Kind, gen: gen, setting: v.Setting, dealloc: v.Deallocate,
		paramOIDs: append([]uint32(nil), m.ParameterOIDs...)}
	s.work.batchKind, s.work.batchSQL, s.work.batchOIDs = v.Kind, m.Query, st.paramOIDs
	if m.Name == "" {
		e := s.replaceUnnamed(st)
		s.unnamedFresh = false // the backend's unnamed statement is not this one
		e.kind = synthParseComplete
		s.pushSynthetic(e)
		return
	}
	if _, exists := s.stmts[m.Name]; exists {
		s.refuseExtended(errorf(codeDupStatement, "prepared statement \""+m.Name+"\" already exists"))
		return
	}
	if s.stmts == nil {
		s.stmts = map[string]clientStmt{}
	}
	s.stmts[m.Name] = st
	s.pushSynthetic(expectation{kind: synthParseComplete, client: m.Name})
}

// settingStmt is the client SET statement the client prepared as name,
// if it is one.
func (s *session) settingStmt(name string) (clientStmt, bool) {
	if name == "" {
		if s.unnamed == nil || !s.unnamed.answered() {
			return clientStmt{}, false
		}
		return *s.unnamed, true
	}
	st, ok := s.stmts[name]
	return st, ok && st.answered()
}

// answered says the session answers the statement itself: a client SET
// or a DEALLOCATE.
func (st *clientStmt) answered() bool { return st.setting != nil || st.dealloc != nil }

// bindSetting answers a Bind of a client SET statement, and reports
// whether it did: a Bind of any other statement goes on to the backend.
// That one replaces a SET's unnamed portal, as it replaces PostgreSQL's;
// a named portal of a SET is still there, so the name is refused as
// PostgreSQL refuses a portal name in use.
func (s *session) bindSetting(m *pgproto3.Bind) bool {
	portal := m.DestinationPortal
	st, ok := s.settingStmt(m.PreparedStatement)
	if !ok {
		if _, taken := s.work.sets.portals[portal]; !taken {
			return false
		}
		if portal == "" {
			delete(s.work.sets.portals, "")
			return false
		}
		s.refuseExtended(errorf(codeDupCursor, "cursor \""+portal+"\" already exists"))
		return true
	}
	if portal != "" && s.work.sets.portals[portal] != nil {
		s.refuseExtended(errorf(codeDupCursor, "cursor \""+portal+"\" already exists"))
		return true
	}
	if len(m.Parameters) != len(st.paramOIDs) {
		s.refuseExtended(errorf(codeProtocol, "bind message supplies "+strconv.Itoa(len(m.Parameters))+
			" parameters, but prepared statement \""+m.PreparedStatement+"\" requires "+strconv.Itoa(len(st.paramOIDs))))
		return true
	}
	cs, ok := st.setting, true
	if st.dealloc == nil { // DEALLOCATE reads nothing a RELOAD could deny
		if cs, ok = s.rejudgeSetting(st); !ok {
			return true
		}
	}
	s.noteBound(m.PreparedStatement)
	s.notePortal(portal, st.kind)
	if portal == "" {
		s.unbindUnnamed() // the SET's portal replaces the client's
	}
	if s.work.sets.portals == nil {
		s.work.sets.portals = map[string]*setPortal{}
	}
	s.work.sets.portals[portal] = &setPortal{cs: cs, dealloc: st.dealloc}
	s.pushSynthetic(expectation{kind: synthBindComplete})
	return true
}

// rejudgeSetting decides a SET statement's text again when the engine's
// rules changed since it was judged, as rejudge does for the others.
func (s *session) rejudgeSetting(st clientStmt) (*policy.ClientSetting, bool) {
	if st.gen == s.srv.engine.Generation() {
		return st.setting, true
	}
	v := s.srv.decide(s.id, st.sql)
	s.srv.metrics.statement(string(v.Kind), verdictLabel(v))
	if e := v.Err(); e != nil {
		s.srv.noteDenial(s, st.sql, v)
		s.refuseExtended(denied(e))
		return nil, false
	}
	if v.Setting == nil {
		s.refuseExtended(errorf(codeDenied, "pgmoat: settings.change: the statement no longer chooses a client setting; prepare it again"))
		return nil, false
	}
	return v.Setting, true
}

// describeSetting answers a Describe of a client SET statement or of
// its portal: it returns no rows.
func (s *session) describeSetting(m *pgproto3.Describe) bool {
	if m.ObjectType == 'S' {
		st, ok := s.settingStmt(m.Name)
		if !ok {
			return false
		}
		s.pushSynthetic(expectation{kind: synthParamDesc, paramOIDs: st.paramOIDs}, expectation{kind: synthNoData})
		return true
	}
	if s.work.sets.portals[m.Name] == nil {
		return false
	}
	s.pushSynthetic(expectation{kind: synthNoData})
	return true
}

// closeSetting answers a Close of a SET's portal (a statement's Close
// never reaches a backend anyway).
func (s *session) closeSetting(m *pgproto3.Close) bool {
	if m.ObjectType != 'P' || s.work.sets.portals[m.Name] == nil {
		return false
	}
	delete(s.work.sets.portals, m.Name)
	s.pushSynthetic(expectation{kind: synthCloseComplete})
	return true
}

// executeSetting runs a SET's portal: the setting is taken for the
// session's next transactions, as in the simple protocol. It reports
// whether the portal was a SET's.
func (s *session) executeSetting(ctx context.Context, m *pgproto3.Execute) bool {
	p := s.work.sets.portals[m.Portal]
	if p == nil {
		return false
	}
	if p.done {
		s.refuseExtended(errorf(codeNotInState, "portal \""+m.Portal+"\" cannot be run"))
		return true
	}
	p.done = true
	if p.dealloc != nil {
		s.deallocateExtended(p.dealloc)
		return true
	}
	if s.bk != nil {
		// A transaction is open on the backend, or the batch's earlier
		// statements run in one; waiting for their answers here would
		// wait for ever, for nothing has been flushed.
		s.refuseExtended(errorf(codeDenied, "pgmoat: settings.transaction: SET "+p.cs.Name+
			" inside a transaction, or after another statement before Sync, is not supported through pgmoat; set it before BEGIN, first in its batch"))
		return true
	}
	b := &s.work.sets
	undo, before := s.set.sets, s.reportOf(p.cs.Name)
	if e := s.takeClientSetting(ctx, p.cs); e != nil {
		s.refuseExtended(e)
		return true
	}
	if !b.taken {
		b.taken, b.undo = true, undo
	}
	if reportedClientSettings[p.cs.Name] && !b.has(p.cs.Name) {
		b.names, b.before = append(b.names, p.cs.Name), append(b.before, before)
	}
	s.pushSynthetic(expectation{kind: setKind(p.cs)})
	return true
}

// takeReport is what the client was told of the reported setting name
// before the batch, when the batch set it, and forgets it: the Query
// that ends the batch (endOpenBatch) sets it again and reports it once.
// Otherwise it is now.
func (b *extSets) takeReport(name string, now *pgproto3.ParameterStatus) *pgproto3.ParameterStatus {
	for i, n := range b.names {
		if n == name {
			before := b.before[i]
			b.names = append(b.names[:i], b.names[i+1:]...)
			b.before = append(b.before[:i], b.before[i+1:]...)
			return before
		}
	}
	return now
}

func (b *extSets) has(name string) bool {
	for _, n := range b.names {
		if n == name {
			return true
		}
	}
	return false
}

// syncSets ends the batch for its SETs at the client's Sync: their
// portals are gone, as PostgreSQL drops them with the batch's
// transaction. A batch that failed already puts its settings back; one
// with no backend held is reported now, ahead of the ReadyForQuery the
// session makes up; otherwise settle says the backend's ReadyForQuery
// carries the reports (reportBatchSets), unless an error comes before
// it (failBatchSets).
func (s *session) syncSets() (settle bool) {
	clear(s.work.sets.portals)
	s.work.sets.endSent()
	switch {
	case !s.work.sets.taken:
		return false
	case s.work.sets.block || s.work.sets.kept:
		return true // the block holds them, or committed them: settled at the ReadyForQuery
	case s.skipping:
		s.failBatchSets()
		return false
	case s.bk == nil:
		for _, r := range s.batchReports() {
			s.pushSynthetic(expectation{kind: synthReport, report: r})
		}
		return false
	}
	return true
}

// failBatchSets puts back the session's client settings from before the
// batch's SETs, whose implicit transaction an error rolled back, or the
// block it became (clientsetblock.go): PostgreSQL undoes the settings
// of a block when an error fails it, not at its ROLLBACK. SETs a block
// committed before the error are kept.
func (s *session) failBatchSets() {
	b := &s.work.sets
	if !b.taken || s.clientGone || b.kept {
		return
	}
	s.rebuildSettings(b.undo)
	b.reset()
}

// reportBatchSets writes the batch's ParameterStatus messages ahead of
// the backend's ReadyForQuery; a block still open keeps the SETs
// undoable (holdForBlock).
func (s *session) reportBatchSets() {
	if s.clientGone {
		return
	}
	if s.work.sets.block {
		s.holdForBlock()
	}
	for _, r := range s.batchReports() {
		s.writeMsg(r)
	}
}

// batchReports are the ParameterStatus messages of the reported settings
// the batch changed, whose value differs from what the client was told
// last: PostgreSQL reports a change, not a SET. The batch's SETs are
// settled with them.
func (s *session) batchReports() []*pgproto3.ParameterStatus {
	b := &s.work.sets
	var out []*pgproto3.ParameterStatus
	for i, name := range b.names {
		if r := changedReport(b.before[i], s.reportOf(name)); r != nil {
			out = append(out, r)
		}
	}
	b.reset()
	return out
}

func (b *extSets) reset() {
	b.taken, b.undo, b.block, b.kept = false, nil, false, false
	b.names, b.before = b.names[:0], b.before[:0]
}

// changedReport is now, unless it tells the client nothing new.
func changedReport(before, now *pgproto3.ParameterStatus) *pgproto3.ParameterStatus {
	if now == nil || (before != nil && before.Value == now.Value) {
		return nil
	}
	return now
}

// setKind is the synthetic answer to cs's statement: its command tag.
func setKind(cs *policy.ClientSetting) expectKind {
	if cs.ResetCommand {
		return synthReset
	}
	return synthSet
}

// setTag is the command tag of a synthSet or synthReset.
func setTag(k expectKind) []byte {
	if k == synthReset {
		return []byte("RESET")
	}
	return []byte("SET")
}

package proxy

import (
	"bytes"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/policy"
)

// An extended batch's client SETs followed by BEGIN (or START
// TRANSACTION) before the batch's Sync ran, in PostgreSQL, in the
// batch's implicit transaction, which the BEGIN turned into the block:
// the block's end decides them, not the batch's. The session follows the
// server's answers while such SETs are open:
//
//   - BEGIN or START TRANSACTION after them: the block holds them
//     (extSets.block). The batch's Sync reports them as any batch's, and
//     they stay undoable (extSets.held) until the block ends.
//   - COMMIT: they are kept. A later error in the same batch runs in a
//     new implicit transaction and leaves them alone.
//   - ROLLBACK (also the tag of a COMMIT of a failed block, and of
//     ROLLBACK AND CHAIN), or any error in the block, which PostgreSQL
//     rolls the settings back at, not at the ROLLBACK that follows: the
//     settings from before them are put back, and the reported ones that
//     change so are reported before the ReadyForQuery that follows
//     (extSets.due), as PostgreSQL reports them.
//
// The answers are looked at only while such SETs are open, never on the
// common path. Statements sent after the block's end in the same batch
// are sent before its answer is read: a ROLLBACK sent after the BEGIN
// that holds the SETs (or in a block that holds them since an earlier
// batch) is the one they would run after only if every statement before
// it succeeded, so the session sends the settings from before the SETs
// with the transaction that follows it (noteBlockSent,
// injectAfterBlock); the answer then puts them back for good.

// followBlock follows the backend's answers while the batch's SETs or
// a block's are open: the client's transaction statements' command tags
// (not those of pgmoat's own statements, swallowed), and any error,
// which fails a block.
func (s *session) followBlock(typ byte, body []byte, swallowed bool) {
	switch {
	case typ == 'C' && !swallowed:
		s.noteBlockTag(body)
	case typ == 'E' && s.work.sets.held:
		s.rollBackHeld()
	}
}

// rollBackHeld undoes the SETs a block held, rolled back or failed.
func (s *session) rollBackHeld() {
	b := &s.work.sets
	b.due = s.restoreSets(b.heldUndo, b.heldNames, b.heldTold)
	b.endHeld()
}

// noteBlockTag follows a CommandComplete of the client's.
func (s *session) noteBlockTag(tag []byte) {
	b := &s.work.sets
	switch string(bytes.TrimSuffix(tag, []byte{0})) {
	case "BEGIN", "START TRANSACTION":
		if b.taken && !b.kept {
			b.block = true
		}
	case "COMMIT":
		switch {
		case b.held:
			b.endHeld()
		case b.block:
			b.block, b.kept = false, true // whatever fails later in the batch
		}
	case "ROLLBACK":
		switch {
		case b.held:
			s.rollBackHeld()
		case b.block:
			b.block = false
			s.restoreSets(b.undo, nil, nil) // reported at the batch's Sync, if anything changed
		}
	}
}

// restoreSets makes undo the session's client settings again, and
// returns the reports of names whose value now differs from what the
// client was told of each (told). The server's own reports of the
// settings undone, which its rollback sends before its ReadyForQuery,
// are the session's still until then (ownsReport): the client gets the
// session's.
func (s *session) restoreSets(undo map[string]string, names []string, told []*pgproto3.ParameterStatus) []*pgproto3.ParameterStatus {
	for name := range s.set.sets {
		s.work.sets.undone = append(s.work.sets.undone, name)
	}
	s.rebuildSettings(undo) // statements follow (renameStatements)
	var out []*pgproto3.ParameterStatus
	for i, name := range names {
		if r := changedReport(told[i], s.reportOf(name)); r != nil {
			out = append(out, r)
		}
	}
	return out
}

// holdForBlock keeps the SETs of a batch whose Sync found the block
// that holds them open undoable. They are reported as any batch's
// (batchReports): the client is told their values.
func (s *session) holdForBlock() {
	b := &s.work.sets
	b.held, b.heldUndo = true, b.undo
	b.heldNames = append(b.heldNames[:0], b.names...)
	b.heldTold = b.heldTold[:0]
	for _, name := range b.names {
		b.heldTold = append(b.heldTold, s.reportOf(name))
	}
}

// endHeld ends the block's hold on its SETs.
func (b *extSets) endHeld() {
	b.held, b.heldUndo = false, nil
	b.heldNames, b.heldTold = b.heldNames[:0], b.heldTold[:0]
}

// reportDue writes the reports of a block's rollback ahead of the
// backend's ReadyForQuery, after which the server's reports of the
// settings undone are the client's again.
func (s *session) reportDue() {
	due := s.work.sets.due
	s.work.sets.due, s.work.sets.undone = nil, s.work.sets.undone[:0]
	for _, r := range due {
		s.writeMsg(r)
	}
}

// noteBlockPortal records the kind of a portal the client bound that
// begins or ends a transaction.
func (b *extSets) noteBlockPortal(portal string, k policy.Kind) {
	switch k {
	case policy.KindBegin, policy.KindCommit, policy.KindRollback:
		if b.blockPortals == nil {
			b.blockPortals = map[string]policy.Kind{}
		}
		b.blockPortals[portal] = k
	default:
		delete(b.blockPortals, portal)
	}
}

// noteBlockSent follows the Execute of a portal sent to the backend: a
// BEGIN after the batch's SETs makes the block hold them, a COMMIT keeps
// them, a ROLLBACK undoes them for what the batch sends after it.
func (s *session) noteBlockSent(portal string) {
	b := &s.work.sets
	k, ok := b.blockPortals[portal]
	if !ok {
		return
	}
	switch k {
	case policy.KindBegin:
		b.sentBegin = b.sentBegin || (b.taken && !b.kept)
	case policy.KindCommit:
		b.sentBegin = false
	case policy.KindRollback:
		switch {
		case b.sentBegin:
			b.sentUndo = s.settingsOf(b.undo)
		case b.held:
			b.sentUndo = s.settingsOf(b.heldUndo)
		}
		b.sentBegin = false
	}
}

// endSent forgets, at the batch's Sync, what its messages sent.
func (b *extSets) endSent() {
	clear(b.blockPortals)
	b.sentBegin, b.sentUndo = false, nil
}

// settingsOf is the session's settings with sets as its client SETs.
func (s *session) settingsOf(sets map[string]string) *sessionSettings {
	gen, client := s.set.gen, s.set.client
	return s.srv.shared.get(gen, s.id, client, sets, func() *sessionSettings {
		return s.srv.buildSessionSettings(gen, s.id, client, sets)
	})
}

// injectAfterBlock sends the per-transaction settings of the transaction
// that follows one ended in the batch: those in force, or those a
// ROLLBACK sent before put back. The latter go through the unnamed
// statement, as behind a pooler, since their count may differ from the
// one prepared on the backend.
func (s *session) injectAfterBlock() {
	ss := s.work.sets.sentUndo
	if ss == nil || ss == s.set {
		s.injectLocal()
		return
	}
	expects, wire := injection(localMessages(ss.local, true))
	s.inject(expects, wire, true)
}

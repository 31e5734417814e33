package proxy

import (
	"context"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/policy"
)

// A transaction can start without a new batch: COMMIT AND CHAIN and
// ROLLBACK AND CHAIN open the next one at once (ReadyForQuery says 'T'),
// and in an extended batch any message after a COMMIT or ROLLBACK starts
// a new one before the client's Sync. Such a transaction must carry the
// identity, timeout and read-only flag like any other (behind a pooler
// nothing else gives it them), so the session notes every statement that
// ends a transaction (txEnded) and startBatch sends the per-transaction
// settings again ahead of the next message that reaches the backend.

// endsTransaction reports whether a statement of kind k ends the
// transaction it runs in.
func endsTransaction(k policy.Kind) bool {
	return k == policy.KindCommit || k == policy.KindRollback
}

// notePortal records whether the portal a Bind fills runs a statement
// that ends the transaction.
func (s *session) notePortal(portal string, k policy.Kind) {
	s.work.sets.noteBlockPortal(portal, k)
	if endsTransaction(k) {
		if s.work.endPortals == nil {
			s.work.endPortals = map[string]bool{}
		}
		s.work.endPortals[portal] = true
	} else if s.work.endPortals != nil {
		delete(s.work.endPortals, portal)
	}
}

// execute forwards an Execute and notes a transaction ended by it.
func (s *session) execute(ctx context.Context, m *pgproto3.Execute) {
	if s.skipping || s.executeSetting(ctx, m) || !s.portalAllowed(m.Portal) {
		return
	}
	s.forwardExtended(ctx, m, expectation{kind: expectExecute})
	if !s.skipping {
		s.noteBlockSent(m.Portal)
	}
	if !s.skipping && s.work.endPortals[m.Portal] {
		s.txEnded = true
		s.forgetPortals() // none outlives the transaction
	}
}

// injectAfterTxEnd sends the per-transaction settings ahead of the next
// message of a batch in which a transaction ended.
func (s *session) injectAfterTxEnd() {
	if !s.txEnded {
		return
	}
	s.txEnded = false
	if s.bk != nil {
		s.injectAfterBlock()
	}
}

package proxy

import (
	"context"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/policy"
)

// An error fails the transaction it comes in: PostgreSQL aborts a
// transaction block at an error (every later statement gets 25P02 and
// COMMIT answers ROLLBACK), rolls back an extended batch's implicit
// transaction and skips the batch to its Sync, and a simple Query that
// fails inside an extended batch left open takes the batch's implicit
// transaction with it. Drivers rely on that: a driver that saw an error
// inside a block and then COMMIT answered COMMIT believes everything
// before the error was kept.
//
// The session answers some errors itself, without the backend: policy
// denials, a portal (34000) or statement (26000) the client does not
// have, a statement name in use (42P05), a DEALLOCATE's errors, a client
// SET it cannot take, and the like. With no backend held no transaction
// is open, and the made-up error and ReadyForQuery ('I') are all there
// is. With a backend held (a transaction block, an extended batch that
// reached the backend, answers still owed), the server's transaction
// must fail as it would for an error of its own. So the session sends
// the server, in the place of the refused message, one that fails for
// certain and does nothing else: a text that is a syntax error, which
// the server refuses before it reads any table or runs anything, in any
// transaction state (25P02 in a failed block). The queue entry carries
// the session's error, which is forwarded in the place of the server's
// (refusal): the client sees pgmoat's message and SQLSTATE and nothing
// of the server's error. Everything else follows from the server's own
// handling of its error: the ReadyForQuery the client gets is the
// server's ('E' in a block, 'I' once an implicit transaction is rolled
// back), the server skips an extended batch to its Sync, and so does the
// queue (dropUntilSync); a batch that already failed on the server skips
// the stand-in too, and the client gets only the batch's first error, as
// from PostgreSQL.
//
//   - In the simple protocol the stand-in is a Query (refusedQueryWire).
//     Inside an extended batch the client left open, it runs in that
//     batch's implicit transaction, as the client's Query would have,
//     and fails it; the batch's client SETs are undone with it. A Query
//     drops the server's unnamed statement, so the client's is parsed
//     again, hidden, where it is next bound.
//   - In the extended protocol it is a Parse of a named statement
//     (refusedParseWire), which leaves the unnamed statement alone and
//     prepares nothing, since it fails. It is sent at once and its answer
//     read, as PostgreSQL sends its error at once, so a client that waits
//     for the error before it sends Sync gets it.
//
// A message PostgreSQL would ignore (anything but Sync after an error in
// an extended batch, a FunctionCall as well as a Query) is ignored, not
// refused: the server would ignore its stand-in too, and the answer the
// session waited for would never come.
//
// In a transaction block that failed, PostgreSQL refuses every
// statement but COMMIT and ROLLBACK with 25P02 as soon as it has parsed
// it, before it reads a table or looks at a statement name, and a
// FunctionCall before it looks at the function: a refusal there is
// answered 25P02 as well (inFailedBlock), and a text that does not
// parse keeps its 42601. So is a Parse the session would answer
// ParseComplete itself (a client SET's, a DEALLOCATE's, one of a
// statement the backend has prepared already: failedBlockParse), which
// PostgreSQL refuses as it refuses any other.
//
// The path of a statement that does not fail is untouched.

// refusedSQL is the stand-in's text: a syntax error at its first word,
// and a line in the server's log that says where it came from.
const refusedSQL = "pgmoat refused the client's statement"

// refusedStmt is the name the extended-protocol stand-in parses into:
// outside the names pgmoat gives the client's statements (statementName),
// and never created, since its Parse fails.
const refusedStmt = "pgmoat_refused"

var (
	refusedQueryWire, _ = (&pgproto3.Query{String: refusedSQL}).Encode(nil)
	refusedParseWire, _ = (&pgproto3.Parse{Name: refusedStmt, Query: refusedSQL}).Encode(nil)
)

// inFailedBlock is the error the session answers in the place of e for
// a statement of kind k it refuses: 25P02 when the transaction block has
// failed, as PostgreSQL answers, unless the text did not parse or ends
// the block. The block is known to have failed when the last
// ReadyForQuery said so and nothing the client sent since is owed (a
// ROLLBACK earlier in the same batch would have ended it).
func (s *session) inFailedBlock(k policy.Kind, e *wireError) *wireError {
	if e.code == policy.SQLStateSyntax || !s.refusedInFailedBlock(k) {
		return e
	}
	return errInFailedBlock()
}

// refusedInFailedBlock reports whether PostgreSQL would refuse a
// statement of kind k, which parsed, with 25P02: the block has failed
// and the statement does not end it.
func (s *session) refusedInFailedBlock(k policy.Kind) bool {
	return s.bk != nil && s.bk.txStatus == 'E' && !s.txEnded && !s.clientPending() &&
		!endsTransaction(k) && k != policy.KindTransaction
}

func errInFailedBlock() *wireError {
	return errorf(codeInFailedTx, "current transaction is aborted, commands ignored until end of transaction block")
}

// refuseSimple answers a simple-protocol message with an error and
// ReadyForQuery, in order with anything still owed; the transaction it
// comes in fails, on the held backend too.
func (s *session) refuseSimple(e *wireError) {
	s.failOpenBatchSets()
	if s.bk == nil {
		s.batchOpen = false
		s.pushSynthetic(expectation{kind: synthError, err: e}, expectation{kind: synthReady})
		return
	}
	s.push(expectation{kind: expectQuery, err: e}, false)
	s.sendRaw(refusedQueryWire)
	s.wantFlush = true
	s.batchOpen = false
	s.unnamedFresh = false // the Query dropped the server's unnamed statement
}

// refuseFunctionCall refuses a FunctionCall, and reports whether the
// refusal waits for the backend's answer (the stand-in's). After an
// error in an extended batch PostgreSQL ignores a FunctionCall up to
// Sync, as it ignores a Query: so does the session, which would
// otherwise wait for an answer to a stand-in the server ignores too.
func (s *session) refuseFunctionCall() bool {
	if s.skipping {
		return false
	}
	s.refuseSimple(s.inFailedBlock("", errorf(codeProtocol, "pgmoat: protocol.function_call: the fastpath function-call protocol is not allowed; call functions in a SELECT")))
	return true
}

// failOpenBatchSets undoes the client SETs of an extended batch left
// open when a simple Query fails inside it: they ran in its implicit
// transaction.
func (s *session) failOpenBatchSets() {
	if s.work.sets.taken && !s.skipping {
		clear(s.work.sets.portals)
		s.failBatchSets()
	}
}

// refuseExtended answers an extended-protocol message with an error and
// discards what follows up to Sync, as PostgreSQL does; with a backend
// held, the server fails its transaction and skips to Sync too.
func (s *session) refuseExtended(e *wireError) {
	s.skipping = true
	if s.bk == nil {
		s.pushSynthetic(expectation{kind: synthError, err: e})
		return
	}
	s.push(expectation{kind: expectParse, err: e}, true)
	s.sendRaw(refusedParseWire)
	s.wantFlush = true
	ctx := context.Background() // the session loop's own
	s.commit(ctx)
	s.pump(ctx)
}

// forwardError passes a backend's ErrorResponse to the client, or the
// session's own error when the message it answers stood in for one the
// session refused.
func (s *session) forwardError(head expectation, body []byte) {
	if head.err != nil {
		s.srv.metrics.clientError(head.err.code)
		s.writeMsg(head.err.response())
		return
	}
	s.srv.metrics.clientError(errorCode(body))
	s.writeClient('E', body, false)
}

// failedBlockParse refuses a Parse of a statement of kind k with 25P02
// in a failed block, and reports whether it did. The session answers
// some Parses itself (a client SET's, a DEALLOCATE's, one whose
// statement the backend has prepared already), where PostgreSQL refuses
// every Parse in a failed block but COMMIT's and ROLLBACK's, before it
// looks at the statement's name, and creates nothing.
func (s *session) failedBlockParse(k policy.Kind) bool {
	if !s.refusedInFailedBlock(k) {
		return false
	}
	s.refuseExtended(errInFailedBlock())
	return true
}

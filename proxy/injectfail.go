package proxy

// A simple Query carries the per-transaction settings ahead of it as
// Bind and Execute without a Sync of their own (injectLocal), so that
// they run in the Query's transaction. When they fail, for whatever
// reason the server gives, the backend skips every message up to a Sync;
// in the simple protocol none follows, so the client's Query and
// anything sent after it would never be answered and the client would
// wait, its backend held, until the idle timeout. The session answers
// them itself instead (abandonAfterInjection) and gives the backend up:
// it is marked broken and discarded, never lent again in that state.
//
// Settings sent ahead of an extended batch fail that batch: PostgreSQL
// then skips every message but Sync, a simple Query pipelined inside the
// batch included, and answers the client's Sync. That is the ordinary
// extended-protocol failure (the backend skips with the client), so the
// Query gets no answer of its own.
//
// An extended batch pipelined behind the failed Query that its Sync has
// not ended yet gets one error from the made-up answers; the rest of it
// is skipped by the session itself until the client's Sync, which gets
// ReadyForQuery, as PostgreSQL skips after an error.

// queryBehindInjection reports whether the failed injection at the head
// of the queue was sent for a simple Query: the first client message
// behind it is one.
func (s *session) queryBehindInjection() bool {
	for _, e := range s.expect[1:] {
		if e.kind.synthetic() || e.injection {
			continue
		}
		return e.kind == expectQuery
	}
	return false
}

// abandonAfterInjection replaces what the skipping backend owes with
// made-up answers, in order: the first Query gets ReadyForQuery after
// the server's error (forwarded by the caller), each later Query cause
// and ReadyForQuery, an extended batch cause once and ReadyForQuery at
// its Sync (the session skipping to the client's Sync when it has not
// come yet). Synthetic entries stay where they are. The caller ends the
// lending.
func (s *session) abandonAfterInjection(cause *wireError) {
	out := make([]expectation, 0, len(s.expect)+1)
	first, failed := true, false
	for _, e := range s.expect {
		switch {
		case e.kind.synthetic():
			out = append(out, e)
		case e.injection:
		case e.kind == expectQuery:
			if !first {
				out = append(out, expectation{kind: synthError, err: refusalOr(e, cause)})
			}
			first = false
			out = append(out, expectation{kind: synthReady})
		case e.kind == expectSync:
			out = append(out, expectation{kind: synthReady})
			failed = false
		case !failed:
			out = append(out, expectation{kind: synthError, err: refusalOr(e, cause)})
			failed = true
		}
	}
	s.expect = out
	s.unsynced = false
	// A batch still open has had its error: skip the rest to its Sync.
	s.backendSkips = failed
}

// injectionCause is the error given to statements skipped behind a
// failed injection other than the one the server's error answers.
func injectionCause() *wireError {
	return errorf(codeConnFailure, "pgmoat: settings.injection: the per-transaction settings failed on the backend; the statement did not run")
}

// refusalOr is the error a skipped message gets: the session's own when
// the message stood in for one it refused (abort.go), else cause.
func refusalOr(e expectation, cause *wireError) *wireError {
	if e.err != nil {
		return e.err
	}
	return cause
}

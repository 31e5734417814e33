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

// queryBehindInjection reports whether a simple Query waits behind the
// failed injection at the head of the queue before any Sync. Called
// with s.mu held.
func (s *session) queryBehindInjection() bool {
	for _, e := range s.expect[1:] {
		switch e.kind {
		case expectQuery:
			return true
		case expectSync:
			return false
		}
	}
	return false
}

// abandonAfterInjection replaces what the skipping backend owes with
// made-up answers, in order: the first Query gets ReadyForQuery after
// the server's error (forwarded by the caller), each later Query cause
// and ReadyForQuery, an extended batch cause once and ReadyForQuery at
// its Sync. Synthetic entries stay where they are. Called with s.mu
// held; the caller ends the lending.
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
				out = append(out, expectation{kind: synthError, err: cause})
			}
			first = false
			out = append(out, expectation{kind: synthReady})
		case e.kind == expectSync:
			out = append(out, expectation{kind: synthReady})
			failed = false
		case !failed:
			out = append(out, expectation{kind: synthError, err: cause})
			failed = true
		}
	}
	s.expect = out
	s.unsynced = false
	s.backendSkips = false
}

// injectionCause is the error given to statements skipped behind a
// failed injection other than the one the server's error answers.
func injectionCause() *wireError {
	return errorf(codeConnFailure, "pgmoat: settings.injection: the per-transaction settings failed on the backend; the statement did not run")
}

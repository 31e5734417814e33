package proxy

// After an error in an extended batch PostgreSQL skips every message up
// to the client's Sync: a Parse or Close it skipped created or closed
// nothing. The session changes the client's statements as it reads each
// message (it answers some itself: a ParseComplete for a statement the
// backend already has, a Close of a named statement), before the
// backend has answered those ahead of it. So each queue entry of such a
// message says what to put back (expectation.client, reopen,
// restoreUnnamed), and when an error drops the entries up to the Sync
// the session undoes them (undoSkipped): a statement the skipped
// messages prepared does not exist afterwards, one they closed still
// does, and the unnamed statement is the one before them. A Parse that
// fails itself created nothing either; a failed Parse of the unnamed
// statement leaves none, as PostgreSQL drops the old one first.

// replaceUnnamed makes st the client's unnamed statement and returns the
// queue entry fields of the Parse that does it. The statement it
// replaces is kept for the entry only when an earlier message of the
// batch is still unanswered and could fail: a batch's first Parse,
// behind nothing but pgmoat's own settings, overwrites it in place and
// allocates nothing.
func (s *session) replaceUnnamed(st clientStmt) expectation {
	e := expectation{unnamedParse: true}
	if s.unnamed != nil && s.clientPending() {
		e.restoreUnnamed, e.unnamedWas = true, s.unnamed
		s.unnamed = nil
	} else if s.unnamed == nil && s.clientPending() {
		e.restoreUnnamed = true
	}
	if s.unnamed == nil {
		s.unnamed = new(clientStmt)
	}
	*s.unnamed = st
	return e
}

// closeStatement forgets the client's statement name ("" for the unnamed
// one) and returns the CloseComplete owed for it, which puts it back if
// the Close turns out to be skipped. PostgreSQL closes a statement that
// does not exist without an error.
func (s *session) closeStatement(name string) expectation {
	e := expectation{kind: synthCloseComplete}
	if name == "" {
		if s.unnamed != nil && s.clientPending() {
			e.restoreUnnamed, e.unnamedWas = true, s.unnamed
		}
		s.unnamed, s.unnamedFresh = nil, false
		return e
	}
	if st, ok := s.stmts[name]; ok {
		delete(s.stmts, name)
		if s.clientPending() {
			e.client, e.reopen = name, &st
		}
	}
	return e
}

// clientPending reports whether the backend owes an answer to a message
// of the client's (pgmoat's own settings aside): one that could fail and
// make the server skip what follows.
func (s *session) clientPending() bool {
	for _, e := range s.expect {
		if !e.kind.synthetic() && !e.injection {
			return true
		}
	}
	return false
}

// undoSkipped puts back what the messages of dropped did to the
// client's statements: the server skipped them, dropped[0] (the one that
// failed) included. Walked from the last, so the first message's undo
// has the last word.
func (s *session) undoSkipped(dropped []expectation) {
	if s.clientGone {
		return // nobody binds anything any more
	}
	for i := len(dropped) - 1; i >= 0; i-- {
		e := dropped[i]
		switch {
		case e.reopen != nil: // a Close or DEALLOCATE of the statement
			if s.stmts == nil {
				s.stmts = map[string]clientStmt{}
			}
			s.stmts[e.client] = *e.reopen
		case e.client != "" && (e.kind == expectParse || e.kind == synthParseComplete):
			delete(s.stmts, e.client)
		}
		switch {
		case i == 0 && e.unnamedParse:
			s.unnamed = nil // dropped before the text was parsed
		case e.restoreUnnamed:
			s.unnamed = e.unnamedWas
		}
		if e.unnamedParse || e.restoreUnnamed {
			s.unnamedFresh = false
		}
	}
}

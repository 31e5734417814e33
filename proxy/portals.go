package proxy

import "github.com/pgmoat/pgmoat/policy"

// A portal runs a prepared statement bound under the rules of one engine
// generation, and lives until its transaction ends: a client may Execute
// it again in a later batch of a transaction block, for more rows. A
// RELOAD in between (deny_relations gaining what it reads) must stop it
// as it stops a Bind of the statement (rejudge): each Execute of a
// portal bound under another generation judges the statement's text
// again, and a denial refuses the Execute. So does a new row limit: the
// server runs the portal with the LIMIT the old max_rows wrote, and the
// rest of it could bring more rows than the new cap, so an Execute after
// a RELOAD that changed the rewrite is refused (limit.rewrite) and the
// client binds the statement again.
//
// The unnamed portal the backend has is not always the client's: the
// per-transaction settings are bound there (lending.go), so an Execute
// or Describe of it without a Bind would run or describe pgmoat's own
// statement. The session knows whether the client bound the unnamed
// portal in its transaction (boundPortal.bound) and answers 34000 when
// it did not, as PostgreSQL answers for a portal that does not exist.
// It is gone when the transaction ends (a new lending, a COMMIT or
// ROLLBACK the client ran), when a simple Query the session answers
// itself runs in its place (a SET taken, a DEALLOCATE: queryRanUnnamed),
// at the client's Close of it, and when pgmoat binds its own statement
// there. An empty Query, a denied one and one refused in a failed block
// leave it bound, as PostgreSQL does; a Query sent to the server leaves
// it to the server, which replaces it only when the statement gets as
// far as running. A Query the server fails while running it, when the
// client had not bound the unnamed portal in the block, leaves a failed
// portal in PostgreSQL, which answers an Execute of it 25P02 where the
// session answers 34000: the server's unnamed portal may then be
// pgmoat's own, which the client must never reach. Named portals are the
// client's alone: pgmoat binds none and the policy refuses DECLARE, so
// the server's answer for one is the one PostgreSQL would give.
//
// After an error in a transaction block, a Bind or Close of the unnamed
// portal the server skipped is not undone: the server answers an
// Execute of the portal with 25P02 where PostgreSQL would answer 34000,
// an error either way, and nothing runs.

// boundPortal is what a portal runs: its statement's text as the policy
// judged it, the text the server runs (after the LIMIT rewrite), and the
// generation it was judged under.
type boundPortal struct {
	sql   string
	query string
	gen   uint64
	// bound says the client bound the portal in this transaction.
	bound bool
}

// noteBoundPortal records what a Bind fills portal with: the statement
// stmt as rejudge left it.
func (s *session) noteBoundPortal(portal, stmt string) {
	var bp boundPortal
	if stmt == "" {
		if s.unnamed == nil {
			return
		}
		bp = boundPortal{sql: s.unnamed.sql, query: s.unnamed.query, gen: s.unnamed.gen, bound: true}
	} else if st, ok := s.stmts[stmt]; ok {
		bp = boundPortal{sql: st.sql, query: st.query, gen: st.gen, bound: true}
	} else {
		return
	}
	if portal == "" {
		s.work.unnamedPortal = bp
		return
	}
	if s.work.portals == nil {
		s.work.portals = map[string]boundPortal{}
	}
	s.work.portals[portal] = bp
}

// forgetPortals drops what the portals of the last lending ran: none
// outlives its transaction on the server.
func (s *session) forgetPortals() {
	s.work.unnamedPortal = boundPortal{}
	clear(s.work.portals)
}

// unbindUnnamed forgets the client's unnamed portal: something else
// took its place, or it was closed.
func (s *session) unbindUnnamed() {
	s.work.unnamedPortal = boundPortal{}
}

// portalExists refuses a Describe or Execute of the unnamed portal when
// the client did not bind it in its transaction; with no backend held
// no transaction is open, and what the last one bound is gone.
func (s *session) portalExists(portal string) bool {
	if portal != "" || (s.bk != nil && s.work.unnamedPortal.bound) {
		return true
	}
	s.refuseExtended(errorf(codeNoPortal, "portal \"\" does not exist"))
	return false
}

// portalAllowed judges the statement an Execute runs again when the
// engine's rules changed since it was judged, and refuses the Execute
// when it is now denied. A named portal pgmoat knows nothing of goes
// on: the server answers for it.
func (s *session) portalAllowed(portal string) bool {
	if !s.portalExists(portal) {
		return false
	}
	bp, ok := s.work.unnamedPortal, true
	if portal != "" {
		bp, ok = s.work.portals[portal]
	}
	if !ok || bp.sql == "" {
		return true
	}
	gen := s.srv.engine.Generation()
	if bp.gen == gen {
		return true
	}
	v, allowed := s.judgeAgain(bp.sql)
	if !allowed {
		return false
	}
	if v.SQL(bp.sql) != bp.query {
		// The server runs the portal with the old rules' LIMIT (another
		// max_rows): the rest of it could bring more rows than the new cap.
		s.refuseExtended(errorf(codeDenied, "pgmoat: "+policy.RuleRewrite+": the rules changed since portal \""+
			portal+"\" was bound and its row limit with them (max_rows); bind it again"))
		return false
	}
	bp.gen = gen
	if portal == "" {
		s.work.unnamedPortal = bp
	} else {
		s.work.portals[portal] = bp
	}
	return true
}

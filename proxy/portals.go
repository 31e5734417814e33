package proxy

// A portal runs a prepared statement bound under the rules of one engine
// generation, and lives until its transaction ends: a client may Execute
// it again in a later batch of a transaction block, for more rows. A
// RELOAD in between (deny_relations gaining what it reads) must stop it
// as it stops a Bind of the statement (rejudge): each Execute of a
// portal bound under another generation judges the statement's text
// again, and a denial refuses the Execute.

// boundPortal is what a portal runs: its statement's text as the policy
// judged it, and the generation it was judged under.
type boundPortal struct {
	sql string
	gen uint64
}

// noteBoundPortal records what a Bind fills portal with: the statement
// stmt as rejudge left it.
func (s *session) noteBoundPortal(portal, stmt string) {
	var bp boundPortal
	if stmt == "" {
		if s.unnamed == nil {
			return
		}
		bp = boundPortal{sql: s.unnamed.sql, gen: s.unnamed.gen}
	} else if st, ok := s.stmts[stmt]; ok {
		bp = boundPortal{sql: st.sql, gen: st.gen}
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

// portalAllowed judges the statement an Execute runs again when the
// engine's rules changed since it was judged, and refuses the Execute
// when it is now denied. A portal pgmoat knows nothing of goes on: the
// server answers for it.
func (s *session) portalAllowed(portal string) bool {
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
	v := s.srv.decide(s.id, bp.sql)
	s.srv.metrics.statement(string(v.Kind), verdictLabel(v))
	if e := v.Err(); e != nil {
		s.srv.noteDenial(s, bp.sql, v)
		s.refuseExtended(denied(e))
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

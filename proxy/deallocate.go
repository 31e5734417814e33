package proxy

import (
	"context"

	"github.com/pgmoat/pgmoat/policy"
)

// Drivers evict their statement caches with SQL: Rails' ActiveRecord
// sends DEALLOCATE name, pgx's DeallocateAll sends deallocate all. The
// names are the client's own (a client's statement is prepared on the
// server under a name pgmoat derives from its text, shared by the
// sessions of its identity), so the session answers DEALLOCATE itself,
// as PostgreSQL would, and forgets the client's names only, as it does
// for a protocol Close: DEALLOCATE name forgets that statement, or
// answers 26000 when the client has none of that name; DEALLOCATE ALL
// forgets every named statement (not the unnamed one, which PostgreSQL
// keeps too). Prepared statements are not transactional, so a
// DEALLOCATE inside a transaction block is answered the same, and a
// ROLLBACK does not bring the statement back; in a block that failed,
// PostgreSQL refuses it (25P02) and so does the session. The server's
// statements stay for the next client that prepares the same text.
// SQL-level PREPARE and EXECUTE stay refused by the policy.
//
// In the extended protocol the session answers each message of a
// DEALLOCATE as it answers a client SET's (clientsetext.go), and forgets
// at each Execute; a DEALLOCATE name the server skips after an earlier
// error of its batch is undone (skipped.go), a DEALLOCATE ALL is not.

// deallocateSimple answers a simple-protocol DEALLOCATE.
func (s *session) deallocateSimple(ctx context.Context, d *policy.Deallocation) {
	if s.owed() {
		s.pump(ctx) // the block's earlier statements first: it may have failed
	}
	kind, e := s.deallocate(d)
	if e != nil {
		s.refuseSimple(e)
		return
	}
	s.queryRanUnnamed()
	s.settleOpenBatch()
	s.pushSynthetic(expectation{kind: kind}, expectation{kind: synthReady})
}

// deallocateExtended answers the Execute of a DEALLOCATE's portal.
func (s *session) deallocateExtended(d *policy.Deallocation) {
	if d.All || s.bk != nil && s.bk.txStatus == 'E' {
		if kind, e := s.deallocate(d); e != nil {
			s.refuseExtended(e)
		} else {
			s.pushSynthetic(expectation{kind: kind})
		}
		return
	}
	if _, ok := s.stmts[d.Name]; !ok {
		s.refuseExtended(errorf(codeNoStatement, "prepared statement \""+d.Name+"\" does not exist"))
		return
	}
	e := s.closeStatement(d.Name) // put back if the server skips it
	e.kind = synthDeallocate
	s.pushSynthetic(e)
}

// deallocate forgets the client's statements d names and returns the
// answer's kind, or the error PostgreSQL would give.
func (s *session) deallocate(d *policy.Deallocation) (expectKind, *wireError) {
	if s.bk != nil && s.bk.txStatus == 'E' {
		return 0, errorf(codeInFailedTx, "current transaction is aborted, commands ignored until end of transaction block")
	}
	if d.All {
		clear(s.stmts)
		return synthDeallocateAll, nil
	}
	if _, ok := s.stmts[d.Name]; !ok {
		return 0, errorf(codeNoStatement, "prepared statement \""+d.Name+"\" does not exist")
	}
	delete(s.stmts, d.Name)
	return synthDeallocate, nil
}

package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"

	"github.com/jackc/pgx/v5/pgproto3"
)

// A session's lending is not preceded by a look at the idle backend's
// socket (backend.check costs a system call per transaction). Instead the
// session keeps every byte it sends in a lending until the backend's
// first byte arrives: when that first read finds the connection ended
// (end of stream or a reset with nothing read) or the first message is a
// FATAL (the server's own goodbye, "terminating connection due to
// administrator command", sent while the backend sat idle in the pool),
// the server answered nothing of the batch, not even the per-transaction
// settings that lead it, so none of the client's statements ran and the
// client has seen nothing. The session then discards the backend (which
// ends its epoch, as the peek did: its idle siblings are closed too),
// borrows another and sends the same batch to it. A backend that fails
// after its first byte gives the client FATAL 08006, as before: part of
// the batch may have run and been answered.
//
// A lending is replayed at most once, so a statement that brings the
// server down is not sent a third time. Statements the batch binds that
// the first backend had prepared are prepared on the second one first,
// hidden, right after the per-transaction settings (a Parse resolves
// names under the search_path they set). A first batch larger than
// replayCap is not kept, and its backend's failure reaches the client.

// replayCap bounds the bytes of a lending's first batch the session
// keeps for a replay.
const replayCap = 64 << 10

// replayBufs are the buffers a lending's first batch is kept in, held
// only until the backend's first byte arrives.
var replayBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// replayLog is what the session sent in the current lending, while the
// backend has sent nothing back. Ownership: the session goroutine alone
// (cleanup turns it off before a forwarder drains an abandoned lending).
type replayLog struct {
	on  bool    // nothing has been read from the lending's backend yet
	buf *[]byte // what was sent, from replayBufs; nil once over replayCap
	// injEnd is where the per-transaction settings end in buf, injN how
	// many response queue entries they have at its head.
	injEnd, injN int
	// assumed are the statements the batch binds that the backend had
	// prepared before the lending (no Parse of them was sent).
	assumed []clientStmt
	// writeFailed says a write of the batch found the connection reset:
	// the read that follows sees the end of it.
	writeFailed bool
}

// begin starts keeping a new lending's batch.
func (r *replayLog) begin() {
	r.stop()
	r.on, r.writeFailed = true, false
	r.buf = replayBufs.Get().(*[]byte)
}

// stop ends keeping: the backend answered, or the lending ended.
func (r *replayLog) stop() {
	if r.buf != nil {
		*r.buf = (*r.buf)[:0]
		replayBufs.Put(r.buf)
	}
	r.on, r.buf, r.injEnd, r.injN = false, nil, 0, 0
	clear(r.assumed)
	r.assumed = r.assumed[:0]
}

// note keeps bytes just written to the backend.
func (r *replayLog) note(wire []byte) {
	if !r.on || r.buf == nil {
		return
	}
	if len(*r.buf)+len(wire) > replayCap {
		*r.buf = (*r.buf)[:0]
		replayBufs.Put(r.buf)
		r.buf = nil // not replayable; the first read still ends keeping
		return
	}
	*r.buf = append(*r.buf, wire...)
}

// noteInjection marks the per-transaction settings just kept, n queue
// entries, as the head of the batch.
func (r *replayLog) noteInjection(n int) {
	if r.on && r.buf != nil && r.injN == 0 && len(*r.buf) > 0 {
		r.injEnd, r.injN = len(*r.buf), n
	}
}

// noteAssumed records a statement the batch relies on the backend having.
func (r *replayLog) noteAssumed(st clientStmt) {
	if !r.on {
		return
	}
	for _, a := range r.assumed {
		if a.backendName == st.backendName {
			return
		}
	}
	r.assumed = append(r.assumed, st)
}

// resetOnWrite reports whether a failed write to the backend is one the
// first read will see as the connection's end (so the batch may be
// replayed), rather than a stall or a local failure.
func resetOnWrite(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
}

// deadOnArrival reports whether the lending's first read from bk found
// the server gone before it answered anything: the end of the connection
// with no byte read, or a FATAL as the very first message.
func (s *session) deadOnArrival(bk *backend, typ byte, body []byte, err error) bool {
	if err != nil {
		if bk.stalled.Load() || bk.rd.buffered() {
			return false // a write stalled, or a message began and was cut
		}
		return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
			(s.replay.writeFailed && errors.Is(err, net.ErrClosed))
	}
	return typ == 'E' && errorSeverity(body) == "FATAL"
}

// errorSeverity is the non-localized severity of an ErrorResponse body
// (the localized one when the server sent no other).
func errorSeverity(body []byte) string {
	sev := ""
	for len(body) > 1 {
		field := body[0]
		end := bytes.IndexByte(body[1:], 0)
		if end < 0 {
			break
		}
		switch field {
		case 'V':
			return string(body[1 : 1+end])
		case 'S':
			sev = string(body[1 : 1+end])
		}
		body = body[end+2:]
	}
	return sev
}

// replayable reports whether the lending's first read from bk (typ and
// body, or err) calls for a replay, and stops keeping the batch either
// way: from now on the backend has answered, or it is given up.
func (s *session) replayable(bk *backend, typ byte, body []byte, err error) (why error, ok bool) {
	kept := s.replay.buf != nil
	if !kept || !s.deadOnArrival(bk, typ, body, err) {
		s.replay.stop()
		return nil, false
	}
	if err == nil {
		err = pgError(body)
	}
	return err, true
}

// replayOn moves the lending from bk, found dead on arrival, to another
// backend and sends it the same batch. It reports whether the session
// holds the new backend; when it does not, the client has been told.
func (s *session) replayOn(ctx context.Context, bk *backend, why error) bool {
	kept, injEnd, injN := s.replay.buf, s.replay.injEnd, s.replay.injN
	assumed := append([]clientStmt(nil), s.replay.assumed...)
	s.replay.buf = nil // taken over here
	s.replay.stop()
	defer func() {
		if kept != nil {
			*kept = (*kept)[:0]
			replayBufs.Put(kept)
		}
	}()
	s.srv.log.Info("backend found dead at a lending's first read; sending the batch to another", "user", s.user, "user_id", s.id.UserID, "pid", bk.pid, "err", why.Error())
	bk.broken.Store(true)
	s.srv.pool.lostLent(bk, why)
	s.setHeld(nil)
	s.endSpan(true)
	s.handBack(bk)

	next, err := s.srv.lend(ctx, s.id, s.set)
	if err != nil {
		s.tellLost(fatalf(codeConnFailure, "pgmoat: backend.lost: the server connection was lost ("+why.Error()+") and no other could be had ("+err.Error()+"); reconnect and retry"))
		return false
	}
	var parses []expectation
	var wire []byte
	for _, st := range assumed {
		if _, have := next.prepared[st.backendName]; have {
			continue
		}
		parses = append(parses, expectation{kind: expectParse, swallow: true, prepared: st.backendName})
		wire, _ = (&pgproto3.Parse{Name: st.backendName, Query: st.query, ParameterOIDs: st.paramOIDs}).Encode(wire)
	}
	s.setHeld(next)
	s.span = s.srv.startTxSpan(s, next)
	if len(parses) > 0 {
		s.expect = append(s.expect[:injN], append(parses, s.expect[injN:]...)...)
	}
	// Not kept again: a second backend that fails so reaches the client.
	s.sendRaw((*kept)[:injEnd])
	s.sendRaw(wire)
	s.sendRaw((*kept)[injEnd:])
	s.flushBackend()
	return true
}

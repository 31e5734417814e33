package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// A session's lending is not preceded by a look at the idle backend's
// socket (backend.check costs a system call per transaction). Instead the
// session keeps every byte it sends in a lending until the backend's
// first byte arrives, and replays the batch on another backend when the
// first read proves the server ran none of it (deadOnArrival): the first
// message is the server's own FATAL (class 57, as sent to a backend
// idle in the pool: "terminating connection due to administrator
// command"), or the connection ended with nothing read and none of the
// lending's bytes reached the server's socket. The client has seen
// nothing then. The session discards the backend (which ends its epoch,
// as the peek did: its idle siblings are closed too), borrows another and
// sends the same batch to it.
//
// Anything else is not replayed: a connection that ended after the
// server took the batch (a network cut or a crash while it runs; the
// server answers nothing before the end of the batch), a pooler's own
// FATAL, or a backend that fails after its first byte, give the client
// FATAL 08006: part of the batch may have run, or be running still.
//
// A lending is replayed at most once, so a statement that brings the
// server down is not sent a third time. Statements the batch binds that
// the first backend had prepared are prepared on the second one first,
// hidden, right after the per-transaction settings (a Parse resolves
// names under the search_path they set). A first batch larger than
// replayCap is not kept, and its backend's failure reaches the client.
//
// A cancel request for the statement that came while the lending moved
// (no backend held, or the next one not yet sent the batch), or that
// went to the dead backend, which ran none of it, is sent to the next
// backend once it has the batch (sendReplay): from the client's view the
// statement was running all along. It is never sent to a backend the
// session does not hold.

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
	// sentAtBegin is the backend's written count when the lending began
	// (unreached).
	sentAtBegin uint64
	// again says the first read calls for the replay (replayable).
	again bool
}

// begin starts keeping the batch of a new lending of bk.
func (r *replayLog) begin(bk *backend) {
	r.stop()
	r.on, r.writeFailed = true, false
	r.sentAtBegin = bk.written
	r.buf = replayBufs.Get().(*[]byte)
}

// stop ends keeping: the backend answered, or the lending ended.
func (r *replayLog) stop() {
	if r.buf != nil {
		*r.buf = (*r.buf)[:0]
		replayBufs.Put(r.buf)
	}
	r.on, r.buf, r.injEnd, r.injN, r.again = false, nil, 0, 0, false
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

// unnote takes the last n bytes kept out again: they are sent later,
// after a Flush that is kept in their place (pipeline.go). A log that
// would lose the per-transaction settings' end is given up.
func (r *replayLog) unnote(n int) {
	if !r.on || r.buf == nil {
		return
	}
	end := len(*r.buf) - n
	if end < r.injEnd || end < 0 {
		*r.buf = (*r.buf)[:0]
		replayBufs.Put(r.buf)
		r.buf = nil
		return
	}
	*r.buf = (*r.buf)[:end]
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
// the server gone before any of the batch could run: the end of the
// connection with no byte read when none of the lending's bytes reached
// the server's socket (unreached), or a FATAL of the server ending the
// connection as the very first message of a batch the per-transaction
// settings lead.
//
// The end of the connection alone proves nothing: a server that read the
// batch and runs it (or crashed running it) has sent nothing yet either,
// as PostgreSQL answers at the end of the batch, and a network cut then
// looks the same. A FATAL first does prove it, for the server's own: the
// settings' Bind is answered (BindComplete) before anything of the batch
// runs, and a FATAL goes out after what was answered before it, so a
// FATAL first is one the server sent before it took the batch. A FATAL
// is the server's own when its SQLSTATE is of class 57 (operator
// intervention: administrator command, shutdown, crash of another
// process, idle-session timeout); a pooler in between makes up its own
// with another code (PgBouncer's "server conn crashed?" is 08P01), after
// its server may have run the batch.
func (s *session) deadOnArrival(bk *backend, typ byte, body []byte, err error) bool {
	if err != nil {
		if bk.stalled.Load() || bk.rd.buffered() {
			return false // a write stalled, or a message began and was cut
		}
		ended := errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
			(s.work.replay.writeFailed && errors.Is(err, net.ErrClosed))
		return ended && s.work.replay.unreached(bk)
	}
	return s.work.replay.injN > 0 && typ == 'E' && errorSeverity(body) == "FATAL" &&
		strings.HasPrefix(errorField(body, 'C'), "57")
}

// unreached reports whether none of the bytes bk's socket took in this
// lending reached the server's socket: none was taken at all (the
// lending's first write failed), or, on plain TCP, the server's kernel
// acknowledged none of them. Everything sent before the lending was
// answered, so acknowledged; bytes that reach a closed socket are
// answered with a reset, never acknowledged. Bytes that reached an open
// one may have been read and run, whatever the server did next.
func (r *replayLog) unreached(bk *backend) bool {
	if bk.written == r.sentAtBegin {
		return true
	}
	if !bk.ackKnown {
		return false
	}
	acked, ok := tcpAcked(bk.conn)
	return ok && acked-bk.ackBase <= r.sentAtBegin
}

// errorField is field f of an ErrorResponse or NoticeResponse body, ""
// when absent.
func errorField(body []byte, f byte) string {
	for len(body) > 1 {
		end := bytes.IndexByte(body[1:], 0)
		if end < 0 {
			break
		}
		if body[0] == f {
			return string(body[1 : 1+end])
		}
		body = body[end+2:]
	}
	return ""
}

// errorSeverity is the non-localized severity of an ErrorResponse body
// (the localized one when the server sent no other).
func errorSeverity(body []byte) string {
	if v := errorField(body, 'V'); v != "" {
		return v
	}
	return errorField(body, 'S')
}

// replayable reports whether the lending's first read from bk (typ and
// body, or err) is dealt with by replayOn, and stops keeping the batch
// either way: from now on the backend has answered, or it is given up.
// replayOn replays the batch when the backend provably ran none of it
// (deadOnArrival), and otherwise, for a FATAL as the first message, ends
// the lending: the backend is going away, and the FATAL answers the
// per-transaction settings, whose failure would have the session skip
// what the client's Query is owed and wait for ever.
func (s *session) replayable(bk *backend, typ byte, body []byte, err error) (why error, ok bool) {
	fatal := err == nil && typ == 'E' && errorSeverity(body) == "FATAL"
	s.work.replay.again = s.work.replay.buf != nil && s.deadOnArrival(bk, typ, body, err)
	if !s.work.replay.again && !fatal {
		s.work.replay.stop()
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
	if !s.work.replay.again {
		s.work.replay.stop()
		s.backendLost(bk, why)
		return false
	}
	kept, injEnd, injN := s.work.replay.buf, s.work.replay.injEnd, s.work.replay.injN
	assumed := append([]clientStmt(nil), s.work.replay.assumed...)
	s.work.replay.buf = nil // taken over here
	s.work.replay.stop()
	defer func() {
		if kept != nil {
			*kept = (*kept)[:0]
			replayBufs.Put(kept)
		}
	}()
	s.srv.log.Info("backend found dead at a lending's first read; sending the batch to another", "user", s.user, "user_id", s.id.UserID, "pid", bk.pid, "err", why.Error())
	bk.broken.Store(true)
	s.srv.pool.lostLent(bk, why)
	s.setReplaying(true)
	s.setHeld(nil)
	s.endSpan(true)
	s.handBack(bk)

	next, err := s.srv.lend(ctx, s.id, s.set, nil)
	if err != nil {
		s.setReplaying(false)
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
	s.work.span = s.srv.startTxSpan(s, next)
	if len(parses) > 0 {
		s.expect = append(s.expect[:injN], append(parses, s.expect[injN:]...)...)
	}
	// Not kept again: a second backend that fails so reaches the client.
	// Written by the read that follows, with nothing of the client message
	// being handled (pipeline.go): that one is committed as before.
	for _, part := range [][]byte{(*kept)[:injEnd], wire, (*kept)[injEnd:]} {
		s.inFlight += len(part)
		s.restage(next, part)
	}
	s.sendReplay(next)
	return true
}

// setReplaying opens or closes the window in which a cancel request is
// noted for the replay rather than sent (cancelBackend).
func (s *session) setReplaying(on bool) {
	s.cancelMu.Lock()
	s.replaying = on
	s.cancelMu.Unlock()
}

// sendReplay sends next, the backend the lending moved to, the batch
// staged for it, and closes the replay's window for cancels. A cancel
// the client asked for in this lending never reached the statement:
// the dead backend ran none of the batch, and no backend was held while
// the lending moved. It is sent to next once next has the batch (written
// now, not left to the read, which would wait for the answer first),
// under cancelMu, so it is for this lending of next and no other
// borrower's (invariant 6). The server drops a cancel that comes before
// it has read the batch, as it drops any cancel that finds nothing
// running; the client's own statement is the only one it can cancel.
func (s *session) sendReplay(next *backend) {
	s.cancelMu.Lock()
	defer s.cancelMu.Unlock()
	s.replaying = false
	if !s.cancelAsked {
		s.flushBackend()
		return
	}
	if err := next.writeAll(); err != nil {
		s.sendFailed(next, err) // the read reports it; no cancel owed then
		return
	}
	s.srv.log.Debug("sending the replayed statement a cancel the client asked for while its lending moved", "user", s.user, "user_id", s.id.UserID, "pid", next.pid)
	s.cancelHeld(next)
	s.recancelReplay(next, s.drained.Load(), 1)
}

// The server drops a cancel that comes before it has read the replayed
// batch off its socket, and nothing tells the session when it has, so
// the cancel is sent again every replayRecancel, replayRecancels times
// at most, while the same lending of the same backend still owes the
// answers it owed when the cancel was first sent.
const (
	replayRecancel  = 100 * time.Millisecond
	replayRecancels = 10
)

// recancelReplay sends bk's lending the client's cancel again after
// replayRecancel, unless the lending ended, the backend went back, or
// the queue has drained since (drained moved on from drained0): the
// statement was answered, and another must not be cancelled for it.
func (s *session) recancelReplay(bk *backend, drained0 uint64, n int) {
	time.AfterFunc(replayRecancel, func() {
		s.cancelMu.Lock()
		defer s.cancelMu.Unlock()
		if !s.cancelAsked || s.held.Load() != bk || s.drained.Load() != drained0 || !s.busy.Load() {
			return
		}
		s.cancelHeld(bk)
		if n < replayRecancels {
			s.recancelReplay(bk, drained0, n+1)
		}
	})
}

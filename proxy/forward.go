package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/pgmoat/pgmoat/policy"
)

// expectation is one entry of a session's response queue. Every message
// the session sends to the backend that the backend answers pushes a
// "real" entry; answers pgmoat makes up itself (ParseComplete for a
// statement the backend already has, a policy denial, ReadyForQuery while
// no backend is held) push a synthetic one. Responses reach the client in
// queue order, which is the order the client sent its messages in.
type expectation struct {
	kind expectKind
	// swallow drops the backend's answer: it belongs to a message pgmoat
	// added (a Parse of a statement the client prepared on another
	// backend, a ROLLBACK after the client vanished).
	swallow bool
	// injection marks pgmoat's per-transaction settings: if they fail,
	// the backend's state is not one pgmoat knows, and it is not reused.
	injection bool
	// err is the ErrorResponse of a synthetic error; on a real entry,
	// the session's error forwarded in the place of the backend's, for
	// a message sent in the place of one the session refused (abort.go).
	err *wireError
	// prepared is the backend statement name a real Parse creates; it is
	// recorded as present once ParseComplete arrives.
	prepared string
	// client is the client's name for the statement a Parse creates
	// (a real one or a synthetic ParseComplete) or a Close removes: if
	// the server skips the message, that is undone (skipped.go).
	client string
	// reopen is the statement a Close removed, put back if the Close is
	// skipped.
	reopen *clientStmt
	// unnamedParse marks a client's Parse of the unnamed statement;
	// restoreUnnamed says the unnamed statement goes back to unnamedWas
	// (nil: none) if the message is skipped (skipped.go).
	unnamedParse   bool
	restoreUnnamed bool
	unnamedWas     *clientStmt
	// started and stmtKind time a Query or Sync for the metrics; sql is
	// the statement text, for the debug log (scrubbed before logging).
	started   time.Time
	stmtKind  policy.Kind
	sql       string
	paramOIDs []uint32
	// report is the ParameterStatus a synthSet, synthReset or
	// synthReport owes, if any.
	report *pgproto3.ParameterStatus
	// settle marks the Sync of a batch whose client SETs the session
	// took: their ParameterStatus goes just before its ReadyForQuery
	// (clientsetext.go).
	settle bool
}

type expectKind uint8

const (
	expectParse    expectKind = iota // ends at ParseComplete
	expectBind                       // BindComplete
	expectDescribe                   // RowDescription or NoData (after ParameterDescription)
	expectExecute                    // CommandComplete, EmptyQueryResponse or PortalSuspended
	expectClose                      // CloseComplete
	expectSync                       // ReadyForQuery
	expectQuery                      // ReadyForQuery; errors do not end it
	synthParseComplete
	synthCloseComplete
	synthError
	synthReady
	synthEmpty // EmptyQueryResponse, for a Query with nothing to run
	// synthSet is CommandComplete "SET" for a client setting pgmoat took
	// itself, then a ParameterStatus when report names one.
	synthSet
	synthReset // the same for a RESET: CommandComplete "RESET"
	// synthBindComplete, synthNoData, synthParamDesc (of paramOIDs) and
	// synthReport (report) answer the extended-protocol messages of a
	// client SET (clientsetext.go).
	synthBindComplete
	synthNoData
	synthParamDesc
	synthReport
	// synthDeallocate and synthDeallocateAll are the CommandComplete of
	// a DEALLOCATE the session answered (deallocate.go).
	synthDeallocate
	synthDeallocateAll
)

func (k expectKind) synthetic() bool { return k >= synthParseComplete }

// ends reports whether a backend message of type typ completes e.
func (e expectation) ends(typ byte) bool {
	switch e.kind {
	case expectParse:
		return typ == '1'
	case expectBind:
		return typ == '2'
	case expectDescribe:
		return typ == 'T' || typ == 'n'
	case expectExecute:
		return typ == 'C' || typ == 'I' || typ == 's'
	case expectClose:
		return typ == '3'
	case expectSync, expectQuery:
		return typ == 'Z'
	}
	return false
}

// pump forwards what the backend sends, on the session goroutine, until
// it owes nothing more: every client message up to the Sync, Query or
// Flush just sent is answered, or the backend went back to the pool or
// failed. Reading the backend here rather than on a goroutine of its own
// saves a goroutine start and a hand-off between goroutines per
// transaction; a client that pipelines batches is served one batch after
// the other, as PostgreSQL itself serves them. A client that hangs up
// while its statement runs is noticed by the session's clientWatch,
// which cancels it.
func (s *session) pump(ctx context.Context) { s.pumpUntil(ctx, 0) }

// pumpUntil is pump for a queue whose last tail entries belong to
// messages not written yet (pipeline.go): it forwards until everything
// ahead of them is answered. The backend then owes nothing for what it
// was sent, so inFlight starts again from nothing.
func (s *session) pumpUntil(ctx context.Context, tail int) {
	bk := s.bk
	if bk == nil {
		return
	}
	s.startWatch()
	defer s.stopWatch()
	for s.owesAhead(tail) {
		for {
			typ, ended := s.forwardOne(ctx, bk)
			if ended {
				return
			}
			if typ == typReplayed {
				bk = s.bk
				break
			}
			if !streamed(typ) {
				break // it may have completed the last thing owed
			}
		}
	}
	s.inFlight = 0
	s.flushAnswered()
}

// flushAnswered flushes to the client what the backend answered, once
// it owes nothing more. A message read while more of the backend is
// buffered is written unflushed (handleBackendMessage), for the pump
// reads on and flushes with the last message it holds; but a message the
// server sent unasked behind the last answer (the notice an immediate
// shutdown sends each client, a FATAL, a notification) is not read once
// nothing is owed. The answers ahead of it would stay in the client's
// buffer while the client waits for them and the session for the
// client's next message, until the idle-transaction timeout. The buffer
// is the session goroutine's; on the usual path the last answer emptied
// it and handed it back already, and this costs nothing.
func (s *session) flushAnswered() {
	if s.out != nil && s.out.Buffered() > 0 {
		s.flushClient()
	}
}

// owesAhead reports whether the held backend owes an answer ahead of the
// queue's last tail entries. Those are contiguous, and the head of a
// queue is never a synthetic entry once handled (takeSynthetic), so any
// entry ahead of them makes the head an answer still owed.
func (s *session) owesAhead(tail int) bool {
	return s.bk != nil && len(s.expect) > tail && s.realPending()
}

// typReplayed is what forwardOne reports when the lending moved to
// another backend (replay.go): no backend message has that type.
const typReplayed byte = 0

// forwardOne reads one backend message and routes it; ended reports that
// the lending is over (the backend went back to the pool, or was lost).
func (s *session) forwardOne(ctx context.Context, bk *backend) (typ byte, ended bool) {
	typ, body, big, err := bk.rd.nextSmall()
	if s.work.replay.on {
		if why, ok := s.replayable(bk, typ, body, err); ok {
			return typReplayed, !s.replayOn(ctx, bk, why)
		}
	}
	if err != nil {
		s.backendLost(bk, err)
		return 0, true
	}
	if big > 0 {
		return typ, s.streamToClient(bk, typ, big)
	}
	if typ == 'S' {
		if e := tamperedReport(bk, s.set.settings, body); e != nil {
			s.srv.log.Warn("backend reported a setting pgmoat did not put in force; discarding it", "user", s.user, "user_id", s.id.UserID, "err", e.message)
			bk.broken.Store(true)
			s.endLending(bk, e)
			return typ, true
		}
		if s.ownsReport(body) {
			if !bk.rd.buffered() {
				s.flushClient()
			}
			return typ, false
		}
	}
	return typ, s.handleBackendMessage(bk, typ, body)
}

// streamToClient passes a large row, notice or notification through to
// the client in pieces, so that no buffer ever holds the whole message.
// If the backend fails inside the message, the client has a message cut
// short and no way to read a framed error after it: its connection is
// closed. ended reports that the lending is over.
func (s *session) streamToClient(bk *backend, typ byte, n int) (ended bool) {
	w := io.Writer(io.Discard) // a client that is gone: drain the backend only
	if s.outErr == nil {
		if s.outErr = writeHeader(s.writer(), typ, n); s.outErr == nil {
			w = s.out
		}
	}
	werr, rerr := bk.rd.copyBody(w, n)
	if s.outErr == nil {
		s.outErr = werr
	}
	if rerr == nil && !bk.rd.buffered() {
		s.flushClient()
	}
	if rerr != nil {
		s.backendLostMidMessage(bk, rerr)
		return true
	}
	return false
}

// streamed reports message types that never complete anything owed.
func streamed(typ byte) bool {
	switch typ {
	case 'D', 'N', 'S', 'A', 't':
		return true
	}
	return false
}

// owed reports whether the held backend still owes the client an answer.
func (s *session) owed() bool {
	return s.bk != nil && s.realPending()
}

// forward copies backend messages to the client until the backend goes
// back to the pool or fails, on a goroutine of its own: it drains the
// backend of a session whose client has gone (see rollbackAbandoned).
func (s *session) forward(bk *backend) {
	defer s.fwdWG.Done()
	for {
		if _, ended := s.forwardOne(context.Background(), bk); ended {
			return
		}
	}
}

// handleBackendMessage routes one backend message and reports whether the
// backend was given back.
func (s *session) handleBackendMessage(bk *backend, typ byte, body []byte) (released bool) {
	switch typ {
	case 'D', 'T', 't', 'n', 'N', 'S', 'A':
		// Rows, descriptions, notices, parameter status, notifications:
		// the hot path. They never complete anything on their own except
		// T/n for Describe.
		if (typ == 'T' || typ == 'n') && s.completes(typ) {
			break
		}
		s.writeClient(typ, body, !bk.rd.buffered())
		return false
	}
	return s.complete(bk, typ, body)
}

// completes reports whether typ ends the queue head (for T and n, which
// are also plain output of Execute in simple Query mode).
func (s *session) completes(typ byte) bool {
	return len(s.expect) > 0 && s.expect[0].kind == expectDescribe && s.expect[0].ends(typ)
}

// complete handles a message that may end the head expectation.
func (s *session) complete(bk *backend, typ byte, body []byte) (released bool) {
	if len(s.expect) == 0 {
		// Nothing was asked: the backend is in a state we do not know.
		bk.broken.Store(true)
		s.writeClient(typ, body, true)
		return false
	}
	head := s.expect[0]
	forwardIt := !head.swallow
	if !s.clientGone && (s.work.sets.taken || s.work.sets.held) {
		s.followBlock(typ, body, head.swallow) // client SETs a transaction block may end
	}
	if typ == 'E' && head.err == nil || (typ == 'C' && !head.swallow) {
		// Rows of pgmoat's own statements (the per-transaction settings
		// behind a pooler) are not the client's.
		s.noteOutcome(typ, body)
	}
	abandon := false
	switch {
	case typ == 'E' && head.injection && s.queryBehindInjection():
		// The backend skips the client's Query too: see injectfail.go.
		bk.broken.Store(true)
		s.abandonAfterInjection(injectionCause())
		forwardIt, abandon = true, true
	case typ == 'E' && head.kind != expectQuery:
		// The backend skips to the next Sync: so do the queue and the
		// session.
		s.dropUntilSync()
		// Until the client's Sync reaches it; one already sent ends
		// the skipping by itself.
		s.backendSkips = len(s.expect) == 0 || s.expect[0].kind != expectSync
		s.failBatchSets() // the batch's transaction is rolled back, its SETs with it
		if head.swallow {
			forwardIt = true // a failure of pgmoat's own Parse is the client's failure too
		}
		if head.injection {
			bk.broken.Store(true)
		}
	case typ == 'E':
		// In a simple Query an error does not end the statement.
	case head.ends(typ):
		s.expect = s.expect[1:]
		if typ == 'Z' && !head.started.IsZero() {
			d := time.Since(head.started)
			s.srv.metrics.observe(string(head.stmtKind), d)
			s.finishStatement(head, d)
		}
		if typ == '1' && head.prepared != "" {
			bk.addPrepared(head.prepared)
		}
		if typ == 'Z' {
			bk.ready(body)
		}
		if typ == 'Z' && head.settle {
			s.reportBatchSets()
		}
		if typ == 'Z' && !s.clientGone && (s.work.sets.due != nil || len(s.work.sets.undone) > 0) {
			s.reportDue()
		}
	}
	synth := s.takeSynthetic()
	release := abandon || (typ == 'Z' && len(s.expect) == 0 && !s.unsynced && bk.txStatus == 'I')
	if release {
		s.setHeld(nil)
		s.endSpan(false)
	}
	s.dropQueue()

	if forwardIt {
		if typ == 'E' {
			s.forwardError(head, body)
		} else {
			s.writeClient(typ, body, false)
		}
	}
	s.writeSynthetic(synth)
	if release || !bk.rd.buffered() {
		s.flushClient()
	}
	if release {
		s.handBack(bk)
	}
	return release
}

// dropUntilSync removes queue entries up to (not including) the next
// Sync: after an error in an extended batch the backend answers nothing
// else before it, not even a simple Query sent meanwhile.
func (s *session) dropUntilSync() {
	i := 0
	for i < len(s.expect) && s.expect[i].kind != expectSync && s.expect[i].kind != synthReady {
		i++
	}
	s.undoSkipped(s.expect[:i])
	s.expect = s.expect[i:]
}

// takeSynthetic pops the synthetic entries now at the head of the queue.
func (s *session) takeSynthetic() []expectation {
	var out []expectation
	for len(s.expect) > 0 && s.expect[0].kind.synthetic() {
		out = append(out, s.expect[0])
		s.expect = s.expect[1:]
	}
	return out
}

// writeSynthetic writes made-up responses.
func (s *session) writeSynthetic(entries []expectation) {
	for _, e := range entries {
		switch e.kind {
		case synthParseComplete:
			s.writeClient('1', nil, false)
		case synthCloseComplete:
			s.writeClient('3', nil, false)
		case synthError:
			s.srv.metrics.clientError(e.err.code)
			s.writeMsg(e.err.response())
		case synthEmpty:
			s.writeClient('I', nil, false)
		case synthSet, synthReset:
			s.writeMsg(&pgproto3.CommandComplete{CommandTag: setTag(e.kind)})
			if e.report != nil {
				s.writeMsg(e.report)
			}
		case synthDeallocate:
			s.writeMsg(&pgproto3.CommandComplete{CommandTag: []byte("DEALLOCATE")})
		case synthDeallocateAll:
			s.writeMsg(&pgproto3.CommandComplete{CommandTag: []byte("DEALLOCATE ALL")})
		case synthBindComplete:
			s.writeClient('2', nil, false)
		case synthNoData:
			s.writeClient('n', nil, false)
		case synthParamDesc:
			s.writeMsg(&pgproto3.ParameterDescription{ParameterOIDs: e.paramOIDs})
		case synthReport:
			s.writeMsg(e.report)
		case synthReady:
			if late := s.work.sets.late; late != nil {
				for _, r := range late {
					s.writeMsg(r)
				}
				s.work.sets.late = nil
			}
			s.writeClient('Z', []byte{s.txStatus()}, false)
		}
	}
}

// txStatus is what the client's ReadyForQuery should say now.
func (s *session) txStatus() byte {
	if s.bk == nil {
		return 'I'
	}
	return s.bk.txStatus
}

// backendLost ends a lending whose backend failed under it. The client's
// transaction is gone with it, so the client is told and disconnected.
func (s *session) backendLost(bk *backend, err error) {
	s.srv.pool.lostLent(bk, err)
	if bk.stalled.Load() {
		s.endLending(bk, fatalf(codeConnFailure, "pgmoat: backend.stalled: the server stopped reading this connection's messages for longer than "+
			s.srv.cfg.IdleTransactionTimeout.String()+" (its results were not read while more was pipelined); reconnect, and send Sync or Flush and read the results before pipelining more"))
		return
	}
	s.endLending(bk, fatalf(codeConnFailure, "pgmoat: backend.lost: the server connection was lost ("+err.Error()+"); reconnect and retry"))
}

// backendLostMidMessage ends a lending whose backend failed while a
// message was being passed through: the client's stream is cut inside a
// message, so the only honest thing left is to close its connection.
func (s *session) backendLostMidMessage(bk *backend, err error) {
	s.srv.log.Warn("backend lost while a large message was passed through; closing the client connection", "user", s.user, "user_id", s.id.UserID, "err", err)
	s.discard(bk)
	s.lost.Store(true)
	_ = s.conn.Close()
}

// endLending discards a backend that cannot serve on, tells the client
// why and disconnects it.
func (s *session) endLending(bk *backend, why *wireError) {
	if gone := s.discard(bk); !gone {
		s.tellLost(why)
	}
}

// tellLost tells the client its lending ended under it and disconnects
// it.
func (s *session) tellLost(why *wireError) {
	s.expect = nil
	s.dropQueue()
	s.srv.metrics.clientError(why.code)
	s.writeMsg(why.response())
	s.flushClient()
	_ = s.conn.SetReadDeadline(time.Now()) // wake the session loop
	s.lost.Store(true)
}

// discard takes a broken backend from the session (with what it was
// expected to answer and the span of its work) and hands it back to be
// closed; it reports whether the client had already gone.
func (s *session) discard(bk *backend) (clientGone bool) {
	bk.broken.Store(true)
	s.setHeld(nil)
	s.expect = nil
	s.endSpan(true)
	s.dropQueue()
	s.handBack(bk)
	return s.clientGone
}

// writeClient appends one raw message to the client buffer. Write errors
// mean the client is gone; the session loop finds out on its next read.
func (s *session) writeClient(typ byte, body []byte, flush bool) {
	if s.outErr != nil {
		return
	}
	if err := writeRaw(s.writer(), typ, body); err != nil {
		s.outErr = err
		return
	}
	if flush {
		s.flushClient()
	}
}

// writeMsg encodes and appends a message.
func (s *session) writeMsg(msg pgproto3.BackendMessage) {
	if s.outErr != nil {
		return
	}
	var err error
	s.scratch, err = msg.Encode(s.scratch[:0])
	if err == nil {
		_, err = s.writer().Write(s.scratch)
	}
	if err != nil {
		s.outErr = err
	}
}

func (s *session) flushClient() {
	if s.out == nil {
		return
	}
	if s.outErr == nil {
		s.outErr = s.out.Flush()
	}
	if s.outErr == nil && s.out.Buffered() == 0 {
		// Between writes the buffer goes back to the server's pool: an
		// idle client then holds no output buffer at all.
		s.srv.writers.Put(s.out)
		s.out = nil
	}
}

// writer returns the client's output buffer, taking one from the pool
// when it has none.
func (s *session) writer() *bufio.Writer {
	if s.out == nil {
		s.out = s.srv.writers.Get().(*bufio.Writer)
		s.out.Reset(stalledWriter{s})
	}
	return s.out
}

// cancelBackend forwards a cancel for whatever the session's backend
// runs. It holds cancelMu until the server has read the request (and
// signalled the backend), so the backend cannot have gone to another
// borrower by the time the cancel lands (handBack waits for it). While
// the lending moves to another backend (replay.go) it only notes the
// cancel, which the replay sends on (sendReplay): the statement is
// running from the client's view, though no backend has it. While the
// session waits for the backend of a statement, it ends the wait
// (acquire.go).
func (s *session) cancelBackend() {
	s.cancelMu.Lock()
	defer s.cancelMu.Unlock()
	if s.acquiring {
		s.stopAcquire()
		return
	}
	bk := s.held.Load()
	if (bk == nil && !s.replaying) || !s.busy.Load() {
		return
	}
	s.cancelAsked = true
	if s.replaying {
		return
	}
	s.cancelHeld(bk)
}

// cancelHeld sends a cancel for the lending of bk, which the session
// holds; under cancelMu.
func (s *session) cancelHeld(bk *backend) {
	lending := bk.lending.Load() // the session's: it holds bk
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = bk.cancel(ctx, lending)
}

// errorCode finds the SQLSTATE field of an ErrorResponse body without
// decoding the rest.
func errorCode(body []byte) string {
	for len(body) > 1 {
		field := body[0]
		end := bytes.IndexByte(body[1:], 0)
		if end < 0 {
			break
		}
		if field == 'C' {
			return string(body[1 : 1+end])
		}
		body = body[end+2:]
	}
	return "unknown"
}

// handBack returns a backend to the pool once no cancel request for it
// is still on its way to the server and, for an abandoned lending, no
// write of its ROLLBACK is still in progress (rollbackAbandoned).
func (s *session) handBack(bk *backend) {
	if s.clientGone {
		s.wmu.Lock()
		defer s.wmu.Unlock()
		if s.abandoned == bk {
			s.abandoned = nil
		}
	}
	s.cancelMu.Lock()
	defer s.cancelMu.Unlock()
	if !s.replaying {
		s.cancelAsked = false // the lending is over
	}
	if len(bk.pending) > 0 {
		bk.broken.Store(true) // a batch never sent: the server's state is not known
	}
	bk.unlimitWrites()
	s.srv.pool.release(bk)
}

// finishStatement reports a statement that got its ReadyForQuery to the
// log, the trace and the slow log.
func (s *session) finishStatement(e expectation, d time.Duration) {
	rows, sqlstate := s.work.stmtRows, s.work.stmtError
	s.work.stmtRows, s.work.stmtError = 0, ""
	s.logStatement(e, d, rows, sqlstate)
	s.traceStatement(e, d, rows, sqlstate)
	s.noteSlow(e, d)
}

// traceStatement adds one event per statement to the lending's span:
// kind, the SQL with literals replaced by $n, rows, the error's SQLSTATE.
func (s *session) traceStatement(e expectation, d time.Duration, rows int64, sqlstate string) {
	if s.work.span == nil || !s.work.span.IsRecording() {
		return // an unsampled span: no normalization for nothing
	}
	attrs := []attribute.KeyValue{attribute.String("db.operation.name", string(e.stmtKind)),
		attribute.String("db.query.text", policy.Normalize(e.sql)), attribute.Int64("pgmoat.rows", rows),
		attribute.Float64("pgmoat.duration_ms", float64(d.Microseconds())/1000)}
	if sqlstate != "" {
		attrs = append(attrs, attribute.String("db.response.status_code", sqlstate))
		s.work.span.SetStatus(codes.Error, "SQLSTATE "+sqlstate)
	}
	s.work.span.AddEvent("statement", trace.WithAttributes(attrs...))
}

// noteOutcome adds a CommandComplete's row count or an error's SQLSTATE
// to the statement being run, for its log record.
func (s *session) noteOutcome(typ byte, body []byte) {
	if s.work.span == nil && !s.srv.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	if typ == 'E' {
		if s.work.stmtError == "" {
			s.work.stmtError = errorCode(body)
		}
		return
	}
	s.work.stmtRows += tagRows(body)
}

// tagRows is the row count at the end of a command tag ("SELECT 5",
// "FETCH 2"); 0 for tags without one.
func tagRows(tag []byte) int64 {
	tag = bytes.TrimRight(tag, "\x00")
	i := bytes.LastIndexByte(tag, ' ')
	if i < 0 {
		return 0
	}
	n, err := strconv.ParseInt(string(tag[i+1:]), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// logStatement writes one debug record per finished statement: kind,
// identity, request id, the SQL with every literal replaced by $n (never
// a value), rows, the error's SQLSTATE, duration. Off unless the logger
// is at debug level, because it costs a normalization per statement.
func (s *session) logStatement(e expectation, d time.Duration, rows int64, sqlstate string) {
	if !s.srv.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	s.work.requests++
	attrs := []any{"request_id", fmt.Sprintf("%08x-%d", s.key.pid, s.work.requests),
		"user", s.user, "user_id", s.id.UserID, "profile", s.id.Profile, "kind", string(e.stmtKind),
		"verdict", "allow", "sql", policy.Normalize(e.sql),
		"rows", rows, "duration_ms", float64(d.Microseconds()) / 1000}
	if sqlstate != "" {
		attrs = append(attrs, "sqlstate", sqlstate)
	}
	s.srv.log.Debug("statement", attrs...)
}

// endSpan closes the lending's span.
func (s *session) endSpan(failed bool) {
	if s.work.span == nil {
		return
	}
	if failed {
		s.work.span.SetStatus(codes.Error, "backend lost")
	}
	s.work.span.End()
	s.work.span = nil
}

package proxy

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"go.opentelemetry.io/otel/trace"

	"github.com/pgmoat/pgmoat/policy"
)

// session serves one authenticated client connection. Its state comes in
// pieces, each with one owner (doc.go has the list): the client's output,
// the current lending and the extended-protocol batch belong to the
// session goroutine (serve), which reads the client and, after each
// Sync, Query or Flush, the backend, so the per-message path takes no
// lock. Only while cleanup drains an abandoned lending does the lending
// and the output pass to the forwarder goroutine, and back when it ends.
// Other goroutines (the admin console's SHOW CLIENTS and SHOW POOLS, the
// idle-transaction sweeper, cancel and KILL, shutdown) read only what the
// session publishes (shown) and the fields fixed before the session is
// registered (user, id, conn, started, key); a KILL or a shutdown leaves
// its FATAL for the session goroutine to write (farewell).
type session struct {
	srv     *Server
	conn    net.Conn
	in      *clientReader // decodes what the client sends
	user    string
	started time.Time
	id      policy.Identity
	// set is what the session's backends carry, shared with every
	// session of the same identity and startup parameters; replaced
	// (never modified) when the engine's profiles change, so a reload
	// reaches running sessions.
	set *sessionSettings
	key cancelKey

	clientOut
	lendingState
	batchState
	shown

	// wmu serializes the writes of an abandoned lending's ROLLBACK with
	// the release of its backend by the forwarder that drains it
	// (rollbackAbandoned), so a backend is never handed on while a write
	// to it is still finishing. The session goroutine's own writes need
	// it not: it is the one that releases.
	wmu sync.Mutex
	// abandoned is the backend rollbackAbandoned writes to, until the
	// forwarder hands it back; under wmu.
	abandoned *backend
	// cancelMu is held while a cancel request for the held backend is
	// on its way to the server, and by its release: a cancel that read
	// the backend before it went back reaches the server before anyone
	// else can borrow it, and the server drops a cancel that finds it
	// idle.
	cancelMu sync.Mutex
	// cancelAsked says a cancel request came for the current lending
	// while something was owed; replaying says the lending is moving to
	// another backend (replay.go) that has not been sent the batch yet.
	// Both under cancelMu. A cancel that comes while replaying is not
	// sent, and one sent to the dead backend never reached the
	// statement: the replay sends it to the next backend once that one
	// has the batch (sendReplay). handBack clears cancelAsked when the
	// lending ends.
	cancelAsked, replaying bool
	// acquiring says the session waits for the backend of a statement
	// (lendForStatement): a cancel request then sets waitCanceled and
	// puts a token on acquireStop, which ends the wait. Under cancelMu;
	// acquireStop is made once, at the session's first lending.
	acquiring, waitCanceled bool
	acquireStop             chan struct{}

	lost  atomic.Bool
	fwdWG sync.WaitGroup
	// idleSince is when the session began waiting for its client while
	// holding a backend (UnixNano), 0 when it is not, idleTimedOut once
	// the server's sweeper has claimed the wait (see idle.go).
	idleSince atomic.Int64
	// writeSince is when a write to the client started and has not
	// returned (0: none): a client that stops reading its results would
	// otherwise hold its backend for ever (stalledWriter, in idle.go).
	writeSince atomic.Int64
	// work is what only a session that has sent something needs; nil
	// until its first message.
	work *sessionWork
	// parkToken is the session's token in the parker's map while it is
	// parked, 0 otherwise; under the parker's mu (park.go).
	parkToken uint64
}

// clientOut is the client's output: the session goroutine's (the
// forwarder's while it drains an abandoned lending, when nobody listens).
type clientOut struct {
	out     *bufio.Writer
	outErr  error
	scratch []byte
	// saidFarewell says the farewell was written (sayFarewell).
	saidFarewell bool
}

// lendingState is the current lending: the session goroutine's (the
// forwarder's while it drains an abandoned one).
type lendingState struct {
	bk         *backend      // held backend, nil between transactions
	expect     []expectation // responses owed to the client, in order
	queue      *queueBuf     // expect's backing array while it is in use (from srv.readers.queues)
	unsynced   bool          // extended-protocol messages sent since the last Sync
	clientGone bool          // cleanup began: nobody is told anything more
	// backendSkips says the backend reported an error in an extended
	// batch not yet ended by Sync: like PostgreSQL, which ignores every
	// message but Sync from then on (a simple Query included), the
	// session must then discard the client's messages itself, or it
	// would wait for answers that never come. The session goroutine
	// folds it into skipping before each message (noteBackendSkip).
	backendSkips bool
	// slowAfter is the profile's slow threshold, looked up once.
	slowAfter time.Duration
	// busyShown is what shown.busy was last set to.
	busyShown bool
	// inFlight counts the bytes committed to the held backend since it
	// last owed nothing; staged, stagedEntries and wantFlush are what
	// the client message being handled has sent (bytes, queue entries)
	// and whether it asked for a flush, none of it on the socket yet:
	// commit decides, once the message is handled, whether the backend's
	// answers must be read first (pipeline.go).
	inFlight      int
	staged        int
	stagedEntries int
	wantFlush     bool
}

// batchState is the extended-protocol batch and the client's statements:
// the session goroutine alone.
type batchState struct {
	// stmts maps the client's prepared statement names to what pgmoat
	// prepares on whichever backend it holds; nil until the first.
	stmts    map[string]clientStmt
	skipping bool // after an error in extended protocol: discard until Sync
	// unnamed is the client's last unnamed statement; unnamedFresh says
	// the held backend has it (parsed in this lending or batch).
	unnamed      *clientStmt
	unnamedFresh bool
	// batchOpen is set once the current batch (up to Sync or Query) has
	// its backend and, behind a pooler, its per-transaction settings.
	batchOpen bool
	// txEnded says a statement sent since the last batch start ended a
	// transaction (chain.go): the next transaction may start without a
	// new batch.
	txEnded bool
}

// sessionWork is the part of a session that serves statements: the
// current batch's description, the first batch's replay log, the chain's
// portals, the statement log's counters, the lending's span and the
// hang-up watch. Allocated at the first message, so a client that logs
// in and waits carries none of it. Its batch fields belong to the
// session goroutine as batchState does, its statement counters and span
// to the lending's owner as lendingState does; the watch has its own
// lock (watch.go).
type sessionWork struct {
	// endPortals are the portals bound to statements that end a
	// transaction (chain.go).
	endPortals map[string]bool
	// batchKind, batchSQL and batchOIDs describe the batch's last parsed
	// or bound statement, for metrics and the statement and slow logs of
	// extended-protocol batches.
	batchKind policy.Kind
	batchSQL  string
	batchOIDs []uint32
	// replay keeps the lending's first batch until the backend answers
	// (replay.go).
	replay replayLog
	// requests counts finished statements, for request ids in logs;
	// stmtRows and stmtError gather the running statement's outcome for
	// its log record (at debug level only).
	requests  int
	stmtRows  int64
	stmtError string
	// unnamedPortal and portals are what the lending's portals run
	// (portals.go).
	unnamedPortal boundPortal
	portals       map[string]boundPortal
	// span is the lending's span when tracing is on.
	span  trace.Span
	watch clientWatch
	// parseOut, bindOut and describeOut are the messages sent to the
	// backend for the client's, reused so that sending one allocates
	// nothing; each is encoded at once.
	parseOut    pgproto3.Parse
	bindOut     pgproto3.Bind
	describeOut pgproto3.Describe
	// sets are the portals of client SETs and what the batch's SETs
	// changed (clientsetext.go).
	sets extSets
	// held keeps a message's bytes aside while the answers owed ahead of
	// them are read (pipeline.go).
	held []byte
}

// shown is what the session publishes to other goroutines; the session
// goroutine writes it, anyone reads it.
type shown struct {
	// held is the backend the session holds (bk, setHeld).
	held atomic.Pointer[backend]
	// busy says the response queue is not empty.
	busy atomic.Bool
	// drained counts the times the response queue emptied: a cancel
	// sent again for a replayed statement (recancelReplay) stops once
	// the statement it was for has been answered.
	drained atomic.Uint64
	// farewell is the FATAL a KILL or a shutdown left for the session
	// goroutine to write before it ends the session (serve), or that
	// the one who took a parked session out of the parker's map wrote
	// (bid).
	farewell atomic.Pointer[wireError]
}

// clientStmt is a statement the client prepared under a name.
type clientStmt struct {
	query       string // the text sent to the backend (after any rewrite)
	paramOIDs   []uint32
	backendName string
	// sql and kind are the client's text as policy judged it, for the
	// statement log and the slow log of every batch that binds it.
	sql  string
	kind policy.Kind
	// gen is the engine generation sql was judged under; a Bind under
	// another generation judges it again.
	gen uint64
	// setting is the client setting a SET statement chooses: the
	// session answers it itself and the backend never sees it
	// (clientsetext.go).
	setting *policy.ClientSetting
	// dealloc is what a DEALLOCATE statement forgets: the session
	// answers it itself too (deallocate.go).
	dealloc *policy.Deallocation
}

// run serves the session on a fresh goroutine, at its start and each
// time the parker resumes it, until it parks again or ends.
func (s *session) run() {
	if s.serve(context.Background()) {
		return // parked: whoever takes it out of the parker's map runs it again
	}
	s.cleanup()
	s.srv.finish(acceptedConn(s.conn)) // the tracked one, under any TLS
}

// serve runs the session loop until the client leaves or the server
// closes (false), or until the session parks (true): then its goroutine
// must return without touching it.
func (s *session) serve(ctx context.Context) bool {
	for {
		if s.sayFarewell() {
			return false
		}
		armed, parkable := s.armIdle()
		s.in.parkable = parkable
		msg, err := s.in.Receive()
		if armed && s.disarmIdle() {
			s.idleTimeout()
			return false
		}
		if s.sayFarewell() {
			return false
		}
		if err == errPark {
			if s.srv.park.park(s) {
				return true
			}
			continue
		}
		if err != nil {
			s.readFailed(err)
			return false
		}
		if done := s.handle(ctx, msg); done {
			return false
		}
	}
}

func (s *session) readFailed(err error) {
	if s.lost.Load() {
		return
	}
	var tooBig *pgproto3.ExceededMaxBodyLenErr
	if errors.As(err, &tooBig) {
		s.fatal(fatalf(codeProtocol, "pgmoat: protocol.message_size: message of "+strconv.Itoa(tooBig.ActualBodyLen)+" bytes exceeds the limit of "+strconv.Itoa(tooBig.MaxExpectedBodyLen)))
	}
}

// handle processes one client message; it reports whether the session ends.
func (s *session) handle(ctx context.Context, msg pgproto3.FrontendMessage) bool {
	if s.work == nil {
		s.work = new(sessionWork)
	}
	s.noteBackendSkip()
	s.staged, s.stagedEntries, s.wantFlush = 0, 0, false
	answer := false // the message asks for the backend's answers now
	switch m := msg.(type) {
	case *pgproto3.Query:
		s.query(ctx, m.String)
		answer = true
	case *pgproto3.Parse:
		s.parse(ctx, m)
	case *pgproto3.Bind:
		s.bind(ctx, m)
	case *pgproto3.Describe:
		s.describe(ctx, m)
	case *pgproto3.Execute:
		s.execute(ctx, m)
	case *pgproto3.Close:
		s.closeMsg(ctx, m)
	case *pgproto3.Sync:
		s.sync(ctx)
		answer = true
	case *pgproto3.Flush:
		s.flushMsg()
		answer = true
	case *pgproto3.Terminate:
		return true
	case *pgproto3.FunctionCall:
		answer = s.refuseFunctionCall()
	case *pgproto3.CopyData, *pgproto3.CopyDone, *pgproto3.CopyFail:
		s.fatal(fatalf(codeProtocol, "pgmoat: protocol.copy: COPY data sent outside a COPY (COPY is not allowed through pgmoat)"))
		return true
	default:
		s.fatal(fatalf(codeProtocol, "pgmoat: protocol.unexpected: unexpected message from client"))
		return true
	}
	s.commit(ctx)
	if answer {
		s.pump(ctx)
	}
	return s.lost.Load()
}

// noteBackendSkip makes the session skip to Sync when the backend does.
func (s *session) noteBackendSkip() {
	if s.backendSkips {
		s.skipping = true
	}
}

// query handles a simple-protocol Query. Inside an extended batch that
// failed, PostgreSQL ignores a Query until the client's Sync; so does
// the session (nothing is sent, nothing is answered).
func (s *session) query(ctx context.Context, sql string) {
	if s.skipping {
		return
	}
	s.queryDropsUnnamed()
	v := s.srv.decideQuery(s.id, sql)
	if v.Kind == policy.KindEmpty || v.Setting != nil || v.Deallocate != nil {
		s.endOpenBatch(ctx)
	}
	if v.Kind == policy.KindEmpty {
		// Nothing to run (drivers ping with "-- ping"): PostgreSQL
		// answers EmptyQueryResponse, and so does pgmoat, without a
		// backend.
		s.settleOpenBatch()
		s.pushSynthetic(expectation{kind: synthEmpty}, expectation{kind: synthReady})
		return
	}
	s.srv.metrics.statement(string(v.Kind), verdictLabel(v))
	if e := v.Err(); e != nil {
		s.srv.noteDenial(s, sql, v)
		s.refuseSimple(s.inFailedBlock(v.Kind, denied(e)))
		return
	}
	if v.Setting != nil {
		s.clientSetting(ctx, v.Setting)
		return
	}
	if v.Deallocate != nil {
		s.deallocateSimple(ctx, v.Deallocate)
		return
	}
	if !s.startQueryBatch(ctx, v) {
		return
	}
	s.push(expectation{kind: expectQuery, started: time.Now(), stmtKind: v.Kind, sql: sql}, false)
	s.sendBackend(&pgproto3.Query{String: v.SQL(sql)}, true)
	s.batchOpen = false
	if endsTransaction(v.Kind) {
		s.txEnded = true
		s.forgetPortals()
	}
}

// queryDropsUnnamed forgets the client's unnamed statement at a simple
// Query, as PostgreSQL drops it first thing at every Query (an empty
// one, a denied one, one in a failed block alike): a Bind or Describe
// of it without a new Parse gets 26000. The unnamed portal is another
// matter (queryRanUnnamed).
func (s *session) queryDropsUnnamed() {
	s.unnamed, s.unnamedFresh = nil, false
	delete(s.work.sets.portals, "")
}

// queryRanUnnamed forgets the client's unnamed portal once a Query the
// session answers itself (a SET taken, a DEALLOCATE) has run.
// PostgreSQL replaces the unnamed portal with the Query's own only when
// the statement has parsed, passed the failed block's 25P02 check and
// been analysed, and drops that one when it succeeds: an empty Query, a
// denied one and one refused in a failed block leave the client's
// portal bound, and a later Execute of it in the failed block gets
// 25P02, not 34000. A Query sent to the server leaves the portal to the
// server, which has the client's portal, the Query's own that failed,
// or none: the session's record is left as it was.
func (s *session) queryRanUnnamed() {
	s.unbindUnnamed()
}

// endOpenBatch ends on the backend an extended batch the client left
// open (no Sync yet) before a Query pgmoat answers itself. PostgreSQL
// answers such a Query after the batch, whose implicit transaction ends
// with the Query; the backend, which is never sent that Query, would
// otherwise keep the batch's answers (and the backend) waiting for a
// Sync that may never come. A Sync does the same on the backend, and its
// ReadyForQuery is not the client's: the Query's own follows. The
// batch's client SETs wait for the Query's answer, as they are in
// PostgreSQL part of its transaction: settled if it succeeds
// (settleOpenBatch), put back if it is refused (refuseSimple).
func (s *session) endOpenBatch(ctx context.Context) {
	clear(s.work.sets.portals)
	if !s.batchOpen || s.bk == nil {
		s.batchOpen = false
		return
	}
	s.backendSkips = false
	s.push(expectation{kind: expectSync, swallow: true}, false)
	s.sendBackend(&pgproto3.Sync{}, true)
	s.batchOpen = false
	s.commit(ctx) // sent now: a client SET waits for its answer (takeClientSetting)
}

// settleOpenBatch settles the client SETs of a batch endOpenBatch ended,
// once the Query that ended it succeeded: their reports go just before
// the Query's ReadyForQuery, as PostgreSQL sends them.
func (s *session) settleOpenBatch() {
	if s.work.sets.taken {
		s.work.sets.late = s.batchReports()
	}
}

func (s *session) parse(ctx context.Context, m *pgproto3.Parse) {
	if s.skipping {
		return
	}
	gen := s.srv.engine.Generation()
	v := s.srv.decide(s.id, m.Query)
	s.srv.metrics.statement(string(v.Kind), verdictLabel(v))
	if e := v.Err(); e != nil {
		s.srv.noteDenial(s, m.Query, v)
		s.refuseExtended(s.inFailedBlock(v.Kind, denied(e)))
		if m.Name == "" {
			// PostgreSQL drops the unnamed statement before it parses
			// the new one: after a Parse that failed there is none.
			s.unnamed, s.unnamedFresh = nil, false
		}
		return
	}
	if !s.paramTypesAllowed(m.Query, m.ParameterOIDs) || s.failedBlockParse(v.Kind) {
		if m.Name == "" {
			s.unnamed, s.unnamedFresh = nil, false
		}
		return
	}
	if v.Setting != nil || v.Deallocate != nil {
		// Never to the backend: it would outlive the lending, or
		// drop statements other clients share.
		s.parseSetting(m, v, gen)
		return
	}
	// The decoded OIDs are overwritten by the next Parse (decode.go).
	oids := append([]uint32(nil), m.ParameterOIDs...)
	s.work.batchKind, s.work.batchSQL, s.work.batchOIDs = v.Kind, m.Query, oids
	query := v.SQL(m.Query)
	if m.Name == "" {
		if !s.startBatch(ctx, false) {
			return
		}
		e := s.replaceUnnamed(clientStmt{query: query, paramOIDs: oids, sql: m.Query, kind: v.Kind, gen: gen})
		s.unnamedFresh = true
		e.kind = expectParse
		s.push(e, true)
		s.work.parseOut = pgproto3.Parse{Query: query, ParameterOIDs: m.ParameterOIDs}
		s.sendBackend(&s.work.parseOut, false)
		return
	}
	if _, exists := s.stmts[m.Name]; exists {
		s.refuseExtended(s.inFailedBlock(v.Kind, errorf(codeDupStatement, "prepared statement \""+m.Name+"\" already exists")))
		return
	}
	st := clientStmt{query: query, paramOIDs: oids, sql: m.Query, kind: v.Kind, gen: gen}
	st.backendName = s.set.statementName(st.query, st.paramOIDs)
	if !s.startBatch(ctx, false) {
		return
	}
	if s.stmts == nil {
		s.stmts = map[string]clientStmt{}
	}
	s.stmts[m.Name] = st
	if s.ensurePreparedAs(st, false, m.Name) {
		// Undone if an earlier message of the batch fails (skipped.go).
		s.pushSynthetic(expectation{kind: synthParseComplete, client: m.Name})
	}
}

// backendStatementName derives the server-side name from the text and
// parameter types, so every client preparing the same statement shares
// one server-side plan per backend.
func backendStatementName(query string, oids []uint32) string {
	h := sha256.New()
	h.Write([]byte(query))
	for _, o := range oids {
		h.Write([]byte{byte(o >> 24), byte(o >> 16), byte(o >> 8), byte(o)})
	}
	return "pgmoat_" + hex.EncodeToString(h.Sum(nil)[:12])
}

// ensureUnnamed makes sure the backend's unnamed statement is the one
// this client parsed. A backend newly lent, or a new transaction behind a
// pooler, may carry another borrower's unnamed statement or none: the
// client's text is parsed again, hidden, so nobody ever binds to a
// statement someone else prepared.
func (s *session) ensureUnnamed() bool {
	if s.unnamedFresh {
		return true
	}
	if s.unnamed == nil {
		s.refuseExtended(errorf(codeNoStatement, "unnamed prepared statement does not exist"))
		return false
	}
	s.push(expectation{kind: expectParse, swallow: true}, true)
	s.sendBackend(&pgproto3.Parse{Query: s.unnamed.query, ParameterOIDs: s.unnamed.paramOIDs}, false)
	s.unnamedFresh = true
	return true
}

// ensurePrepared makes sure the held backend has st prepared. When it had
// to send a Parse, the answer goes to the client unless hidden is set.
// It reports whether the statement was already there.
func (s *session) ensurePrepared(st clientStmt, hidden bool) bool {
	return s.ensurePreparedAs(st, hidden, "")
}

// ensurePreparedAs is ensurePrepared for a Parse of the client's
// statement client, which is forgotten if the server refuses it.
func (s *session) ensurePreparedAs(st clientStmt, hidden bool, client string) bool {
	if s.srv.pool.cfg.BehindPooler {
		// No server-side state survives a pooler's transaction: parse into
		// the unnamed statement each time it is used.
		if hidden {
			s.push(expectation{kind: expectParse, swallow: true}, true)
			s.sendBackend(&pgproto3.Parse{Query: st.query, ParameterOIDs: st.paramOIDs}, false)
		}
		return true
	}
	if _, have := s.bk.prepared[st.backendName]; have {
		s.work.replay.noteAssumed(st)
		return true
	}
	if s.parsePending(st.backendName) {
		return true
	}
	s.push(expectation{kind: expectParse, swallow: hidden, prepared: st.backendName, client: client}, true)
	s.sendBackend(&pgproto3.Parse{Name: st.backendName, Query: st.query, ParameterOIDs: st.paramOIDs}, false)
	return false
}

// parsePending reports whether a Parse creating the server-side
// statement name is already on its way (queued, not answered yet).
func (s *session) parsePending(name string) bool {
	for i := range s.expect {
		if s.expect[i].prepared == name {
			return true
		}
	}
	return false
}

// statement resolves a client statement name for Bind and Describe; the
// unnamed statement passes through.
func (s *session) statement(name string) (string, bool) {
	if name == "" {
		return "", s.ensureUnnamed()
	}
	st, ok := s.stmts[name]
	if !ok {
		s.refuseExtended(errorf(codeNoStatement, "prepared statement \""+name+"\" does not exist"))
		return "", false
	}
	s.ensurePrepared(st, true)
	if s.srv.pool.cfg.BehindPooler {
		return "", true
	}
	return st.backendName, true
}

func (s *session) bind(ctx context.Context, m *pgproto3.Bind) {
	if s.skipping || s.bindSetting(m) || !s.rejudge(m.PreparedStatement) || !s.startBatch(ctx, false) {
		return
	}
	name, ok := s.statement(m.PreparedStatement)
	if !ok {
		return
	}
	s.noteBound(m.PreparedStatement)
	s.notePortal(m.DestinationPortal, s.work.batchKind)
	s.noteBoundPortal(m.DestinationPortal, m.PreparedStatement)
	s.work.bindOut = *m
	s.work.bindOut.PreparedStatement = name
	s.push(expectation{kind: expectBind}, true)
	s.sendBackend(&s.work.bindOut, false)
}

// rejudge decides a prepared statement's text again when the engine's
// rules changed since it was judged (a RELOAD, a new function catalog):
// a statement prepared before deny_relations gained an entry must not
// keep running. A denial refuses the Bind as a Parse of the text would
// be refused; the statement stays prepared, for the rules may change
// back. When the verdict's rewrite changed (another max_rows), the new
// text is what binds from now on.
func (s *session) rejudge(name string) bool {
	st, ok := s.stmts[name]
	if name == "" {
		if s.unnamed == nil {
			return true // ensureUnnamed reports it
		}
		st, ok = *s.unnamed, true
	}
	gen := s.srv.engine.Generation()
	if !ok || st.gen == gen {
		return true
	}
	v, allowed := s.judgeAgain(st.sql)
	if !allowed || !s.paramTypesAllowed(st.sql, st.paramOIDs) {
		return false
	}
	st.gen, st.kind = gen, v.Kind
	if q := v.SQL(st.sql); q != st.query {
		st.query = q
		st.backendName = s.set.statementName(q, st.paramOIDs)
		if name == "" {
			s.unnamedFresh = false
		}
	}
	if name == "" {
		*s.unnamed = st
	} else {
		s.stmts[name] = st
	}
	return true
}

// judgeAgain decides sql again under the engine's current rules, as a
// Parse of it would be; a denial refuses the extended-protocol message
// at hand.
func (s *session) judgeAgain(sql string) (policy.Verdict, bool) {
	v := s.srv.decide(s.id, sql)
	s.srv.metrics.statement(string(v.Kind), verdictLabel(v))
	if e := v.Err(); e != nil {
		s.srv.noteDenial(s, sql, v)
		s.refuseExtended(denied(e))
		return v, false
	}
	return v, true
}

// paramTypesAllowed judges the parameter type OIDs a Parse gives: at
// Bind the server makes each value with its type's input function and
// runs a domain's CHECKs, whatever the text, so each type is judged as
// the cast $n::type would be (policy.DecideParameterTypes). A denial
// refuses the extended-protocol message at hand.
func (s *session) paramTypesAllowed(sql string, oids []uint32) bool {
	v := s.srv.engine.DecideParameterTypes(s.id, oids)
	if e := v.Err(); e != nil {
		s.srv.noteDenial(s, sql, v)
		s.refuseExtended(denied(e))
		return false
	}
	return true
}

// noteBound makes the bound statement the batch's statement: a batch of
// Bind/Execute/Sync parses nothing, so without this a prepared
// statement's batches would be logged under the last text parsed.
func (s *session) noteBound(name string) {
	var st *clientStmt
	if name == "" {
		st = s.unnamed
	} else if named, ok := s.stmts[name]; ok {
		st = &named
	}
	if st != nil {
		s.work.batchKind, s.work.batchSQL, s.work.batchOIDs = st.kind, st.sql, st.paramOIDs
	}
}

func (s *session) describe(ctx context.Context, m *pgproto3.Describe) {
	if s.skipping || s.describeSetting(m) || (m.ObjectType == 'P' && !s.portalExists(m.Name)) || !s.startBatch(ctx, false) {
		return
	}
	s.work.describeOut = *m
	if m.ObjectType == 'S' {
		name, ok := s.statement(m.Name)
		if !ok {
			return
		}
		s.work.describeOut.Name = name
	}
	s.push(expectation{kind: expectDescribe}, true)
	s.sendBackend(&s.work.describeOut, false)
}

func (s *session) closeMsg(ctx context.Context, m *pgproto3.Close) {
	if s.skipping || s.closeSetting(m) {
		return
	}
	if m.ObjectType == 'S' {
		// The server-side statement stays cached for the next client that
		// prepares the same text, and the backend's unnamed statement is
		// never bound again before the client's next Parse of it.
		s.pushSynthetic(s.closeStatement(m.Name))
		return
	}
	if m.Name == "" {
		s.unbindUnnamed()
	}
	s.forwardExtended(ctx, m, expectation{kind: expectClose})
}

func (s *session) forwardExtended(ctx context.Context, m pgproto3.FrontendMessage, e expectation) {
	if s.skipping || !s.startBatch(ctx, false) {
		return
	}
	s.push(e, true)
	s.sendBackend(m, false)
}

func (s *session) sync(ctx context.Context) {
	settle := s.syncSets()
	s.skipping = false
	s.backendSkips = false
	if s.bk == nil {
		s.batchOpen = false
		s.pushSynthetic(expectation{kind: synthReady})
		return
	}
	s.push(expectation{kind: expectSync, settle: settle, started: time.Now(), stmtKind: s.work.batchKind, sql: s.work.batchSQL, paramOIDs: s.work.batchOIDs}, false)
	s.sendBackend(&pgproto3.Sync{}, true)
	s.batchOpen = false
}

func (s *session) flushMsg() {
	if s.bk != nil {
		s.sendBackend(&pgproto3.Flush{}, true)
	}
	s.emitSynthetic()
}

// push queues a response owed by the backend. unsynced records whether
// the message leaves an extended-protocol batch open.
func (s *session) push(e expectation, unsynced bool) {
	s.enqueue(e)
	s.unsynced = unsynced
}

// enqueue appends to the response queue, reusing its backing array once
// the queue has drained (the head is popped by reslicing, so appends
// would otherwise keep allocating). The array comes from the server's
// pool and goes back to it when the queue drains between lendings
// (dropQueue): an idle session holds none.
func (s *session) enqueue(es ...expectation) {
	if len(s.expect) == 0 {
		if s.queue == nil {
			s.queue = s.srv.readers.queues.Get().(*queueBuf)
		}
		s.expect = s.queue[:0]
	}
	s.expect = append(s.expect, es...)
	s.stagedEntries += len(es)
	s.showBusy()
}

// showBusy publishes whether anything is owed (shown.busy), when that
// changed.
func (s *session) showBusy() {
	if busy := len(s.expect) > 0; busy != s.busyShown {
		s.busyShown = busy
		if !busy {
			s.drained.Add(1)
		}
		s.busy.Store(busy)
	}
}

// setHeld makes bk (nil: none) the held backend, and shows it. The
// release of a backend the session let go of takes cancelMu
// (handBack), so a cancel that found it shown still reaches it first.
func (s *session) setHeld(bk *backend) {
	s.bk = bk
	s.inFlight = 0
	s.held.Store(bk)
}

// dropQueue gives the response queue's array back once nothing is owed
// and no backend is held.
func (s *session) dropQueue() {
	defer s.showBusy()
	if len(s.expect) > 0 || s.bk != nil || s.queue == nil {
		return
	}
	*s.queue = queueBuf{} // keeps no error or statement text alive
	s.srv.readers.queues.Put(s.queue)
	s.queue, s.expect = nil, nil
}

// pushSynthetic queues made-up responses and writes them at once when
// nothing owed by the backend is ahead of them.
func (s *session) pushSynthetic(es ...expectation) {
	s.enqueue(es...)
	s.emitSynthetic()
}

func (s *session) emitSynthetic() {
	synth := s.takeSynthetic()
	s.dropQueue()
	if len(synth) == 0 {
		return
	}
	s.writeSynthetic(synth)
	s.flushClient()
}

// sendRaw stages encoded messages for the held backend, unflushed: the
// client message being handled sends them when it is committed
// (pipeline.go).
func (s *session) sendRaw(wire []byte) {
	if bk := s.bk; bk != nil {
		s.stageFor(bk, wire)
	}
}

// sendBackend stages a message for the held backend; flush asks for it
// to be sent, with everything before it, once the client message being
// handled is committed (pipeline.go).
func (s *session) sendBackend(m pgproto3.FrontendMessage, flush bool) {
	bk := s.bk
	if bk == nil {
		return // lost meanwhile; the forwarder has told the client
	}
	wire, err := bk.encode(m)
	if err != nil {
		s.sendFailed(bk, err)
		return
	}
	s.stageFor(bk, wire)
	s.wantFlush = s.wantFlush || flush
}

// stageFor stages wire for bk as part of the client message being
// handled.
func (s *session) stageFor(bk *backend, wire []byte) {
	s.staged += len(wire)
	s.restage(bk, wire)
}

// restage puts wire in bk's write buffers without writing to its socket,
// keeping it for a replay first (before the write: a batch a write of
// fails is kept whole).
func (s *session) restage(bk *backend, wire []byte) {
	s.work.replay.note(wire)
	if err := bk.stage(wire); err != nil {
		s.sendFailed(bk, err)
	}
}

// flushBackend sends what is buffered for the held backend.
func (s *session) flushBackend() {
	if bk := s.bk; bk != nil {
		if err := bk.flushToRead(); err != nil {
			s.sendFailed(bk, err)
		}
	}
}

// sendFailed discards a backend a write to failed. The connection is
// closed, so that whoever reads it sees the failure and reports it;
// unless the server reset it while the lending's first batch is kept:
// the read then finds the end of the connection, nothing answered, and
// replays the batch (replay.go).
func (s *session) sendFailed(bk *backend, err error) {
	bk.broken.Store(true)
	if s.work.replay.on && resetOnWrite(err) {
		s.work.replay.writeFailed = true
		return
	}
	_ = bk.conn.Close()
}

// startBatch makes sure the message about to be sent has a backend and,
// when it starts a transaction, that the transaction carries the
// borrower's identity, timeout and read-only flag itself: at the start of
// each batch pgmoat waits for earlier work to finish and, when the
// backend is idle, sends the session's per-transaction settings ahead of
// the client's first message, in the same round trip. However the
// backend's session was left, no transaction runs without them.
func (s *session) startBatch(ctx context.Context, simple bool) bool {
	if s.batchOpen {
		s.injectAfterTxEnd()
		return true
	}
	if s.owed() {
		s.pump(ctx) // the previous batch was answered in full; make sure of it
	}
	if !s.ensureBackend(ctx, simple) {
		return false
	}
	if status := s.bk.txStatus; status == 'I' || (status == 'T' && s.txEnded) {
		s.injectLocal() // a chained transaction is open without them
	}
	s.txEnded = false
	s.batchOpen = true
	return true
}

// realPending reports whether the backend still owes responses.
func (s *session) realPending() bool {
	for _, e := range s.expect {
		if !e.kind.synthetic() {
			return true
		}
	}
	return false
}

// injectLocal sends the session's per-transaction settings, encoded
// once per settings change; every response to it is swallowed. Behind a
// pooler it uses the unnamed statement itself.
func (s *session) injectLocal() {
	s.inject(s.set.localExpect, s.set.localWire, s.srv.pool.cfg.BehindPooler)
}

// inject sends pgmoat's own statements (injection), whose answers are
// swallowed; viaUnnamed says they went through the unnamed statement,
// which the client's then no longer is on the backend.
func (s *session) inject(expects []expectation, wire []byte, viaUnnamed bool) {
	s.enqueue(expects...)
	s.unsynced = true
	s.sendRaw(wire)
	s.work.replay.noteInjection(len(expects))
	s.unbindUnnamed() // the settings are bound in the unnamed portal
	if viaUnnamed {
		s.unnamedFresh = false
	}
}

// ensureBackend borrows a backend when none is held, with the session's
// settings in force, and starts its forwarder. On failure the client gets
// the error (and, outside extended protocol, ReadyForQuery).
func (s *session) ensureBackend(ctx context.Context, simple bool) bool {
	if s.bk != nil {
		return true
	}
	if s.set.gen != s.srv.engine.Generation() {
		s.refreshSettings()
	}
	bk, err := s.lendForStatement(ctx)
	if err != nil {
		// A wait ended by a KILL or a shutdown is answered by their FATAL
		// alone, as PostgreSQL ends a statement it terminates.
		if errors.Is(err, errWaitCanceled) && s.sayFarewell() {
			s.lost.Store(true)
			return false
		}
		we := toWire(err)
		if isInternal(we) {
			s.srv.log.Error("internal error", "user", s.user, "err", err, "stack", string(debug.Stack()))
		}
		if we.severity == "FATAL" {
			s.fatal(we)
			s.lost.Store(true) // the session loop ends after this message
			return false
		}
		if simple {
			s.refuseSimple(we)
		} else {
			s.refuseExtended(we)
		}
		return false
	}
	s.setHeld(bk)
	s.work.span = s.srv.startTxSpan(s, bk)
	s.unnamedFresh = false
	s.forgetPortals()
	s.work.replay.begin(bk)
	return true
}

// refreshSettings rebuilds the settings the session's backends carry from
// its profile as the engine has it now.
func (s *session) refreshSettings() {
	s.rebuildSettings(s.set.sets)
	s.slowAfter = 0 // looked up again
}

// rebuildSettings makes sets the session's client settings, under the
// engine's current profiles. It is the one way the session's settings
// change (a SET, the undo of a failed batch's or a rolled-back block's,
// a reload), so it is where the client's prepared statements follow the
// settings that change how their text is read (renameStatements): a
// statement's server-side name never names other parse settings than
// those in force.
func (s *session) rebuildSettings(sets map[string]string) {
	gen, client, salt := s.srv.engine.Generation(), s.set.client, s.set.stmtSalt
	s.set = s.srv.shared.get(gen, s.id, client, sets, func() *sessionSettings {
		return s.srv.buildSessionSettings(gen, s.id, client, sets)
	})
	if s.set.stmtSalt != salt {
		s.renameStatements()
	}
}

// fatal tells the client why it is being disconnected.
func (s *session) fatal(e *wireError) {
	s.srv.metrics.clientError(e.code)
	s.writeMsg(e.response())
	s.flushClient()
}

// bid ends the session from another goroutine (KILL, shutdown): it
// leaves e for the session goroutine to write, wakes the session's read
// of its client, and cancels what its backend runs. A session that does
// not get there within abandonGrace (its client stopped reading) has its
// connection closed. A parked session has no goroutine to write e: bid
// takes it out of the parker's map, which makes the session its own,
// writes e itself (bounded by noticeDeadline), closes the connection and
// resumes the session, which ends. Only the first farewell counts; bid
// reports whether it was this one.
func (s *session) bid(e *wireError) bool {
	if !s.farewell.CompareAndSwap(nil, e) {
		return false
	}
	// The parker checks farewell under its lock before it parks a
	// session (parker.park), so either take finds the session parked or
	// the session never parks and sees e at the top of its loop.
	if s.srv.park.take(s) {
		s.noticeDeadline()
		s.sayFarewell()
		_ = s.conn.Close()
		go s.run()
		return true
	}
	_ = s.conn.SetReadDeadline(time.Now())
	// A session blocked writing to a client that stopped reading would
	// otherwise keep its backend until the connection is closed.
	s.noticeDeadline()
	s.abandonLending()
	time.AfterFunc(abandonGrace, func() { _ = s.conn.Close() })
	return true
}

// sayFarewell writes the FATAL another goroutine left (bid) and reports
// whether the session ends for it.
func (s *session) sayFarewell() bool {
	e := s.farewell.Load()
	if e == nil {
		return false
	}
	if !s.saidFarewell {
		s.saidFarewell = true
		s.fatal(e)
	}
	return true
}

// cleanup returns the backend after the client left. A transaction still
// open, or work still in flight, is cancelled and rolled back first; a
// backend that does not come back clean in time is closed.
func (s *session) cleanup() {
	s.srv.forget(s)
	s.srv.park.leave(s)
	s.clientGone = true
	bk := s.bk
	inFlight := len(s.expect) > 0
	if s.work != nil {
		s.work.replay.stop() // nobody to replay for; the forwarder reads the backend from here
	}
	if bk != nil {
		s.rollbackAbandoned(bk, inFlight)
	}
	s.fwdWG.Wait()
	_ = s.conn.Close()
}

func (s *session) rollbackAbandoned(bk *backend, inFlight bool) {
	if inFlight {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = bk.cancel(ctx, bk.lending.Load()) // the session still holds bk
		cancel()
	}
	s.outErr = net.ErrClosed // nobody is listening any more
	for i := range s.expect {
		s.expect[i].swallow = true
	}
	s.enqueue(expectation{kind: expectSync, swallow: true}, expectation{kind: expectQuery, swallow: true})
	s.unsynced = false
	// Nobody reads the backend once the session loop has ended: a
	// forwarder goroutine drains it, and is given up on after a while;
	// the lending and the client's output are the forwarder's until it
	// ends. On a raw socket the Sync and ROLLBACK are left for its first
	// read to send (fused.go), so the backend's buffers are the
	// forwarder's alone from then on; otherwise it drains while they are
	// written, so a server blocked sending results cannot block the
	// write.
	wire, _ := (&pgproto3.Sync{}).Encode(nil)
	wire, _ = (&pgproto3.Query{String: "ROLLBACK"}).Encode(wire)
	s.abandoned = bk
	s.fwdWG.Add(1)
	if bk.fused != nil {
		s.writeAbandoned(bk, wire)
		go s.forward(bk)
	} else {
		go s.forward(bk)
		s.writeAbandoned(bk, wire)
	}
	done := make(chan struct{})
	go func() { s.fwdWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		bk.broken.Store(true)
		_ = bk.conn.Close()
		<-done
	}
}

// writeAbandoned writes an abandoned lending's Sync and ROLLBACK to bk,
// unless the forwarder draining it handed it back already.
func (s *session) writeAbandoned(bk *backend, wire []byte) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.abandoned != bk {
		return
	}
	_, err := bk.wr.Write(wire)
	if err == nil {
		err = bk.flushToRead() // on a raw socket, written by the forwarder's first read
	}
	if err != nil {
		s.sendFailed(bk, err)
	}
}

// closeIfIdle ends the session with a shutdown notice when it holds no
// backend; a session in a transaction keeps going. One already told (the
// shutdown's pass comes again before its session ended) is left alone:
// only the first farewell counts (bid), so it is told and counted once.
func (s *session) closeIfIdle() {
	if s.held.Load() != nil || s.busy.Load() {
		return
	}
	if s.bid(fatalf(codeAdminShutdown, "pgmoat: server.shutdown: pgmoat is shutting down; reconnect shortly")) {
		s.srv.noteShutdownDisconnect(s)
	}
}

// noticeWait bounds the write of a disconnecting notice written from
// another goroutine than the session's (a parked session's farewell,
// written by whoever took it out of the parker's map), as refuse bounds
// a refusal.
const noticeWait = time.Second

// noticeDeadline bounds every write to the client before a notice of its
// disconnection written by another goroutine: a client that stopped
// reading would otherwise keep that goroutine (the shutdown's pass, or
// KILL) waiting for as long as it likes.
func (s *session) noticeDeadline() {
	_ = s.conn.SetWriteDeadline(time.Now().Add(noticeWait))
}

// closeConn closes the client connection from another goroutine than
// the session's, and resumes the session if it is parked, so that it
// sees the close and ends.
func (s *session) closeConn() {
	_ = s.conn.Close()
	s.srv.park.wake(s)
}

func verdictLabel(v policy.Verdict) string {
	if v.Allowed {
		return "allow"
	}
	return "deny"
}

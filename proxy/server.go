package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/pgmoat/pgmoat/policy"
)

// User is a proxy login and the identity its statements run as.
type User struct {
	// Password is plain text or a SCRAM-SHA-256 verifier.
	Password string
	Identity policy.Identity
}

// Config configures a Server. Zero values mean the defaults.
type Config struct {
	Engine *policy.Engine // required
	Pool   *Pool          // required
	Users  map[string]User
	// Auth is AuthSCRAM (default), AuthMD5 or AuthTrust (loopback only).
	Auth string
	// TLS, when set, answers SSLRequest with TLS; otherwise with 'N'.
	TLS *tls.Config
	// RequireTLS refuses, before any authentication, a client on TCP that
	// sends its startup packet without having negotiated TLS (FATAL
	// 28000, as PostgreSQL's hostssl-only pg_hba.conf refuses it). Unix
	// socket clients, whose traffic does not leave the host, and cancel
	// requests, which libpq sends unencrypted, are let through. It needs
	// TLS.
	RequireTLS bool
	// AuthSecret keys the SCRAM credentials shown for unknown user names
	// and the salts of plain-text passwords, so that they stay the same
	// across restarts (and across instances given the same secret), as
	// configured verifiers do. Empty: a random key per Server (decoyKey).
	AuthSecret string
	// RLSSetting carries the user id to row-level security; default
	// request.user_id.
	RLSSetting string
	// Database is the name clients connect to; default: the backend's.
	Database       string
	MaxClientConn  int           // default 10000
	StartupTimeout time.Duration // default 10s, for startup and authentication
	MaxMessageSize int           // default 16 MiB
	Logger         *slog.Logger  // default: discard
	// MaxStartups caps the connections that have not finished logging
	// in (TLS, startup packet, authentication) at once; one more is
	// refused with 53300 unless it is a cancel request (pastLimit),
	// so that half-open logins, each held for up to StartupTimeout,
	// cannot take every client slot. Default
	// DefaultMaxStartups(MaxClientConn).
	MaxStartups int
	// Admin configures the admin console (database "pgmoat").
	Admin AdminConfig
	// Metrics, when set, receives the proxy's Prometheus instruments.
	Metrics prometheus.Registerer
	// Tracer, when set, makes one span per lending of a backend (one
	// transaction, or one statement outside a transaction block).
	Tracer trace.Tracer
	// OnSlow, when set, hears of every statement that took at least its
	// profile's SlowThreshold. It is called on the session's hot path
	// with the session locked: it must return at once (hand the work to
	// another goroutine) and must not log SlowQuery.SQL as it is.
	OnSlow func(SlowQuery)
	// IdleTransactionTimeout ends a client's transaction when it holds a
	// backend with no statement running for longer (FATAL 25P03);
	// default DefaultIdleTransactionTimeout.
	IdleTransactionTimeout time.Duration
}

// Server accepts PostgreSQL clients. It owns its listeners, client
// connections and the cancel-key registry; the Pool is owned by the
// caller, who may share it with an Executor.
type Server struct {
	cfg    Config
	pool   *Pool
	engine *policy.Engine
	log    *slog.Logger
	// logins are the users who may log in now; Reconfigure swaps them.
	logins atomic.Pointer[logins]
	// decoy derives the SCRAM credentials shown for unknown users.
	decoy   *decoyKey
	clients atomic.Int64
	// startups counts the connections logging in now (MaxStartups);
	// startupsRefused those refused because it was full.
	startups        atomic.Int64
	startupsRefused atomic.Uint64
	// cancelOnly counts the connections past MaxClientConn or
	// MaxStartups read for a cancel request now (pastLimit), up to
	// MaxStartups.
	cancelOnly atomic.Int64

	mu        sync.Mutex
	listeners []net.Listener
	sessions  map[uint32]*session // by the pid of the client's cancel key
	conns     map[net.Conn]struct{}
	closing   bool
	wg        sync.WaitGroup
	denials   denialRing
	// zones are the server's spellings of startup TimeZones
	// (clientsetstartup.go).
	zones zoneSpellings

	admin       AdminConfig
	statements  atomic.Int64
	denialCount atomic.Int64
	metrics     *metrics
	// events writes the rate-limited records of startup timeouts,
	// shutdown disconnects and accept errors, which the counters count.
	events              *eventLog
	startupTimeouts     atomic.Uint64
	shutdownDisconnects atomic.Uint64
	acceptErrors        atomic.Uint64 // failed Accepts of every listener
	// writers lends client output buffers to sessions while they write;
	// readers lends input buffers, decoded messages and response queues
	// to sessions while they have something in flight (clientReader).
	writers sync.Pool
	readers *readPools
	// shared holds the settings sessions of one identity and startup
	// parameters have in common (shared.go).
	shared settingsCache
	// sweep runs sweepIdle; started by the first Serve, under mu.
	sweep *time.Timer
	// park owns the sessions parked without a goroutine (park.go).
	park *parker
}

type credentialsFor struct {
	creds credentials
	id    policy.Identity
	role  string // admin-console users only
}

// logins is one consistent set of who may log in, and the profile names
// SHOW POLICY lists. Never written after it is published.
type logins struct {
	users    map[string]credentialsFor
	admins   map[string]credentialsFor
	profiles []string
	// decoyIters and adminDecoyIters are the SCRAM iteration counts
	// shown for unknown users at the proxy's door and at the console's:
	// the one most of that door's logins carry.
	decoyIters, adminDecoyIters int
}

// Reconfig is what Reconfigure changes on a running server.
type Reconfig struct {
	Users  map[string]User
	Admins map[string]AdminUser
	// Profiles lists the profile names SHOW POLICY describes.
	Profiles []string
}

// NewServer checks the configuration and prepares the users' credentials.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Engine == nil || cfg.Pool == nil {
		return nil, errors.New("proxy: Config.Engine and Config.Pool are required")
	}
	if cfg.RequireTLS && cfg.TLS == nil {
		return nil, errors.New("proxy: Config.RequireTLS needs Config.TLS")
	}
	if cfg.Auth == "" {
		cfg.Auth = AuthSCRAM
	}
	if cfg.RLSSetting == "" {
		cfg.RLSSetting = policy.DefaultRLSSetting
	}
	if cfg.Database == "" {
		cfg.Database = cfg.Pool.connCfg.Database
	}
	if cfg.MaxClientConn == 0 {
		cfg.MaxClientConn = 10000
	}
	if cfg.MaxStartups <= 0 {
		cfg.MaxStartups = DefaultMaxStartups(cfg.MaxClientConn)
	}
	if cfg.StartupTimeout == 0 {
		cfg.StartupTimeout = 10 * time.Second
	}
	if cfg.MaxMessageSize == 0 {
		cfg.MaxMessageSize = 16 << 20
	}
	if cfg.IdleTransactionTimeout <= 0 {
		cfg.IdleTransactionTimeout = DefaultIdleTransactionTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg: cfg, pool: cfg.Pool, engine: cfg.Engine, log: cfg.Logger,
		sessions: map[uint32]*session{},
		conns:    map[net.Conn]struct{}{},
		events:   newEventLog(cfg.Logger),
		decoy:    newDecoyKey(cfg.AuthSecret),
	}
	if err := s.Reconfigure(Reconfig{Users: cfg.Users, Admins: cfg.Admin.Users, Profiles: cfg.Admin.Profiles}); err != nil {
		return nil, err
	}
	s.writers.New = func() any { return bufio.NewWriterSize(nil, clientWriteBuffer) }
	s.readers = newReadPools()
	s.park = newParker(s)
	s.metrics = newMetrics(cfg.Metrics, s)
	s.admin = cfg.Admin
	s.warnRandomDecoys()
	return s, nil
}

// warnRandomDecoys says once, at start, that the decoys will change at
// the next restart while a configured verifier's salt will not, which
// tells a stranger who compares the two which names exist.
func (s *Server) warnRandomDecoys() {
	if s.cfg.AuthSecret != "" || s.cfg.Auth != AuthSCRAM {
		return
	}
	l := s.logins.Load()
	for _, set := range []map[string]credentialsFor{l.users, l.admins} {
		for _, c := range set {
			if c.creds.password == "" {
				s.log.Warn("proxy: unknown user names get new SCRAM salts at every restart while configured verifiers keep theirs, " +
					"so comparing salts across a restart tells which names exist; set proxy.auth_secret (32 or more characters, " +
					"the same on every instance) to keep them")
				return
			}
		}
	}
}

// Reconfigure replaces who may log in (proxy and admin-console users) and
// the profiles SHOW POLICY lists, all at once. Every password is checked
// first: on error nothing changes. Logins in progress finish against the
// set they started with; connected clients keep their identity; a user
// no longer listed cannot log in afterwards; an open admin console takes
// its user's new role (or its removal) at its next command.
func (s *Server) Reconfigure(r Reconfig) error {
	old := s.logins.Load()
	if old == nil {
		old = &logins{}
	}
	next := &logins{users: map[string]credentialsFor{}, admins: map[string]credentialsFor{},
		profiles: append([]string(nil), r.Profiles...)}
	userIters, adminIters := verifierIters(r.Users, func(u User) string { return u.Password }),
		verifierIters(r.Admins, func(u AdminUser) string { return u.Password })
	for name, u := range r.Users {
		c, err := reuseCredentials(old.users[name].creds, u.Password, s.decoy.salt(doorProxy, name, u.Password), userIters)
		if err != nil {
			return fmt.Errorf("user %s: %w", name, err)
		}
		next.users[name] = credentialsFor{creds: c, id: u.Identity}
	}
	for name, u := range r.Admins {
		c, err := reuseCredentials(old.admins[name].creds, u.Password, s.decoy.salt(doorAdmin, name, u.Password), adminIters)
		if err != nil {
			return fmt.Errorf("admin user %s: %w", name, err)
		}
		role := u.Role
		if role == "" {
			role = AdminRoleAdmin
		}
		next.admins[name] = credentialsFor{creds: c, role: role}
	}
	next.decoyIters = commonIters(next.users)
	next.adminDecoyIters = commonIters(next.admins)
	s.logins.Store(next)
	return nil
}

// commonIters is the SCRAM iteration count most of the given logins'
// credentials carry (the smaller one of a tie), decoyIters when there
// are none.
func commonIters(sets ...map[string]credentialsFor) int {
	count := map[int]int{}
	for _, set := range sets {
		for _, c := range set {
			count[c.creds.scram.Iters]++
		}
	}
	return mostCommon(count)
}

// verifierIters is the iteration count most of the SCRAM verifiers
// among logins' passwords carry (the smaller one of a tie), decoyIters
// when there are none: the count plain-text passwords' keys are derived
// with, so that a plain-text user announces what the door's verifiers
// and made-up names do (with PostgreSQL's 4096 beside verifiers of
// another count, it stood out as a real user).
func verifierIters[U any](logins map[string]U, password func(U) string) int {
	count := map[int]int{}
	for _, u := range logins {
		if pw := password(u); strings.HasPrefix(pw, "SCRAM-SHA-256$") {
			if sc, err := parseSCRAMVerifier(pw); err == nil {
				count[sc.Iters]++
			}
		}
	}
	return mostCommon(count)
}

// mostCommon is the key of count with the largest value (the smaller
// key of a tie), decoyIters when count is empty.
func mostCommon(count map[int]int) int {
	best, n := decoyIters, 0
	for iters, k := range count {
		if k > n || k == n && iters < best {
			best, n = iters, k
		}
	}
	return best
}

// reuseCredentials keeps what was derived from an unchanged plain-text
// password: deriving SCRAM keys costs thousands of hash rounds per user.
// A changed one, or one whose door's verifiers now carry another
// iteration count, is derived with salt and iters rounds.
func reuseCredentials(old credentials, password string, salt []byte, iters int) (credentials, error) {
	if old.password != "" && old.password == password && old.scram.Iters == iters {
		return old, nil
	}
	return newCredentials(password, salt, iters)
}

// user looks up a proxy login.
func (s *Server) user(name string) (credentialsFor, bool) {
	c, ok := s.logins.Load().users[name]
	return c, ok
}

// adminUser looks up an admin-console login.
func (s *Server) adminUser(name string) (credentialsFor, bool) {
	c, ok := s.logins.Load().admins[name]
	return c, ok
}

// Serve accepts clients on l until Close or Shutdown. A temporary
// Accept error (out of file descriptors, above all) does not end it: l is
// wrapped in a back-off listener (NewBackoffListener), which waits, 5 ms
// doubling to 1 s, and tries again, so that a flood of connections delays
// new clients instead of stopping the server.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return net.ErrClosed
	}
	l = NewBackoffListener(l, AcceptOptions{
		Logger: s.log, RecoveredMsg: "proxy: accepting clients again",
		Failed: func() { s.acceptErrors.Add(1) }, // pgmoat_proxy_accept_errors_total
	})
	s.listeners = append(s.listeners, l)
	s.startSweep()
	s.park.start()
	s.mu.Unlock()
	for {
		conn, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return nil
			}
			return err
		}
		if !s.track(conn) {
			_ = conn.Close()
			continue
		}
		s.wg.Add(1)
		go s.handle(conn)
	}
}

func (s *Server) track(conn net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[conn] = struct{}{}
	return true
}

func (s *Server) untrack(conn net.Conn) {
	s.mu.Lock()
	delete(s.conns, conn)
	s.mu.Unlock()
}

func (s *Server) handle(conn net.Conn) {
	handedOver := false
	defer func() {
		if !handedOver {
			s.finish(conn)
		}
	}()
	n := s.clients.Add(1)
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	if n > int64(s.cfg.MaxClientConn) {
		s.pastLimit(conn, s.refuseClients)
		return
	}
	free, ok := s.takeStartup()
	if !ok {
		s.pastLimit(conn, s.refuseStartup)
		return
	}
	sess, admin, err := s.startup(conn, free)
	free()
	if err != nil {
		s.noteStartupFailure(conn, err)
		_ = conn.Close()
		return
	}
	if admin != nil {
		admin.serve()
		return
	}
	if sess == nil {
		return // a cancel request, already handled
	}
	// The session runs on a fresh goroutine: authentication and TLS grew
	// this one's stack, and an idle client should not keep that memory.
	// Only now does the parker's scan look at it: a session whose login
	// failed after it was made (the client reset the connection before
	// the last startup message) never runs, and must not stay listed.
	handedOver = true
	s.park.join(sess)
	go sess.run()
}

// DefaultMaxStartups is the cap on connections logging in at once for a
// server of maxClientConn clients: a tenth of them, at least 100 (a
// burst of reconnects after a restart should not meet it), at most
// maxClientConn.
func DefaultMaxStartups(maxClientConn int) int {
	return min(maxClientConn, max(100, maxClientConn/10))
}

// takeStartup takes one of the MaxStartups places of connections that
// are logging in; false when every one is taken. free gives it back and
// may be called again to no effect; it belongs to the goroutine serving
// the login, which calls it when the login ends, whichever way. A login
// that succeeds frees its place before the client is told (open): a
// client that has read its ReadyForQuery and dials again, or lets
// another in, must not find its own finished login still counted, which
// under load could keep the place a while after the client moved on and
// refuse the next login with 53300 for nothing.
func (s *Server) takeStartup() (free func(), ok bool) {
	if !takeBelow(&s.startups, int64(s.cfg.MaxStartups)) {
		return nil, false
	}
	held := true
	return func() {
		if held {
			held = false
			s.startups.Add(-1)
		}
	}, true
}

// takeBelow adds one to n unless n has reached limit. It compares and
// swaps rather than adding and undoing, so a newcomer refused while the
// places are full never counts for the instant in which another's
// place is given back and a third would have taken it.
func takeBelow(n *atomic.Int64, limit int64) bool {
	for {
		v := n.Load()
		if v >= limit {
			return false
		}
		if n.CompareAndSwap(v, v+1) {
			return true
		}
	}
}

// pastLimit serves a connection that found every client place
// (MaxClientConn) or every startup place (MaxStartups) taken. A client
// logged in before must still be able to stop its own statement while
// the limit is full, whether by logged-in clients or by a flood of
// half-open logins, so up to MaxStartups such connections (cancelOnly)
// are read for one cancel request within cancelGrace, as PostgreSQL
// reads a cancel request past its connection limit; anything else, and
// every connection past those, is turned away by refuse with 53300. A
// cancel over TLS needs a startup place.
func (s *Server) pastLimit(conn net.Conn, refuse func(net.Conn)) {
	if !takeBelow(&s.cancelOnly, int64(s.cfg.MaxStartups)) {
		refuse(conn)
		return
	}
	defer s.cancelOnly.Add(-1)
	_ = conn.SetDeadline(time.Now().Add(min(cancelGrace, s.cfg.StartupTimeout)))
	if pid, secret, ok := readCancel(conn); ok {
		s.cancel(pid, secret)
		_ = conn.Close()
		return
	}
	refuse(conn)
}

// cancelGrace bounds the wait for a cancel request past the startup
// places: libpq and pgx send it at once after connecting, and a
// connection that holds a place of cancelOnly for longer is refused.
const cancelGrace = time.Second

// readCancel reads one startup packet from r and, if it is a cancel
// request (protocol 3.0's 4-byte key or 3.2's longer ones), returns its
// key. Any other packet of a startup packet's size is read to its end,
// so that the refusal written next is not lost to a reset for unread
// data.
func readCancel(r io.Reader) (pid uint32, secret []byte, ok bool) {
	const code = 80877102 // PostgreSQL's CANCEL_REQUEST_CODE
	var b [12 + 256]byte
	if _, err := io.ReadFull(r, b[:8]); err != nil {
		return 0, nil, false
	}
	n := int(binary.BigEndian.Uint32(b[:4]))
	if binary.BigEndian.Uint32(b[4:8]) != code || n < 16 || n > len(b) {
		if n > 8 && n <= 10000 { // pgproto3's bound on a startup packet
			_, _ = io.CopyN(io.Discard, r, int64(n-8))
		}
		return 0, nil, false
	}
	if _, err := io.ReadFull(r, b[8:n]); err != nil {
		return 0, nil, false
	}
	return binary.BigEndian.Uint32(b[8:12]), b[12:n], true
}

// refuseClients turns away a connection that found every client place
// taken, as PostgreSQL's "too many clients already".
func (s *Server) refuseClients(conn net.Conn) {
	s.refuse(conn, fatalf(codeTooManyConns, fmt.Sprintf("pgmoat: proxy.max_client_conn: too many clients (limit %d)", s.cfg.MaxClientConn)))
}

// refuseStartup turns away a connection that found every startup place
// taken: a flood of half-open logins costs each newcomer one write (and
// at most cancelGrace of reading), and the clients already logged in
// nothing.
func (s *Server) refuseStartup(conn net.Conn) {
	s.events.log("startups full", "client_addr", conn.RemoteAddr().String(), "limit", s.cfg.MaxStartups)
	// Counted before the client is told, so that whoever heard the
	// refusal finds it counted.
	s.startupsRefused.Add(1)
	s.refuse(conn, fatalf(codeTooManyConns, fmt.Sprintf(
		"pgmoat: proxy.max_startups: too many connections logging in at once (limit %d); try again", s.cfg.MaxStartups)))
}

// finish is the bookkeeping at the end of one client connection.
func (s *Server) finish(conn net.Conn) {
	s.untrack(conn)
	s.clients.Add(-1)
	s.wg.Done()
}

// refuse writes one error to a connection that never got a session and
// closes it. The error is counted by SQLSTATE with the sessions' own:
// after a restart most of what clients see is these FATALs (08006 from
// a backend that could not be reached at startup), and the counter must
// say so.
func (s *Server) refuse(conn net.Conn, e *wireError) {
	s.metrics.clientError(e.code)
	_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
	buf, _ := e.response().Encode(nil)
	_, _ = conn.Write(buf)
	_ = conn.Close()
}

// newSession registers a session under a fresh cancel key.
// The startup exchange's pgproto3.Backend is left behind: the session
// reads through a clientReader, which holds a buffer only while a message
// is in flight.
func (s *Server) newSession(conn net.Conn, user string, id policy.Identity, client map[string]string, keyLen int) *session {
	sess := &session{
		srv:     s,
		conn:    conn,
		in:      newClientReader(conn, s.readers, s.cfg.MaxMessageSize),
		user:    user,
		id:      id,
		started: time.Now(),
	}
	if sess.in.raw != nil && s.park.enabled() {
		sess.in.ticks, sess.in.deadline = &s.park.ticks, conn
	}
	sess.set = &sessionSettings{client: client} // built by refreshSettings
	sess.refreshSettings()
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		k := newCancelKey(keyLen)
		if _, taken := s.sessions[k.pid]; !taken {
			sess.key = k
			s.sessions[k.pid] = sess
			return sess
		}
	}
}

func (s *Server) forget(sess *session) {
	s.mu.Lock()
	if s.sessions[sess.key.pid] == sess {
		delete(s.sessions, sess.key.pid)
	}
	s.mu.Unlock()
}

// lend borrows a backend for id with the session's settings set in
// force; one that proves dead while they are applied is replaced
// (Pool.lend). set carries what the pool keys on (the settings' key,
// the identity's), built once rather than per transaction.
//
// A client's messages reach the backend as it sends them: one that
// pipelines past what the server reads while it is blocked sending
// results the client does not read would block pgmoat's write for ever,
// so each write is bounded by the idle-transaction timeout (stallWriter)
// until the session hands the backend back.
//
// A token on stop (nil: none) ends a wait for a backend with
// errWaitCanceled: the client cancelled the statement it was for.
func (s *Server) lend(ctx context.Context, id policy.Identity, set *sessionSettings, stop <-chan struct{}) (*backend, error) {
	// The session replays a first batch a dead backend never answered
	// (replay.go).
	return s.lendFor(ctx, id, set, true, stop)
}

// lendFor is lend for a borrower that replays its first batch or, when
// replays is false, for one that sends its own round trip and needs the
// backend checked alive first.
func (s *Server) lendFor(ctx context.Context, id policy.Identity, set *sessionSettings, replays bool, stop <-chan struct{}) (*backend, error) {
	want, key, local := set.settings, set.key, set.local
	br := borrower{key: key, who: set.who, id: id, replays: replays, stop: stop}
	bk, err := s.pool.lend(ctx, br, func(bk *backend) error {
		if !s.pool.cfg.BehindPooler && (bk.appliedKey != key || bk.lastID != id) {
			s.metrics.injection()
		}
		return s.pool.prepareLending(ctx, bk, id, want, key, local)
	})
	if err == nil {
		bk.writeLimit = s.cfg.IdleTransactionTimeout
	}
	return bk, err
}

func (s *Server) decide(id policy.Identity, sql string) policy.Verdict {
	s.statements.Add(1)
	return s.engine.Decide(id, sql)
}

// decideQuery judges the text of a simple-protocol Query. Its constants
// are written into the text, so it goes through the policy's shape cache,
// which answers a text differing from judged ones only in constants the
// verdict does not depend on without parsing it (policy.DecideQuery).
func (s *Server) decideQuery(id policy.Identity, sql string) policy.Verdict {
	s.statements.Add(1)
	return s.engine.DecideQuery(id, sql)
}

// Clients is the number of client connections open now.
func (s *Server) Clients() int { return int(s.clients.Load()) }

// Shutdown stops accepting, waits for clients to leave until ctx ends,
// then disconnects the rest. The pool is left to its owner.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.stopSweep()
	s.park.stopScan()
	for _, l := range s.listeners {
		_ = l.Close()
	}
	s.mu.Unlock()
	idle := make(chan struct{})
	go func() { s.wg.Wait(); close(idle) }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for done := false; !done; {
		s.closeIdleSessions()
		select {
		case <-idle:
			s.park.close()
			return nil
		case <-ctx.Done():
			done = true
		case <-tick.C:
		}
	}
	s.mu.Lock()
	// Forced are the connections this close ends of clients nobody told:
	// one its session closed already fails a second close (and was left
	// on its own), and one whose session the graceful pass left a
	// farewell was counted then, though it may still be open (its
	// session waits for a backend, or has not written the farewell yet).
	left := make([]*session, 0, len(s.sessions))
	told := map[net.Conn]bool{}
	for _, sess := range s.sessions {
		left = append(left, sess)
		if sess.farewell.Load() != nil {
			told[acceptedConn(sess.conn)] = true
		}
	}
	forced := 0
	for c := range s.conns {
		if c.Close() == nil && !told[c] {
			forced++
		}
	}
	s.mu.Unlock()
	for _, sess := range left {
		s.park.wake(sess)     // a parked one sees the close once it runs again
		sess.abandonLending() // one waiting on its backend does not see the close
	}
	if forced > 0 {
		s.shutdownDisconnects.Add(uint64(forced))
		s.events.log("shutdown disconnect", "clients", forced, "forced", true)
	}
	<-idle
	s.park.close()
	return ctx.Err()
}

// acceptedConn is the connection Serve accepted under c (a TLS
// session's conn wraps it).
func acceptedConn(c net.Conn) net.Conn {
	if tc, ok := c.(*tls.Conn); ok {
		return tc.NetConn()
	}
	return c
}

// noteStartupFailure records a client that did not finish its startup
// and authentication within the startup timeout.
func (s *Server) noteStartupFailure(conn net.Conn, err error) {
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		return
	}
	s.startupTimeouts.Add(1)
	s.events.log("startup timeout", "client_addr", conn.RemoteAddr().String(), "timeout_ms", s.cfg.StartupTimeout.Milliseconds())
}

// noteShutdownDisconnect records a client disconnected between its
// transactions because pgmoat is shutting down.
func (s *Server) noteShutdownDisconnect(sess *session) {
	s.shutdownDisconnects.Add(1)
	s.events.log("shutdown disconnect", "user", sess.user, "user_id", sess.id.UserID,
		"client_addr", sess.conn.RemoteAddr().String(), "forced", false)
}

// closeIdleSessions disconnects clients between transactions; those in
// one are left to finish it.
func (s *Server) closeIdleSessions() {
	s.mu.Lock()
	sessions := make([]*session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	for _, sess := range sessions {
		sess.closeIfIdle()
	}
}

// Close disconnects everyone at once. Safe to call more than once.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Shutdown(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// clientWriteBuffer sizes each client's output buffer. Small, because an
// idle client costs this much: rows larger than it are written straight
// through, and the buffer is flushed whenever the backend has nothing
// more buffered.
const clientWriteBuffer = 4 << 10

// startTxSpan opens the span of one lending; nil when tracing is off.
func (s *Server) startTxSpan(sess *session, bk *backend) trace.Span {
	if s.cfg.Tracer == nil {
		return nil
	}
	_, span := s.cfg.Tracer.Start(context.Background(), "pgmoat transaction", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("db.user", sess.user), attribute.String("pgmoat.user_id", sess.id.UserID),
			attribute.Int("pgmoat.backend_pid", int(bk.pid))))
	return span
}
